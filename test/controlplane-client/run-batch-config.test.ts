/** run-batch through a control plane: a task's image reaches the backend config the service starts. */
import { describe, expect, it } from "vitest";
import { deploymentConfigFor } from "../../src/rollout/batch/run-batch.js";
import type { SweTask } from "../../src/rollout/tasks/task.js";

const task = (image?: string) => ({ instance_id: "t1", ...(image ? { image } : {}) }) as unknown as SweTask;

describe("deploymentConfigFor with type controlplane", () => {
  it("puts the task's image into the backend deployment (named container type, or the service's default)", () => {
    const base = {
      type: "controlplane",
      url: "http://h:8080",
      deployment: { type: "docker", memory_limit: "2g" },
    };
    expect(deploymentConfigFor(base, task("sweb.eval.x86_64.astropy:latest"))).toEqual({
      type: "controlplane",
      url: "http://h:8080",
      deployment: { type: "docker", memory_limit: "2g", image: "sweb.eval.x86_64.astropy:latest" },
    });
    expect(deploymentConfigFor({ type: "controlplane" }, task("img:1"))).toEqual({
      type: "controlplane",
      deployment: { image: "img:1" },
    });
  });

  it("leaves a backend without images, and tasks without an image, as they are", () => {
    const local = { type: "controlplane", deployment: { type: "local" } };
    expect(deploymentConfigFor(local, task("img:1"))).toEqual(local);
    expect(deploymentConfigFor({ type: "controlplane" }, task())).toEqual({ type: "controlplane" });
  });
});

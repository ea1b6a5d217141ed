/**
 * Helper process for the signal and reap tests: starts one DockerDeployment (image and labels from argv),
 * prints `STARTED <containerId>` and idles until it is signalled or killed.
 * Usage: node --import tsx test/docker/child-deployment.ts <image> <bundleDir> <label=value>
 */
import { DockerDeployment } from "../../src/deployment/docker/deployment.js";

const [image = "", runtimeMount = "", label = ""] = process.argv.slice(2);
const eq = label.indexOf("=");
const deployment = new DockerDeployment(
  {
    image,
    pull: "never",
    runtime_mount: runtimeMount,
    labels: { [label.slice(0, eq)]: label.slice(eq + 1) },
    startup_timeout: 120,
  },
  { onProgress: () => {} },
);
await deployment.start();
process.stdout.write(`STARTED ${deployment.containerId}\n`);
// Idle (a timer keeps the event loop alive) until a signal arrives; the registry's handler cleans up.
setInterval(() => {}, 60_000);

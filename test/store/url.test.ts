/** `--database` URLs: which store they name, and that no password ever reaches a message. */
import { describe, expect, it } from "vitest";
import { createStore, redactDatabaseUrl, StoreUrlError, sqlitePath } from "../../src/store/index.js";

describe("database URLs", () => {
  it("sqlite: URLs name a path (relative, absolute, triple-slash) or memory", () => {
    expect(sqlitePath("sqlite:data/swerex.db")).toBe("data/swerex.db");
    expect(sqlitePath("sqlite:/var/lib/swerex/swerex.db")).toBe("/var/lib/swerex/swerex.db");
    expect(sqlitePath("sqlite:///var/lib/swerex/swerex.db")).toBe("/var/lib/swerex/swerex.db");
    expect(sqlitePath("sqlite::memory:")).toBe(":memory:");
    expect(sqlitePath("postgres://h/db")).toBeUndefined();
  });

  it("redacts passwords, also ones holding @ or /, and keeps the user and host", () => {
    expect(redactDatabaseUrl("postgres://swerex:s3cret@db:5432/swerex")).toBe(
      "postgres://swerex:***@db:5432/swerex",
    );
    expect(redactDatabaseUrl("postgresql://u:p@ss/w@rd@db/x?sslmode=require")).toBe(
      "postgresql://u:***@db/x?sslmode=require",
    );
    expect(redactDatabaseUrl("postgres://u@db/x")).toBe("postgres://u@db/x");
    expect(redactDatabaseUrl("postgres://db/x")).toBe("postgres://db/x");
    expect(redactDatabaseUrl("sqlite:/tmp/x.db")).toBe("sqlite:/tmp/x.db");
  });

  it("an unknown scheme or an empty sqlite path is a StoreUrlError without the password", async () => {
    await expect(createStore("sqlite:")).rejects.toBeInstanceOf(StoreUrlError);
    const err = await createStore("mysql://u:hunter2@db/x").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(StoreUrlError);
    expect(err?.message).toBe('database URL "mysql://u:***@db/x" is neither sqlite:PATH nor postgres://...');
    await expect(createStore("swerex.db")).rejects.toBeInstanceOf(StoreUrlError);
  });
});

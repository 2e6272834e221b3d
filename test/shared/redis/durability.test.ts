// The sender warns at start when Redis may forget what it acknowledged.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connectRedis } from "../../../shared/redis/connection.ts";
import { durabilityWarning } from "../../../shared/redis/durability.ts";
import { DURABLE_REDIS, startRedis, type ManagedServer } from "../../harness/servers.ts";

describe("Redis durability check", () => {
  const servers: ManagedServer[] = [];
  after(async () => {
    for (const s of servers) await s.dispose();
  });

  const warningFor = async (args: string[]) => {
    const server = await startRedis(() => args);
    servers.push(server);
    const redis = connectRedis(server.url);
    try {
      return await durabilityWarning(redis);
    } finally {
      redis.disconnect();
    }
  };

  it("is quiet for AOF with an fsync before every reply", async () => {
    assert.equal(await warningFor(DURABLE_REDIS), undefined);
  });

  it("warns about fsync once a second, and about no AOF at all", async () => {
    assert.match((await warningFor(["--appendfsync", "everysec"])) ?? "", /"everysec".*second send/);
    assert.match((await warningFor(["--appendonly", "no"])) ?? "", /without AOF/);
  });

  it("reminds when the server refuses CONFIG GET", async () => {
    assert.match((await warningFor(["--rename-command", "CONFIG", '""'])) ?? "", /could not read/);
  });
});

// Redis behind Sentinel, all real processes: a primary, a replica and three sentinels. The client
// follows a failover (redis+sentinel:// URL). With replica acks, a claim no replica confirmed fails
// (nothing is sent for it, and it is claimed afresh after the failover), while a confirmed claim
// and WhatsApp credentials written with replica acks are on the new primary: the account stays
// linked. What happens without replica acks (claims lost, second sends) is measured in
// test/chaos/redisFailover.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import {
  claimAuthFence,
  redisAuthState,
} from "../../../services/sender/transports/baileys/redisAuthState.ts";
import { connectRedis, sentinelsOf } from "../../../shared/redis/connection.ts";
import { IdempotencyRecords } from "../../../shared/redis/idempotency.ts";
import { ReplicationError } from "../../../shared/redis/replicaAcks.ts";
import { startRedisWithFailover, type RedisWithFailover } from "../../harness/redisSentinel.ts";

const ACKS = { replicas: 1, timeoutMs: 300 };

describe("Redis failover behind Sentinel", () => {
  let setup: RedisWithFailover;
  let redis: Redis;

  before(async () => {
    setup = await startRedisWithFailover();
    redis = connectRedis(setup.url);
  });
  after(async () => {
    redis?.disconnect();
    await setup?.dispose();
  });

  /** Holds the replica's event loop: it takes no replication stream meanwhile. */
  async function holdReplica(ms: number): Promise<void> {
    const primaryPort = await setup.primaryPort();
    const replica = connectRedis(primaryPort === setup.primary.port ? setup.replica.url : setup.primary.url);
    void replica.call("DEBUG", "SLEEP", String(ms / 1000)).finally(() => replica.disconnect());
    await new Promise((r) => setTimeout(r, 100));
  }

  /** Kills whichever server is primary now, and waits until the sentinels promote the other. */
  async function failOver(): Promise<void> {
    const port = await setup.primaryPort();
    const primary = port === setup.primary.port ? setup.primary : setup.replica;
    await primary.stop(true);
    await setup.failedOverFrom(port);
    // Credentials are read back, and claims made, with no replica left: nothing to wait for.
  }

  it("reads the sentinels from the URL, and refuses a malformed one", () => {
    assert.deepEqual(sentinelsOf("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/wa"), {
      sentinels: [
        { host: "10.0.0.1", port: 26379 },
        { host: "10.0.0.2", port: 26379 },
      ],
      name: "wa",
      password: "s3cret",
    });
    assert.equal(sentinelsOf("redis://127.0.0.1:6379"), undefined);
    assert.throws(() => sentinelsOf("redis+sentinel://10.0.0.1:26379"), /redis\+sentinel:\/\/host:port/);
  });

  it("with replica acks, a claim no replica holds fails (nothing is sent); acknowledged claims and credentials survive the failover", async () => {
    const records = new IdempotencyRecords(redis, "acks:", ACKS);
    const [held] = await records.claimAll("b1", [{ idx: 0, phone: "+12025550100", messageId: "m0" }], "a");
    assert.deepEqual(held, { kind: "claimed" }, "a claim the replica holds");
    assert.ok(await claimAuthFence(redis, "creds:", "s1", 1));
    const auth = await redisAuthState(redis, "creds:", "s1", 1, ACKS);
    const identity = JSON.stringify(auth.state.creds.signedIdentityKey);
    await auth.saveCreds();
    await auth.state.keys.set({
      "pre-key": { "7": { public: Buffer.from("pub"), private: Buffer.from("priv") } },
    });

    await holdReplica(3000);
    await assert.rejects(
      records.claimAll("b1", [{ idx: 1, phone: "+12025550101", messageId: "m1" }], "a"),
      ReplicationError,
    );
    await failOver();
    // No replica is left to wait for: the new primary is read as it is.
    const [kept, afresh] = await new IdempotencyRecords(redis, "acks:").claimAll(
      "b1",
      [
        { idx: 0, phone: "+12025550100", messageId: "m0" },
        { idx: 1, phone: "+12025550101", messageId: "m1" },
      ],
      "b",
    );
    assert.equal(kept?.kind, "in_flight", "the acknowledged claim survived the failover");
    assert.deepEqual(afresh, { kind: "claimed" }, "the refused one was released: nothing was sent for it");
    const reread = await redisAuthState(redis, "creds:", "s1", 1);
    assert.equal(JSON.stringify(reread.state.creds.signedIdentityKey), identity, "the same linked device");
    const keys = await reread.state.keys.get("pre-key", ["7"]);
    assert.equal(Buffer.from(keys["7"]?.public ?? []).toString(), "pub");
  });
});

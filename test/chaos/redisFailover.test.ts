// `make chaos`: Redis behind Sentinel loses its primary (SIGKILL) and a replica takes over.
// (1) Claims acknowledged before the kill, under load from several clients: how many the new
// primary no longer has, without replica acks (Redis' asynchronous replication) and with them
// (REDIS_REPLICA_ACKS=1: a claim counts once a replica holds it). (2) The platform sending a pool
// blast over three accounts from two senders with replica acks on, the primary killed mid-blast:
// nobody gets a message twice, every recipient settles, and how long sending stalled is reported.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectRedis } from "../../shared/redis/connection.ts";
import { IdempotencyRecords } from "../../shared/redis/idempotency.ts";
import type { ReplicaAckPolicy } from "../../shared/redis/replicaAcks.ts";
import { outbox } from "../harness/inspect.ts";
import { eventually, startPlatform, untilBlastCompleted } from "../harness/platform.ts";
import { startRedisWithFailover, type RedisWithFailover } from "../harness/redisSentinel.ts";
import { startNats } from "../harness/servers.ts";

const ROUNDS = 4;
const CLIENTS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kills whichever server is primary, waits for the promotion, and brings the old one back as a replica. */
async function failOver(setup: RedisWithFailover): Promise<number> {
  const port = await setup.primaryPort();
  const primary = port === setup.primary.port ? setup.primary : setup.replica;
  const killedAt = Date.now();
  await primary.stop(true);
  await setup.failedOverFrom(port);
  const promotedAfter = Date.now() - killedAt;
  await primary.start();
  return promotedAfter;
}

/**
 * One round on a fresh setup: clients claim through the sentinels; the replica is cut off (a
 * partition, as a lagging replica would be) for the last moments before the primary is killed.
 */
async function lostClaims(acks: ReplicaAckPolicy, round: number) {
  const setup = await startRedisWithFailover();
  const clients = Array.from({ length: CLIENTS }, () => connectRedis(setup.url));
  const acknowledged: number[] = [];
  let next = 0;
  let stopped = false;
  const loops = clients.map(async (redis) => {
    const records = new IdempotencyRecords(redis, "failover:", acks);
    while (!stopped) {
      const idx = next++;
      try {
        const [claim] = await records.claimAll(
          `r${round}`,
          [{ idx, phone: "+12025550100", messageId: `m${idx}` }],
          "c",
        );
        if (!stopped && claim?.kind === "claimed") acknowledged.push(idx);
      } catch {
        // Not acknowledged (no replica confirmed it in time): not counted.
      }
    }
  });
  try {
    await sleep(500 + Math.random() * 1000);
    setup.partitionReplica();
    await sleep(300);
    const killing = failOver(setup);
    await sleep(20);
    stopped = true;
    const promotedAfterMs = await killing;
    await Promise.all(loops);
    const check = new IdempotencyRecords(clients[0] ?? connectRedis(setup.url), "failover:");
    let lost = 0;
    for (const idx of acknowledged) {
      const [again] = await check.claimAll(
        `r${round}`,
        [{ idx, phone: "+12025550100", messageId: `m${idx}` }],
        "check",
      );
      if (again?.kind === "claimed") lost++;
    }
    return { acknowledged: acknowledged.length, lost, promotedAfterMs };
  } finally {
    for (const c of clients) c.disconnect();
    await setup.dispose();
  }
}

describe("Redis failover (Sentinel)", () => {
  it("claims a replica acknowledged survive the primary's death; without replica acks some may not", async () => {
    for (const replicas of [0, 1]) {
      const figures = [];
      for (let round = 0; round < ROUNDS; round++)
        figures.push(await lostClaims({ replicas, timeoutMs: 1000 }, round));
      console.log(`replica acks ${replicas}: ${JSON.stringify(figures)}`);
      if (replicas === 1)
        assert.deepEqual(
          figures.map((f) => f.lost),
          figures.map(() => 0),
        );
      else
        assert.ok(
          figures.some((f) => f.lost > 0),
          "without replica acks a partition loses claims",
        );
    }
  });

  it("a pool blast through a failover: no one messaged twice, every recipient settled", async () => {
    const nats = await startNats();
    const setup = await startRedisWithFailover();
    const pool = ["s1", "s2", "s3"];
    const platform = await startPlatform(
      { nats, redis: setup.primary, dispose: async () => undefined },
      {
        REDIS_URL: setup.url,
        REDIS_REPLICA_ACKS: "1",
        SESSION_IDS: pool.join(","),
        SIM_LATENCY_MS: "20",
        SEND_BATCH_MAX: "10",
        SEND_ACK_WAIT_MS: "3000",
        LEASE_TTL_MS: "3000",
      },
    );
    try {
      await platform.start("gateway");
      await platform.start("projector");
      await platform.start("sender", { SENDER_ID: "sender-a" });
      await platform.start("sender", { SENDER_ID: "sender-b" });
      const total = 3000;
      const recipients = Array.from({ length: total }, (_, i) => ({
        phone: `+1202555${String(i).padStart(4, "0")}`,
      }));
      const res = await platform.api("/api/blasts", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sessionIds: pool, message: "failover", recipients }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const { blastId } = (await res.json()) as { blastId: string };
      await eventually(
        async () => ((await outbox(platform.outboxPath)).length > total / 4 ? true : undefined),
        120_000,
      );
      const killedAt = Date.now();
      const promotedAfterMs = await failOver(setup);
      const done = await untilBlastCompleted(platform, blastId, 300_000);
      const lines = (await outbox(platform.outboxPath)).filter((l) => l.text === "failover");
      const times = lines.map((l) => Date.parse(l.at)).sort((a, b) => a - b);
      const before = times.filter((t) => t < killedAt).at(-1) ?? killedAt;
      const after = times.find((t) => t > killedAt) ?? killedAt;
      console.log(
        `failover mid-blast: promoted after ${promotedAfterMs} ms, sending stalled ${after - before} ms; ` +
          `sent ${done.sent}, failed ${done.failed}, in doubt ${done.inDoubt}`,
      );
      assert.equal(new Set(lines.map((l) => l.to)).size, lines.length, "no recipient messaged twice");
      assert.equal(done.sent + done.failed + done.inDoubt, total, "every recipient settled");
      assert.ok(lines.length >= done.sent, "every sent recipient is in the outbox");
    } finally {
      await platform.stop();
      await setup.dispose();
      await nats.dispose();
    }
  });
});

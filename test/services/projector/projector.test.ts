// The projector against real nats-server and redis-server: when Redis comes back without events it
// had already projected (restored from an older backup, or writes lost some other way), the
// counters (and the replies list) must end equal to the log, not short by the lost events.
import assert from "node:assert/strict";
import { cp, rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Redis } from "ioredis";
import pino from "pino";
import { Projector } from "../../../services/projector/projector.ts";
import { rebuildProjection } from "../../../services/projector/replay.ts";
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { connectNats, ensureStreams, type Nats } from "../../../shared/nats/connection.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { connectRedis } from "../../../shared/redis/connection.ts";
import { BlastProjection } from "../../../shared/redis/projection.ts";
import { dumpKeys } from "../../harness/inspect.ts";
import { eventually } from "../../harness/platform.ts";
import { DURABLE_REDIS, startServers, type Servers } from "../../harness/servers.ts";

const BLAST = "b-restore";
const TOTAL = 6;
const created: BlastEvent = {
  type: "blast.created",
  data: {
    blastId: BLAST,
    sessionId: "s1",
    template: "hi",
    total: TOTAL,
    rejected: 0,
    duplicates: 0,
    createdAt: "2026-11-25T00:00:00.000Z",
  },
};
const sent = (idx: number): BlastEvent => ({
  type: "recipient.sent",
  data: {
    blastId: BLAST,
    idx,
    phone: `+1202555010${idx}`,
    messageId: `m${idx}`,
    at: "2026-11-25T00:00:01.000Z",
  },
});

const replied = (idx: number, text: string, at: string): BlastEvent => ({
  type: "recipient.replied",
  data: {
    blastId: BLAST,
    idx,
    phone: `+1202555010${idx}`,
    sessionId: "s1",
    messageId: `in${idx}`,
    text,
    at,
  },
});

describe("projector", () => {
  let servers: Servers;
  let nats: Nats;
  let redis: Redis;
  let projection: BlastProjection;
  let projector: Projector;

  beforeEach(async () => {
    servers = await startServers({ redisArgs: DURABLE_REDIS });
    nats = await connectNats(servers.nats.url, "projector-test");
    await ensureStreams(nats.jsm);
    redis = connectRedis(servers.redis.url);
    projection = new BlastProjection(redis, "wa:");
    projector = new Projector(nats, projection, pino({ level: "silent" }), 10);
    await projector.start();
  });

  afterEach(async () => {
    await projector?.stop();
    await nats?.nc.close();
    redis?.disconnect();
    await servers?.dispose();
  });

  const untilSent = (n: number) =>
    eventually(
      async () => ((await projection.summary(BLAST))?.sent === n ? true : undefined),
      20_000,
      `sent=${n}`,
    );

  /** Live counters equal a fresh replay of the log, key for key. */
  async function assertEqualsReplay(): Promise<void> {
    await rebuildProjection(nats, redis, "replay:");
    assert.deepEqual(await dumpKeys(redis, "wa:proj:"), await dumpKeys(redis, "replay:proj:"));
  }

  it("reads the log again when Redis restarts from an older backup", async () => {
    await appendEvents(nats.js, [created, sent(0), sent(1)]);
    await untilSent(2);
    const backup = `${servers.redis.dataDir}-backup`;
    await servers.redis.stop();
    await cp(servers.redis.dataDir, backup, { recursive: true });
    await servers.redis.start();

    await appendEvents(nats.js, [sent(2), sent(3), replied(2, "yes", "2026-11-25T00:00:02.000Z")]);
    await untilSent(4);
    await servers.redis.stop();
    await rm(servers.redis.dataDir, { recursive: true, force: true });
    await cp(backup, servers.redis.dataDir, { recursive: true });
    await rm(backup, { recursive: true, force: true });
    await servers.redis.start();

    // No new event arrives: the reconnect alone brings the two lost sends back.
    await untilSent(4);
    await appendEvents(nats.js, [sent(4), sent(5)]);
    await eventually(async () =>
      (await projection.summary(BLAST))?.status === "completed" ? true : undefined,
    );
    // The reply lost with the restore is back, once, and one after completion counts too.
    await appendEvents(nats.js, [replied(4, "late", "2026-11-25T01:00:00.000Z")]);
    await eventually(async () => ((await projection.summary(BLAST))?.replied === 2 ? true : undefined));
    assert.deepEqual(
      (await projection.replies(BLAST, 0, 10)).items.map((r) => [r.idx, r.text]),
      [
        [4, "late"],
        [2, "yes"],
      ],
    );
    await assertEqualsReplay();
  });

  it("reads the log again when Redis lost writes without a reconnect", async () => {
    await appendEvents(nats.js, [created, sent(0), sent(1)]);
    await untilSent(2);
    const keys = await redis.keys("wa:proj:*");
    const snapshot = await Promise.all(keys.map(async (k) => [k, await redis.dumpBuffer(k)] as const));

    await appendEvents(nats.js, [sent(2), sent(3)]);
    await untilSent(4);
    // Put the projection back as it was after two sends, on the same connection.
    for (const [key, value] of snapshot) if (value) await redis.restore(key, 0, value, "REPLACE");
    assert.equal((await projection.summary(BLAST))?.sent, 2);

    await appendEvents(nats.js, [sent(4)]);
    await untilSent(5);
    await appendEvents(nats.js, [sent(5)]);
    await eventually(async () =>
      (await projection.summary(BLAST))?.status === "completed" ? true : undefined,
    );
    await assertEqualsReplay();
  });
});

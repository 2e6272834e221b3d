// `make chaos`: does redis-server keep the idempotency claims it acknowledged when it is SIGKILLed
// mid-load? Measured for the setting wa-blast runs (appendfsync always) and, for comparison, for
// Redis' default AOF setting (everysec), whose losses are what makes "always" necessary.
import assert from "node:assert/strict";
import { mkdir, open, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { IdempotencyRecords } from "../../shared/redis/idempotency.ts";
import { startRedis } from "../harness/servers.ts";

const ROUNDS = 20;
const CLIENTS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RoundFigure {
  acknowledged: number;
  lost: number;
}

/** Claims recipients from several clients until the server dies; returns what was acknowledged. */
async function claimUntilKilled(port: number, kill: () => Promise<void>, round: number): Promise<number[]> {
  // No retries: a command cut off by the kill fails instead of waiting for the restart.
  const clients = Array.from(
    { length: CLIENTS },
    () => new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => null }),
  );
  for (const c of clients) c.on("error", () => undefined);
  const acknowledged: number[] = [];
  let next = 0;
  let stopped = false;
  const loops = clients.map(async (redis) => {
    const records = new IdempotencyRecords(redis, "durability:");
    while (!stopped) {
      const idx = next++;
      try {
        const claim = await records.claim(`round${round}`, idx, "chaos");
        if (!stopped && claim.kind === "claimed") acknowledged.push(idx);
      } catch {
        return;
      }
    }
  });
  // Other traffic (projection, credentials) keeps the disk busy, as in a real install.
  const bulk = new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  bulk.on("error", () => undefined);
  const bulkLoop = (async () => {
    for (let i = 0; !stopped; i++)
      await bulk.set(`durability:bulk:${i % 1000}`, "x".repeat(4096)).catch(() => undefined);
  })();
  await sleep(300 + Math.random() * 1500);
  stopped = true;
  await kill();
  await Promise.all([...loops, bulkLoop]);
  for (const c of [...clients, bulk]) c.disconnect();
  return acknowledged;
}

/**
 * Another writer on the same disk, so fsyncs take as long as they do on a busy machine: on an idle
 * disk they finish before Redis needs to postpone a write, and "everysec" rarely shows its losses.
 */
function busyDisk(dir: string): () => Promise<void> {
  let stopped = false;
  const file = join(dir, "disk-load");
  const chunk = Buffer.alloc(8 * 1024 * 1024, 1);
  const loop = (async () => {
    while (!stopped) {
      const handle = await open(file, "w");
      for (let i = 0; i < 16 && !stopped; i++) await handle.write(chunk);
      await handle.sync();
      await handle.close();
    }
    await rm(file, { force: true });
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function measure(appendfsync: "always" | "everysec"): Promise<RoundFigure[]> {
  const server = await startRedis(() => ["--appendfsync", appendfsync]);
  const figures: RoundFigure[] = [];
  const stopDiskLoad = busyDisk(server.dataDir);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const acknowledged = await claimUntilKilled(server.port, () => server.stop(true), round);
      await server.start();
      const redis = new Redis({ port: server.port });
      const kept = new Set(await redis.hkeys(`durability:idem:round${round}`));
      redis.disconnect();
      figures.push({
        acknowledged: acknowledged.length,
        lost: acknowledged.filter((i) => !kept.has(String(i))).length,
      });
    }
  } finally {
    await stopDiskLoad();
    await server.dispose();
  }
  return figures;
}

describe("Redis keeps acknowledged idempotency claims through SIGKILL", () => {
  it(`loses none with appendfsync always over ${ROUNDS} kills under load`, async () => {
    const always = await measure("always");
    const everysec = await measure("everysec");
    const sum = (f: RoundFigure[], k: keyof RoundFigure) => f.reduce((n, r) => n + r[k], 0);
    const figures = {
      date: new Date().toISOString(),
      rounds: ROUNDS,
      clients: CLIENTS,
      always: { acknowledged: sum(always, "acknowledged"), lost: sum(always, "lost"), rounds: always },
      everysec: {
        acknowledged: sum(everysec, "acknowledged"),
        lost: sum(everysec, "lost"),
        roundsLosing: everysec.filter((r) => r.lost > 0).length,
      },
    };
    await mkdir("test-artifacts", { recursive: true });
    await writeFile("test-artifacts/redis-durability.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(JSON.stringify({ ...figures, always: { ...figures.always, rounds: undefined } }, null, 2));
    assert.ok(figures.always.acknowledged > 0, "claims were acknowledged before the kills");
    assert.equal(figures.always.lost, 0, "no acknowledged claim lost with appendfsync always");
  });
});

// What waiting for a Redis replica costs the send path: the idempotency claim and settle of each
// batch (what a sender does in Redis per batch), against a primary with one replica, without
// replica acks and with REDIS_REPLICA_ACKS=1 (a WAIT after each claim). Paced accounts claim one
// recipient at a time; unpaced ones a batch of SEND_BATCH_MAX (50).
import { connectRedis } from "../../shared/redis/connection.ts";
import { IdempotencyRecords } from "../../shared/redis/idempotency.ts";
import type { ReplicaAckPolicy } from "../../shared/redis/replicaAcks.ts";
import { startRedisWithFailover } from "../harness/redisSentinel.ts";
import { log, percentile } from "./benchSupport.ts";

export interface ReplicaAcksRow {
  readonly batch: number;
  readonly replicas: number;
  /** Recipients claimed and settled per second, by `concurrency` workers at once. */
  readonly recipientsPerSecond: number;
  /** One batch's claim (with its WAIT) and settle, p50 and p99. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const SECONDS = 4;
/** Workers claiming at once: the sessions of a few busy senders. */
const CONCURRENCY = 16;

export async function measureReplicaAcks(batches: readonly number[] = [1, 50]): Promise<ReplicaAcksRow[]> {
  const setup = await startRedisWithFailover();
  const redis = connectRedis(setup.url);
  const rows: ReplicaAcksRow[] = [];
  try {
    for (const batch of batches) {
      for (const replicas of [0, 1]) {
        const policy: ReplicaAckPolicy = { replicas, timeoutMs: 1000 };
        const records = new IdempotencyRecords(redis, `bench${batch}-${replicas}:`, policy);
        const latencies: number[] = [];
        let done = 0;
        let next = 0;
        const until = Date.now() + SECONDS * 1000;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async (_, worker) => {
            while (Date.now() < until) {
              const first = next;
              next += batch;
              const requests = Array.from({ length: batch }, (_, i) => ({
                idx: first + i,
                phone: `+1202555${String((first + i) % 10_000).padStart(4, "0")}`,
                messageId: `m${worker}-${first + i}`,
              }));
              const t0 = performance.now();
              await records.claimAll("b", requests, `w${worker}`);
              await records.settleAll(
                "b",
                requests.map((r) => ({
                  idx: r.idx,
                  outcome: { kind: "sent", messageId: r.messageId } as const,
                })),
              );
              latencies.push(performance.now() - t0);
              done += batch;
            }
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        const row = {
          batch,
          replicas,
          recipientsPerSecond: Math.round(done / seconds),
          p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
          p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
        };
        log(`replica acks: ${JSON.stringify(row)}`);
        rows.push(row);
      }
    }
  } finally {
    redis.disconnect();
    await setup.dispose();
  }
  return rows;
}

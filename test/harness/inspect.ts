// Read-only views of what the platform stored, for assertions: the event log, the outbox, and
// the Redis projection.
import { readFile } from "node:fs/promises";
import type { Redis } from "ioredis";
import type { BlastEvent } from "../../shared/domain/blast.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { blastHistory } from "../../shared/nats/eventLog.ts";
import type { OutboxLine } from "../../services/sender/transports/sim.ts";

export async function eventsOf(nats: Nats, blastId: string): Promise<BlastEvent[]> {
  return (await blastHistory(nats.js, blastId)).map((e) => e.event);
}

export async function outbox(path: string): Promise<OutboxLine[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxLine);
}

/** Every key under `root` with its value, in a form two projections can be compared by. */
export async function dumpKeys(redis: Redis, root: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${root}*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const name = key.slice(root.length);
      if (type === "hash") out[name] = await redis.hgetall(key);
      else if (type === "set") out[name] = (await redis.smembers(key)).sort();
      else if (type === "zset") out[name] = await redis.zrange(key, 0, -1, "WITHSCORES");
      else if (type === "list") out[name] = await redis.lrange(key, 0, -1);
      else out[name] = (await redis.getBuffer(key))?.toString("base64");
    }
  } while (cursor !== "0");
  return out;
}

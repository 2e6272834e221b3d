// Each endpoint's delivery log: the latest state of every event tried (delivered, retrying, dead,
// queued again), with its HTTP status, latency, attempts and last error. A record is rewritten at
// each attempt; the log keeps the newest DELIVERY_LOG_SIZE events per endpoint. It is what a
// person watches; delivery itself never depends on it, except that an event it shows delivered is
// not sent again when a crash makes JetStream hand it out twice.
import type { Redis } from "ioredis";
import { appKeys } from "./keys.ts";

export const DELIVERY_LOG_SIZE = 1000;

export type DeliveryStatus = "delivered" | "retrying" | "dead" | "queued";

export interface DeliveryRecord {
  readonly eventId: string;
  readonly type: string;
  readonly status: DeliveryStatus;
  /** Attempts in this round (a redelivery starts a new round). */
  readonly attempts: number;
  readonly httpStatus?: number;
  readonly latencyMs?: number;
  readonly error?: string;
  readonly lastAttemptAt?: string;
  readonly nextAttemptAt?: string;
  readonly deliveredAt?: string;
}

export interface DeliveryEntry extends DeliveryRecord {
  /** When the event first appeared in the log (or was queued again by hand). */
  readonly since: string;
}

/**
 * KEYS: index, records, endpoint. ARGV: event id, record JSON, score, capacity, "1" to move the
 * event to the top (a redelivery). Nothing is written for an endpoint deleted meanwhile.
 */
const RECORD_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[1])
end
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
return 1
`;

type ScriptRedis = Redis & {
  recordWebhookDelivery(
    index: string,
    records: string,
    endpoint: string,
    eventId: string,
    record: string,
    score: string,
    capacity: string,
    touch: string,
  ): Promise<number>;
};

function scripted(redis: Redis): ScriptRedis {
  if (!("recordWebhookDelivery" in redis)) {
    redis.defineCommand("recordWebhookDelivery", { numberOfKeys: 3, lua: RECORD_SCRIPT });
  }
  return redis as ScriptRedis;
}

export class DeliveryLog {
  private readonly keys: ReturnType<typeof appKeys>;
  private readonly redis: ScriptRedis;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly capacity = DELIVERY_LOG_SIZE,
  ) {
    this.redis = scripted(redis);
    this.keys = appKeys(prefix);
  }

  /** Writes the event's latest state; `requeued` moves it to the top of the log. */
  async record(webhookId: string, record: DeliveryRecord, now: Date, requeued = false): Promise<void> {
    await this.redis.recordWebhookDelivery(
      this.keys.webhookDeliveries(webhookId),
      this.keys.webhookDelivery(webhookId),
      this.keys.webhook(webhookId),
      record.eventId,
      JSON.stringify(record),
      String(now.getTime()),
      String(this.capacity),
      requeued ? "1" : "0",
    );
  }

  async get(webhookId: string, eventId: string): Promise<DeliveryEntry | undefined> {
    const [stored, score] = await Promise.all([
      this.redis.hget(this.keys.webhookDelivery(webhookId), eventId),
      this.redis.zscore(this.keys.webhookDeliveries(webhookId), eventId),
    ]);
    return stored === null ? undefined : entryOf(stored, score);
  }

  /** Newest first. */
  async page(webhookId: string, offset: number, count: number): Promise<DeliveryEntry[]> {
    const flat = await this.redis.zrange(
      this.keys.webhookDeliveries(webhookId),
      offset,
      offset + count - 1,
      "REV",
      "WITHSCORES",
    );
    const ids: string[] = [];
    const scores: string[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      ids.push(flat[i] ?? "");
      scores.push(flat[i + 1] ?? "0");
    }
    if (ids.length === 0) return [];
    const stored = await this.redis.hmget(this.keys.webhookDelivery(webhookId), ...ids);
    const entries: DeliveryEntry[] = [];
    stored.forEach((json, i) => {
      if (json !== null) entries.push(entryOf(json, scores[i] ?? null));
    });
    return entries;
  }

  async count(webhookId: string): Promise<number> {
    return this.redis.zcard(this.keys.webhookDeliveries(webhookId));
  }
}

function entryOf(json: string, score: string | null): DeliveryEntry {
  const record = JSON.parse(json) as DeliveryRecord;
  return { ...record, since: new Date(Number(score ?? 0)).toISOString() };
}

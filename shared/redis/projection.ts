// Redis counters as a projection of the event log. Each event is applied by one Lua script that
// checks and advances the last applied stream sequence in the same step, so a crash or a replay
// never applies an event twice; a per-recipient bit guards outcomes that reach the log twice
// (a retry after the log's dedupe window).
import type { Redis } from "ioredis";
import type { BlastEvent, BlastProgress, BlastState, BlastStatus } from "../domain/blast.ts";
import { progressOf } from "../domain/blast.ts";
import type { PacingOverrides } from "../domain/pacing.ts";
import { projectionKeys, type ProjectionKeys } from "./keys.ts";

const APPLY_SCRIPT = `
local root, seq, floor, kind, blastId = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local seqKey = root .. 'seq'
local last = tonumber(redis.call('GET', seqKey) or '0')
-- Behind what the caller already projected: Redis lost writes (a restore, a failover). Applying
-- this event would skip the lost ones for good, so apply nothing and say where Redis stands.
if last < floor then return {-1, tostring(last)} end
local blastKey = root .. 'blast:' .. blastId
local function snapshot(applied)
  local v = redis.call('HMGET', blastKey, 'status', 'total', 'sent', 'failed', 'inDoubt', 'sessionId', 'delivered', 'read')
  return {applied, v[1] or '', v[2] or '0', v[3] or '0', v[4] or '0', v[5] or '0', v[6] or '', v[7] or '0', v[8] or '0'}
end
if seq <= last then return snapshot(0) end
redis.call('SET', seqKey, seq)
local exists = redis.call('EXISTS', blastKey) == 1
if kind == 'created' then
  if exists then return snapshot(0) end
  redis.call('HSET', blastKey, 'blastId', blastId, 'sessionId', ARGV[6], 'status', 'running',
    'total', ARGV[7], 'sent', 0, 'failed', 0, 'inDoubt', 0, 'delivered', 0, 'read', 0,
    'meta', ARGV[8], 'createdAt', ARGV[9], 'updatedAt', ARGV[9], 'reason', '')
  redis.call('ZADD', root .. 'blasts', ARGV[10], blastId)
  redis.call('SADD', root .. 'session:' .. ARGV[6] .. ':blasts', blastId)
  return snapshot(1)
end
if not exists then return snapshot(0) end
if kind == 'outcome' then
  if redis.call('SETBIT', blastKey .. ':settled', ARGV[6], 1) == 1 then return snapshot(0) end
  redis.call('HINCRBY', blastKey, ARGV[7], 1)
  if ARGV[8] ~= '' then redis.call('HSET', blastKey .. ':failures', ARGV[6], ARGV[8]) end
  redis.call('HSET', blastKey, 'updatedAt', ARGV[9])
  return snapshot(1)
end
if kind == 'receipt' then
  if redis.call('SETBIT', blastKey .. ':' .. ARGV[7], ARGV[6], 1) == 1 then return snapshot(0) end
  redis.call('HINCRBY', blastKey, ARGV[7], 1)
  return snapshot(1)
end
if kind == 'status' then
  local current = redis.call('HGET', blastKey, 'status')
  local to, from = ARGV[6], ARGV[7]
  if current == 'cancelled' or current == 'completed' then return snapshot(0) end
  if from ~= '' and from ~= current then return snapshot(0) end
  redis.call('HSET', blastKey, 'status', to, 'updatedAt', ARGV[8], 'reason', ARGV[9])
  if to == 'cancelled' or to == 'completed' then
    redis.call('SREM', root .. 'session:' .. redis.call('HGET', blastKey, 'sessionId') .. ':blasts', blastId)
  end
  return snapshot(1)
end
return snapshot(0)
`;

export interface ApplyResult {
  readonly applied: boolean;
  /** Set when Redis is behind `floor`: the last sequence it still has. Nothing was applied. */
  readonly behindAt?: number;
  readonly progress?: BlastProgress;
  readonly sessionId?: string;
}

type ScriptRedis = Redis & {
  applyBlastEvent(...args: (string | number)[]): Promise<[number, ...string[]]>;
};

export interface BlastSummary extends BlastProgress {
  readonly sessionId: string;
  readonly campaignId?: string;
  readonly template: string;
  readonly rejected: number;
  readonly duplicates: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly reason: string;
}

export interface FailedRecipient {
  readonly idx: number;
  readonly phone: string;
  readonly reason: string;
}

export class BlastProjection {
  readonly keys: ProjectionKeys;
  private readonly redis: ScriptRedis;

  constructor(redis: Redis, prefix: string) {
    this.keys = projectionKeys(prefix);
    if (!("applyBlastEvent" in redis)) {
      redis.defineCommand("applyBlastEvent", { numberOfKeys: 0, lua: APPLY_SCRIPT });
    }
    this.redis = redis as ScriptRedis;
  }

  /** Calls `listener` whenever the connection to Redis is ready again; returns the unsubscribe. */
  onReady(listener: () => void): () => void {
    this.redis.on("ready", listener);
    return () => this.redis.off("ready", listener);
  }

  async lastSeq(): Promise<number> {
    return Number((await this.redis.get(this.keys.seq)) ?? 0);
  }

  /**
   * Applies the event at stream sequence `seq` unless already applied. `floor` is the sequence the
   * caller knows it projected before: a Redis that no longer has it is reported, not written to.
   */
  async apply(seq: number, event: BlastEvent, floor = 0): Promise<ApplyResult> {
    const args = this.argsFor(event);
    const reply = await this.redis.applyBlastEvent(this.keys.root, seq, floor, ...args);
    const [applied, status, total, sent, failed, inDoubt, sessionId, delivered, read] = reply;
    if (applied === -1) return { applied: false, behindAt: Number(status) };
    if (!status) return { applied: applied === 1 };
    const state: BlastState = {
      status: status as BlastStatus,
      blastId: event.data.blastId,
      sessionId: sessionId ?? "",
      total: Number(total),
      sent: Number(sent),
      failed: Number(failed),
      inDoubt: Number(inDoubt),
      delivered: Number(delivered),
      read: Number(read),
    };
    return { applied: applied === 1, progress: progressOf(state), sessionId: state.sessionId };
  }

  private argsFor(event: BlastEvent): (string | number)[] {
    const { blastId } = event.data;
    switch (event.type) {
      case "blast.created": {
        const { sessionId, total, campaignId, template, rejected, duplicates, createdAt, pacing } =
          event.data;
        const meta = JSON.stringify({ campaignId, template, rejected, duplicates, pacing });
        return ["created", blastId, sessionId, total, meta, createdAt, Date.parse(createdAt)];
      }
      case "recipient.sent":
        return ["outcome", blastId, event.data.idx, "sent", "", event.data.at];
      case "recipient.failed": {
        const failure = JSON.stringify({ phone: event.data.phone, reason: event.data.reason });
        return ["outcome", blastId, event.data.idx, "failed", failure, event.data.at];
      }
      case "recipient.in_doubt": {
        const failure = JSON.stringify({ phone: event.data.phone, reason: "in_doubt" });
        return ["outcome", blastId, event.data.idx, "inDoubt", failure, event.data.at];
      }
      case "recipient.delivered":
        return ["receipt", blastId, event.data.idx, "delivered"];
      case "recipient.read":
        return ["receipt", blastId, event.data.idx, "read"];
      case "blast.paused":
        return ["status", blastId, "paused", "running", event.data.at, event.data.reason];
      case "blast.resumed":
        return ["status", blastId, "running", "paused", event.data.at, ""];
      case "blast.cancelled":
        return ["status", blastId, "cancelled", "", event.data.at, ""];
      case "blast.completed":
        return ["status", blastId, "completed", "", event.data.at, ""];
      case "blast.recipients_added":
        return ["recipients", blastId];
    }
  }

  async state(blastId: string): Promise<BlastState> {
    const h = await this.redis.hgetall(this.keys.blast(blastId));
    return h.status ? stateOf(blastId, h) : { status: "none" };
  }

  async summary(blastId: string): Promise<BlastSummary | undefined> {
    const h = await this.redis.hgetall(this.keys.blast(blastId));
    if (!h.status) return undefined;
    const meta = JSON.parse(h.meta ?? "{}") as {
      campaignId?: string;
      template?: string;
      rejected?: number;
      duplicates?: number;
    };
    const progress = progressOf(stateOf(blastId, h));
    return {
      ...progress,
      sessionId: h.sessionId ?? "",
      ...(meta.campaignId ? { campaignId: meta.campaignId } : {}),
      template: meta.template ?? "",
      rejected: meta.rejected ?? 0,
      duplicates: meta.duplicates ?? 0,
      createdAt: h.createdAt ?? "",
      updatedAt: h.updatedAt ?? "",
      reason: h.reason ?? "",
    };
  }

  /** Newest first. */
  async list(offset: number, limit: number): Promise<{ total: number; items: BlastSummary[] }> {
    const [total, ids] = await Promise.all([
      this.redis.zcard(this.keys.blastIndex),
      this.redis.zrevrange(this.keys.blastIndex, offset, offset + limit - 1),
    ]);
    const items = await Promise.all(ids.map((id) => this.summary(id)));
    return { total, items: items.filter((s): s is BlastSummary => s !== undefined) };
  }

  /** Pacing settings given when the blast was created. */
  async pacing(blastId: string): Promise<PacingOverrides> {
    const meta = await this.redis.hget(this.keys.blast(blastId), "meta");
    return meta ? ((JSON.parse(meta) as { pacing?: PacingOverrides }).pacing ?? {}) : {};
  }

  async failures(blastId: string): Promise<FailedRecipient[]> {
    const h = await this.redis.hgetall(this.keys.failures(blastId));
    return Object.entries(h)
      .map(([idx, json]) => ({
        idx: Number(idx),
        ...(JSON.parse(json) as { phone: string; reason: string }),
      }))
      .sort((a, b) => a.idx - b.idx);
  }

  /** Blasts that still have work on a session, with their status. */
  async activeBlasts(sessionId: string): Promise<Array<{ blastId: string; status: BlastStatus }>> {
    const ids = await this.redis.smembers(this.keys.sessionBlasts(sessionId));
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.blast(id), "status");
    const statuses = (await pipeline.exec()) ?? [];
    return ids
      .map((blastId, i) => ({ blastId, status: statuses[i]?.[1] as BlastStatus }))
      .filter((b) => b.status !== undefined)
      .sort((a, b) => a.blastId.localeCompare(b.blastId));
  }

  /** Deletes every key of this projection (before a rebuild). */
  async clear(): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${this.keys.root}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== "0");
  }
}

/** A blast's projected hash as the Decider's state (the caller has checked it exists). */
function stateOf(blastId: string, h: Record<string, string>): Exclude<BlastState, { status: "none" }> {
  return {
    status: h.status as BlastStatus,
    blastId,
    sessionId: h.sessionId ?? "",
    total: Number(h.total),
    sent: Number(h.sent),
    failed: Number(h.failed),
    inDoubt: Number(h.inDoubt),
    delivered: Number(h.delivered ?? 0),
    read: Number(h.read ?? 0),
  };
}

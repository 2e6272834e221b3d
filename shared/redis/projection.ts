// Redis counters as a projection of the event log. Each event is applied by one Lua script that
// checks and advances the last applied stream sequence in the same step, so a crash or a replay
// never applies an event twice; a per-recipient bit guards outcomes that reach the log twice
// (a retry after the log's dedupe window). The rules are `evolve`'s (shared/domain/blast.ts); a
// property test checks both folds agree on random logs.
import type { Redis } from "ioredis";
import {
  poolOf,
  progressOf,
  type ActiveBlastState,
  type BlastEvent,
  type BlastProgress,
  type BlastState,
  type BlastStatus,
  type OutcomeCounts,
} from "../domain/blast.ts";
import type { MediaRef } from "../domain/media.ts";
import type { PacingOverrides } from "../domain/pacing.ts";
import type { FrequencyCap } from "../domain/sendLimits.ts";
import { projectionKeys, type ProjectionKeys } from "./keys.ts";

// Blast hash fields: status, total, sent, failed, inDoubt, delivered, read, replied, pool (JSON),
// meta, createdAt, updatedAt, reason, pausedByPool, `acct:<sessionId>` (why that account is paused
// on this blast) and `by:<sessionId>:<outcome>` (outcomes per account). Beside it: the settled,
// delivered, read and replied bitmaps, the failure reasons and the first replies (keys.ts).
const APPLY_SCRIPT = `
local root, seq, floor, kind, blastId = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local seqKey = root .. 'seq'
local last = tonumber(redis.call('GET', seqKey) or '0')
-- Behind what the caller already projected: Redis lost writes (a restore, a failover). Applying
-- this event would skip the lost ones for good, so apply nothing and say where Redis stands.
if last < floor then return {-1, tostring(last)} end
local blastKey = root .. 'blast:' .. blastId
local function snapshot(applied)
  return {applied, redis.call('HGETALL', blastKey)}
end
if seq <= last then return snapshot(0) end
redis.call('SET', seqKey, seq)
local exists = redis.call('EXISTS', blastKey) == 1
-- A blast's accounts see it (and take its work) once it runs: at once, or when it is started.
local function offerToPool(poolJson)
  for _, sessionId in ipairs(cjson.decode(poolJson)) do
    redis.call('SADD', root .. 'session:' .. sessionId .. ':blasts', blastId)
  end
end
if kind == 'created' then
  if exists then return snapshot(0) end
  local pool, status = cjson.decode(ARGV[6]), ARGV[11]
  redis.call('HSET', blastKey, 'blastId', blastId, 'sessionId', pool[1], 'pool', ARGV[6], 'status', status,
    'total', ARGV[7], 'sent', 0, 'failed', 0, 'inDoubt', 0, 'delivered', 0, 'read', 0, 'replied', 0,
    'meta', ARGV[8], 'createdAt', ARGV[9], 'updatedAt', ARGV[9], 'reason', '', 'pausedByPool', '',
    'scheduledFor', ARGV[12], 'timeZone', ARGV[13])
  redis.call('ZADD', root .. 'blasts', ARGV[10], blastId)
  if status == 'running' then offerToPool(ARGV[6]) end
  return snapshot(1)
end
if not exists then return snapshot(0) end
local function home()
  return redis.call('HGET', blastKey, 'sessionId')
end
local status = redis.call('HGET', blastKey, 'status')
local terminal = status == 'cancelled' or status == 'completed'
if kind == 'outcomes' then
  local sessionId = ARGV[6]
  if sessionId == '' then sessionId = home() end
  local counted = 0
  for i = 8, #ARGV, 3 do
    if redis.call('SETBIT', blastKey .. ':settled', ARGV[i], 1) == 0 then
      local field = ARGV[i + 1]
      redis.call('HINCRBY', blastKey, field, 1)
      redis.call('HINCRBY', blastKey, 'by:' .. sessionId .. ':' .. field, 1)
      redis.call('HINCRBY', root .. 'totals', sessionId .. ':' .. field, 1)
      if ARGV[i + 2] ~= '' then redis.call('HSET', blastKey .. ':failures', ARGV[i], ARGV[i + 2]) end
      counted = counted + 1
    end
  end
  if counted == 0 then return snapshot(0) end
  redis.call('HSET', blastKey, 'updatedAt', ARGV[7])
  return snapshot(1)
end
if kind == 'receipt' then
  if redis.call('SETBIT', blastKey .. ':' .. ARGV[7], ARGV[6], 1) == 1 then return snapshot(0) end
  redis.call('HINCRBY', blastKey, ARGV[7], 1)
  local sessionId = ARGV[8]
  if sessionId == '' then sessionId = home() end
  redis.call('HINCRBY', root .. 'totals', sessionId .. ':' .. ARGV[7], 1)
  return snapshot(1)
end
if kind == 'replied' then
  -- A recipient's first reply: counted, and kept for the replies list. Blasts projected before
  -- replies existed have no 'replied' field; HINCRBY starts it at 0.
  local idx, sessionId, repliedKey, repliesKey = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
  if redis.call('SETBIT', repliedKey, idx, 1) == 1 then return snapshot(0) end
  redis.call('HINCRBY', blastKey, 'replied', 1)
  redis.call('HINCRBY', root .. 'totals', sessionId .. ':replied', 1)
  redis.call('ZADD', repliesKey, ARGV[10], ARGV[11])
  return snapshot(1)
end
if kind == 'status' then
  local to, from = ARGV[6], ARGV[7]
  if terminal then return snapshot(0) end
  if from ~= '' and from ~= status then return snapshot(0) end
  redis.call('HSET', blastKey, 'status', to, 'updatedAt', ARGV[8], 'reason', ARGV[9], 'pausedByPool', ARGV[10])
  if to == 'cancelled' or to == 'completed' then
    for _, sessionId in ipairs(cjson.decode(redis.call('HGET', blastKey, 'pool'))) do
      redis.call('SREM', root .. 'session:' .. sessionId .. ':blasts', blastId)
    end
  end
  return snapshot(1)
end
local notStarted = status == 'scheduled' or status == 'draft'
if kind == 'edited' then
  if not notStarted then return snapshot(0) end
  -- The edit's plan replaces the old one; what it cannot change (counts, campaign) stays.
  local meta, plan = cjson.decode(redis.call('HGET', blastKey, 'meta') or '{}'), cjson.decode(ARGV[7])
  for _, field in ipairs({'template', 'pacing', 'frequencyCap', 'media', 'variants'}) do
    meta[field] = plan[field]
  end
  local pool = cjson.decode(ARGV[6])
  redis.call('HSET', blastKey, 'pool', ARGV[6], 'sessionId', pool[1], 'meta', cjson.encode(meta),
    'scheduledFor', ARGV[8], 'timeZone', ARGV[9], 'status', ARGV[8] == '' and 'draft' or 'scheduled',
    'updatedAt', ARGV[10])
  return snapshot(1)
end
if kind == 'started' then
  if not notStarted then return snapshot(0) end
  redis.call('HSET', blastKey, 'status', 'running', 'updatedAt', ARGV[6])
  offerToPool(redis.call('HGET', blastKey, 'pool'))
  return snapshot(1)
end
if kind == 'account' then
  if notStarted then return snapshot(0) end
  if terminal then return snapshot(0) end
  if ARGV[6] == 'pause' then
    redis.call('HSET', blastKey, 'acct:' .. ARGV[7], ARGV[8], 'updatedAt', ARGV[9])
  else
    redis.call('HDEL', blastKey, 'acct:' .. ARGV[7])
    redis.call('HSET', blastKey, 'updatedAt', ARGV[9])
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
}

type ScriptRedis = Redis & {
  applyBlastEvent(...args: (string | number)[]): Promise<[number, string[] | string]>;
};

export interface BlastSummary extends BlastProgress {
  /** The first account of the pool (what blasts named before pools). */
  readonly sessionId: string;
  readonly campaignId?: string;
  readonly template: string;
  readonly rejected: number;
  readonly duplicates: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly reason: string;
  /** The attachment, when the blast carries one. */
  readonly media?: MediaRef;
  readonly variants?: Array<{ text: string; weight: number }>;
  readonly pacing?: PacingOverrides;
  /** The blast's own cap; null: sent without one; absent: the deployment's. */
  readonly frequencyCap?: FrequencyCap | null;
  /** The zone a scheduled blast's time was given in. */
  readonly timeZone?: string;
}

export interface FailedRecipient {
  readonly idx: number;
  readonly phone: string;
  readonly reason: string;
}

/** A recipient's first reply to a blast, as the replies list shows it. */
export interface BlastReply {
  readonly idx: number;
  readonly phone: string;
  /** The account the reply reached. */
  readonly sessionId: string;
  readonly text: string;
  readonly at: string;
}

/** Figures per account over every blast: outcomes, receipts and replies. */
export type AccountTotals = Record<keyof OutcomeCounts | "delivered" | "read" | "replied", number>;

/** A blast with work for one account: what that account's worker needs to choose and pull. */
export interface BlastForAccount {
  readonly blastId: string;
  readonly status: BlastStatus;
  readonly poolSize: number;
  /** Why this account takes no work from the blast, when it does not. */
  readonly accountPaused?: string;
}

const outcomeField = { sent: "sent", failed: "failed", in_doubt: "inDoubt" } as const;

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
    const [applied, fields] = await this.redis.applyBlastEvent(this.keys.root, seq, floor, ...args);
    if (applied === -1) return { applied: false, behindAt: Number(fields) };
    const h = typeof fields === "string" ? {} : hashOf(fields);
    if (!h.status) return { applied: applied === 1 };
    return { applied: applied === 1, progress: progressOf(stateOf(event.data.blastId, h)) };
  }

  private argsFor(event: BlastEvent): (string | number)[] {
    const { blastId } = event.data;
    switch (event.type) {
      case "blast.created": {
        const { total, campaignId, template, rejected, duplicates, createdAt, pacing, frequencyCap, media } =
          event.data;
        const { variants, scheduledFor, timeZone, draft } = event.data;
        const meta = JSON.stringify({
          campaignId,
          template,
          rejected,
          duplicates,
          pacing,
          frequencyCap,
          media,
          variants,
        });
        const pool = JSON.stringify(poolOf(event.data));
        const status: BlastStatus = scheduledFor ? "scheduled" : draft ? "draft" : "running";
        return [
          "created",
          blastId,
          pool,
          total,
          meta,
          createdAt,
          Date.parse(createdAt),
          status,
          scheduledFor ?? "",
          timeZone ?? "",
        ];
      }
      case "blast.edited": {
        const { sessionIds, template, pacing, frequencyCap, media, variants, scheduledFor, timeZone, at } =
          event.data;
        // cjson reads JSON null as a value: an edit to "no cap" (null) stays apart from "the deployment's".
        const plan = JSON.stringify({ template, pacing, frequencyCap, media, variants });
        return ["edited", blastId, JSON.stringify(sessionIds), plan, scheduledFor ?? "", timeZone ?? "", at];
      }
      case "blast.started":
        return ["started", blastId, event.data.at];
      case "recipients.settled": {
        const args: (string | number)[] = ["outcomes", blastId, event.data.sessionId, event.data.at];
        for (const o of event.data.outcomes) args.push(...outcomeArgs(o.idx, o.kind, o.phone, failureOf(o)));
        return args;
      }
      case "recipient.sent":
        return ["outcomes", blastId, "", event.data.at, ...outcomeArgs(event.data.idx, "sent", "", "")];
      case "recipient.failed":
        return [
          "outcomes",
          blastId,
          "",
          event.data.at,
          ...outcomeArgs(event.data.idx, "failed", event.data.phone, event.data.reason),
        ];
      case "recipient.in_doubt":
        return [
          "outcomes",
          blastId,
          "",
          event.data.at,
          ...outcomeArgs(event.data.idx, "in_doubt", event.data.phone, "in_doubt"),
        ];
      case "recipient.delivered":
      case "recipient.read":
        return [
          "receipt",
          blastId,
          event.data.idx,
          event.type === "recipient.read" ? "read" : "delivered",
          event.data.sessionId ?? "",
        ];
      case "recipient.replied": {
        const { idx, phone, sessionId, text, at } = event.data;
        // A time that does not parse still gets a place in the list (the oldest), rather than
        // failing the script halfway through its writes.
        const when = Date.parse(at);
        const reply: BlastReply = { idx, phone, sessionId, text, at };
        return [
          "replied",
          blastId,
          idx,
          sessionId,
          this.keys.replied(blastId),
          this.keys.replies(blastId),
          Number.isFinite(when) ? when : 0,
          JSON.stringify(reply),
        ];
      }
      case "blast.paused":
        return [
          "status",
          blastId,
          "paused",
          "running",
          event.data.at,
          event.data.reason,
          event.data.byPool ? "1" : "",
        ];
      case "blast.resumed":
        return ["status", blastId, "running", "paused", event.data.at, "", ""];
      case "blast.cancelled":
        return ["status", blastId, "cancelled", "", event.data.at, "", ""];
      case "blast.completed":
        return ["status", blastId, "completed", "", event.data.at, "", ""];
      case "blast.account_paused":
        return ["account", blastId, "pause", event.data.sessionId, event.data.reason, event.data.at];
      case "blast.account_resumed":
        return ["account", blastId, "resume", event.data.sessionId, "", event.data.at];
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
      media?: MediaRef;
      variants?: Array<{ text: string; weight: number }>;
      pacing?: PacingOverrides;
      frequencyCap?: FrequencyCap | null;
    };
    const progress = progressOf(stateOf(blastId, h));
    return {
      ...progress,
      sessionId: progress.sessionIds[0] ?? "",
      ...(meta.campaignId ? { campaignId: meta.campaignId } : {}),
      template: meta.template ?? "",
      rejected: meta.rejected ?? 0,
      duplicates: meta.duplicates ?? 0,
      createdAt: h.createdAt ?? "",
      updatedAt: h.updatedAt ?? "",
      reason: h.reason ?? "",
      ...(meta.media ? { media: meta.media } : {}),
      ...(meta.variants ? { variants: meta.variants } : {}),
      ...(meta.pacing && Object.keys(meta.pacing).length > 0 ? { pacing: meta.pacing } : {}),
      ...(meta.frequencyCap !== undefined ? { frequencyCap: meta.frequencyCap } : {}),
      ...(h.timeZone ? { timeZone: h.timeZone } : {}),
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
    return (await this.sendingSettings(blastId)).pacing;
  }

  /**
   * What the blast was created with that governs its sending, in one read: its pacing, its own
   * frequency cap (null: none; absent: the deployment's), and its attachment.
   */
  async sendingSettings(
    blastId: string,
  ): Promise<{ pacing: PacingOverrides; frequencyCap?: FrequencyCap | null; media?: MediaRef }> {
    const raw = await this.redis.hget(this.keys.blast(blastId), "meta");
    if (!raw) return { pacing: {} };
    const meta = JSON.parse(raw) as {
      pacing?: PacingOverrides;
      frequencyCap?: FrequencyCap | null;
      media?: MediaRef;
    };
    return {
      pacing: meta.pacing ?? {},
      ...(meta.frequencyCap !== undefined ? { frequencyCap: meta.frequencyCap } : {}),
      ...(meta.media ? { media: meta.media } : {}),
    };
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

  /** Recipients' first replies to the blast, newest first. */
  async replies(
    blastId: string,
    offset: number,
    limit: number,
  ): Promise<{ total: number; items: BlastReply[] }> {
    const key = this.keys.replies(blastId);
    const [total, members] = await Promise.all([
      this.redis.zcard(key),
      this.redis.zrevrange(key, offset, offset + limit - 1),
    ]);
    return { total, items: members.map((member) => JSON.parse(member) as BlastReply) };
  }

  /** Blasts whose pool includes the account and that still have work, with the account's standing. */
  async activeBlasts(sessionId: string): Promise<BlastForAccount[]> {
    const ids = await this.redis.smembers(this.keys.sessionBlasts(sessionId));
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.blast(id), "status", "pool", `acct:${sessionId}`);
    const replies = (await pipeline.exec()) ?? [];
    const blasts: BlastForAccount[] = [];
    ids.forEach((blastId, i) => {
      const [status, pool, paused] = (replies[i]?.[1] ?? []) as Array<string | null>;
      if (!status) return;
      blasts.push({
        blastId,
        status: status as BlastStatus,
        poolSize: pool ? (JSON.parse(pool) as string[]).length : 1,
        ...(paused !== null && paused !== undefined ? { accountPaused: paused } : {}),
      });
    });
    return blasts.sort((a, b) => a.blastId.localeCompare(b.blastId));
  }

  /**
   * Outcomes, receipts and replies per account over every blast, kept as events are applied (the
   * metrics scrape reads one hash, whatever the number of blasts).
   */
  async totals(): Promise<Map<string, AccountTotals>> {
    const h = await this.redis.hgetall(this.keys.totals);
    const totals = new Map<string, AccountTotals>();
    for (const [field, value] of Object.entries(h)) {
      const cut = field.lastIndexOf(":");
      const sessionId = field.slice(0, cut);
      const what = field.slice(cut + 1) as keyof AccountTotals;
      const entry = totals.get(sessionId) ?? {
        sent: 0,
        failed: 0,
        inDoubt: 0,
        delivered: 0,
        read: 0,
        replied: 0,
      };
      entry[what] = Number(value);
      totals.set(sessionId, entry);
    }
    return totals;
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

function outcomeArgs(
  idx: number,
  kind: "sent" | "failed" | "in_doubt",
  phone: string,
  reason: string,
): (string | number)[] {
  return [idx, outcomeField[kind], kind === "sent" ? "" : JSON.stringify({ phone, reason })];
}

function failureOf(o: { kind: string; reason?: string }): string {
  return o.kind === "failed" ? (o.reason ?? "") : o.kind === "in_doubt" ? "in_doubt" : "";
}

function hashOf(flat: readonly string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string;
  return h;
}

/** A blast's projected hash as the Decider's state (the caller has checked it exists). */
function stateOf(blastId: string, h: Record<string, string>): ActiveBlastState {
  const sessionIds = h.pool ? (JSON.parse(h.pool) as string[]) : h.sessionId ? [h.sessionId] : [];
  const pausedAccounts: Record<string, string> = {};
  const bySession: Record<string, { sent: number; failed: number; inDoubt: number }> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith("acct:")) pausedAccounts[field.slice(5)] = value;
    else if (field.startsWith("by:")) {
      const cut = field.lastIndexOf(":");
      const sessionId = field.slice(3, cut);
      const what = field.slice(cut + 1) as "sent" | "failed" | "inDoubt";
      const entry = (bySession[sessionId] ??= { sent: 0, failed: 0, inDoubt: 0 });
      entry[what] = Number(value);
    }
  }
  return {
    status: h.status as BlastStatus,
    blastId,
    sessionIds,
    pausedAccounts,
    pausedByPool: h.pausedByPool === "1",
    bySession,
    total: Number(h.total),
    sent: Number(h.sent),
    failed: Number(h.failed),
    inDoubt: Number(h.inDoubt),
    delivered: Number(h.delivered ?? 0),
    read: Number(h.read ?? 0),
    replied: Number(h.replied ?? 0),
    ...(h.scheduledFor ? { scheduledFor: h.scheduledFor } : {}),
  };
}

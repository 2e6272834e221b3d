// One record per (blast, recipient), claimed before the send and settled after it. A record found
// claimed but never settled means a sender died mid-send: the message may or may not have left,
// so it is reported in doubt and never sent again. A batch of recipients is claimed in one round
// trip, together with the receipt mapping of each message (which must exist before the send, so
// that an early receipt finds its recipient). Every per-recipient check joins that same step, in
// this order, and none adds a round trip of its own:
// 1. the suppression list (shared/redis/suppression.ts): a number that opted out after its blast
//    was queued gets a record settled as failed (`opted_out`), is never sent and gets no mapping;
// 2. the frequency cap: a number that already got `max` blast messages in the cap's period, over
//    every blast, gets a record settled as failed (`frequency_capped`) the same way; a claimed
//    recipient goes in its number's send record (trimmed to the longest period a cap may have);
// 3. the unreplied budget: a recipient whose number never wrote to the account counts against the
//    account's month; once the month's count has reached the budget such a recipient is not
//    claimed at all (`over_budget`): no record, so another account of the pool can take them.
//    Numbers that wrote to the account are neither counted nor refused.
// A recipient that already has a record keeps it: no check rewrites what was sent or is in doubt.
// Releasing a claim (nothing was sent) takes it out of the send record and the month's count again.
import type { Redis } from "ioredis";
import type { RecipientOutcome } from "../domain/blast.ts";
import { MAX_FREQUENCY_PERIOD_HOURS, unrepliedMonthOf, type FrequencyCap } from "../domain/sendLimits.ts";
import { confirmReplicated, NO_REPLICA_ACKS, type ReplicaAckPolicy } from "./replicaAcks.ts";
import { appKeys } from "./keys.ts";

const RECORD_TTL_SECONDS = 90 * 24 * 3600;
const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;
const HOUR_MS = 3600_000;
/** What a cap of the longest period can still see; older sends are trimmed away. */
const NUMBER_SENDS_RETENTION_MS = MAX_FREQUENCY_PERIOD_HOURS * HOUR_MS;
/** A month's count outlives the month by a little, so the last day's figure can still be read. */
const UNREPLIED_TTL_SECONDS = 40 * 24 * 3600;

/** Why a recipient whose number is on the suppression list when its turn comes was not sent. */
export const OPTED_OUT = "opted_out";
/** Why a recipient whose number already got as many blast messages as the cap allows was not sent. */
export const FREQUENCY_CAPPED = "frequency_capped";
/** The claim script's answer for a recipient over the account's unreplied budget (never JSON). */
const OVER_BUDGET = "!over_budget";

// KEYS[1]: the blast's records; KEYS[2]: the suppression list; KEYS[3]: the numbers that wrote to
// the account; KEYS[4]: the account's unreplied count this month; KEYS[4 + i]: recipient i's message
// mapping; KEYS[4 + n + i]: recipient i's number's sends.
// ARGV[1..15]: claim record json, record ttl, mapping ttl, blastId, opted-out record json,
// frequency-capped record json, claim record json of a counted recipient, now (ms), 1 to keep the
// send records, cap max (0: none), cap period (ms), send record retention (ms), 1 to count
// unreplied recipients, unreplied budget (0: none), unreplied count ttl; then (idx, phone) per
// recipient.
const CLAIM_SCRIPT = `
local HEAD = 15
local n = (#ARGV - HEAD) / 2
local now = tonumber(ARGV[8])
local keepSends, capMax = ARGV[9] == '1', tonumber(ARGV[10])
local capFrom, keepFrom = now - tonumber(ARGV[11]), now - tonumber(ARGV[12])
local countUnreplied, budget = ARGV[13] == '1', tonumber(ARGV[14])
local replies = {}
for i = 1, n do
  local idx, phone = ARGV[HEAD - 1 + 2 * i], ARGV[HEAD + 2 * i]
  local sends, member = KEYS[4 + n + i], ARGV[4] .. ':' .. idx
  local existing = redis.call('HGET', KEYS[1], idx)
  if existing then
    replies[i] = existing
  elseif redis.call('HEXISTS', KEYS[2], phone) == 1 then
    redis.call('HSET', KEYS[1], idx, ARGV[5])
    replies[i] = ARGV[5]
  else
    local capped = false
    if keepSends then
      redis.call('ZREMRANGEBYSCORE', sends, '-inf', keepFrom)
      capped = capMax > 0 and not redis.call('ZSCORE', sends, member)
        and redis.call('ZCOUNT', sends, '(' .. capFrom, '+inf') >= capMax
    end
    local counts = not capped and countUnreplied and redis.call('SISMEMBER', KEYS[3], phone) == 0
    if capped then
      redis.call('HSET', KEYS[1], idx, ARGV[6])
      replies[i] = ARGV[6]
    elseif counts and budget > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= budget then
      replies[i] = '${OVER_BUDGET}'
    else
      if counts then
        redis.call('INCR', KEYS[4])
        redis.call('EXPIRE', KEYS[4], ARGV[15])
      end
      redis.call('HSET', KEYS[1], idx, counts and ARGV[7] or ARGV[1])
      local mapping = KEYS[4 + i]
      redis.call('HSET', mapping, 'blastId', ARGV[4], 'idx', idx, 'phone', phone)
      redis.call('EXPIRE', mapping, ARGV[3])
      if keepSends then
        redis.call('ZADD', sends, now, member)
        redis.call('PEXPIRE', sends, ARGV[12])
      end
      replies[i] = ''
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return replies
`;

// KEYS[1]: the blast's records; KEYS[2]: the account's unreplied count of the claims' month;
// KEYS[2 + i]: recipient i's number's sends. ARGV[1]: blastId, ARGV[1 + i]: recipient i's idx.
// Only a record still claimed is released: a settled outcome is never undone.
const RELEASE_SCRIPT = `
for i = 1, #ARGV - 1 do
  local idx = ARGV[1 + i]
  local stored = redis.call('HGET', KEYS[1], idx)
  if stored then
    local record = cjson.decode(stored)
    if record.state == 'claimed' then
      if record.countedUnreplied and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
        redis.call('DECR', KEYS[2])
      end
      redis.call('ZREM', KEYS[2 + i], ARGV[1] .. ':' .. idx)
      redis.call('HDEL', KEYS[1], idx)
    end
  end
end
return 0
`;

export type ClaimResult =
  | { kind: "claimed" }
  | { kind: "in_flight"; owner: string; since: number }
  | { kind: "settled"; outcome: RecipientOutcome }
  /** Not claimed: the account reached its unreplied budget and the number never wrote to it. */
  | { kind: "over_budget" };

export interface ClaimRequest {
  readonly idx: number;
  readonly phone: string;
  /** Our WhatsApp message id for this recipient. */
  readonly messageId: string;
}

/** The checks a claim makes besides the suppression list; left out, they are not made. */
export interface ClaimChecks {
  /**
   * Keep each claimed recipient in its number's send record, and settle as `frequency_capped` a
   * recipient whose number is already at `cap` (null: keep the record, refuse no one).
   */
  readonly frequency?: { readonly cap: FrequencyCap | null };
  /**
   * Count each claimed recipient whose number never wrote to `sessionId` in the account's month,
   * and claim no such recipient once the count has reached `budget` (0: count, refuse no one).
   */
  readonly unreplied?: { readonly sessionId: string; readonly budget: number };
}

/** A claim to give back: nothing was sent to the recipient. */
export interface ClaimRelease {
  readonly idx: number;
  readonly phone: string;
}

type ScriptRedis = Redis & {
  claimRecipients(numberOfKeys: number, ...args: (string | number)[]): Promise<string[]>;
  releaseClaims(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
};

interface ClaimRecord {
  state: "claimed";
  owner: string;
  at: number;
  /** The claim counted against the account's unreplied budget: a release takes it back. */
  countedUnreplied?: true;
}
interface SettledRecord {
  state: "settled";
  outcome: RecipientOutcome;
  at: number;
}

const settled = (reason: string, at: number): SettledRecord => ({
  state: "settled",
  outcome: { kind: "failed", reason },
  at,
});

export class IdempotencyRecords {
  private readonly redis: ScriptRedis;
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    redis: Redis,
    prefix: string,
    /** Replicas that must hold a claim before its message may be sent (Redis behind Sentinel). */
    private readonly replicaAcks: ReplicaAckPolicy = NO_REPLICA_ACKS,
  ) {
    if (!("claimRecipients" in redis)) redis.defineCommand("claimRecipients", { lua: CLAIM_SCRIPT });
    if (!("releaseClaims" in redis)) redis.defineCommand("releaseClaims", { lua: RELEASE_SCRIPT });
    this.redis = redis as ScriptRedis;
    this.keys = appKeys(prefix);
  }

  /**
   * Claims every recipient of the batch (all of one blast) in one round trip, in order. A
   * recipient whose number is on the suppression list comes back settled as failed (`opted_out`),
   * one over the frequency cap settled as failed (`frequency_capped`), one over the account's
   * unreplied budget `over_budget` (not claimed). `now` also picks the unreplied budget's month.
   */
  async claimAll(
    blastId: string,
    requests: readonly ClaimRequest[],
    owner: string,
    now = Date.now(),
    checks: ClaimChecks = {},
  ): Promise<ClaimResult[]> {
    if (requests.length === 0) return [];
    const { frequency, unreplied } = checks;
    const record: ClaimRecord = { state: "claimed", owner, at: now };
    const counted: ClaimRecord = { ...record, countedUnreplied: true };
    // Without an account to count for, these two keys are only placeholders the script never reads.
    const repliedTo = unreplied ? this.keys.repliedTo(unreplied.sessionId) : this.keys.suppression;
    const unrepliedSends = unreplied
      ? this.keys.unrepliedSends(unreplied.sessionId, unrepliedMonthOf(now))
      : this.keys.suppression;
    const keys = [
      this.keys.idempotency(blastId),
      this.keys.suppression,
      repliedTo,
      unrepliedSends,
      ...requests.map((r) => this.keys.sentMessage(r.messageId)),
      ...requests.map((r) => this.keys.numberSends(r.phone)),
    ];
    const cap = frequency?.cap ?? null;
    const args: (string | number)[] = [
      JSON.stringify(record),
      RECORD_TTL_SECONDS,
      RECEIPT_TTL_SECONDS,
      blastId,
      JSON.stringify(settled(OPTED_OUT, now)),
      JSON.stringify(settled(FREQUENCY_CAPPED, now)),
      JSON.stringify(counted),
      now,
      frequency ? 1 : 0,
      cap ? cap.max : 0,
      cap ? cap.periodHours * HOUR_MS : 0,
      NUMBER_SENDS_RETENTION_MS,
      unreplied ? 1 : 0,
      unreplied?.budget ?? 0,
      UNREPLIED_TTL_SECONDS,
    ];
    for (const r of requests) args.push(r.idx, r.phone);
    const replies = await this.redis.claimRecipients(keys.length, ...keys, ...args);
    const claimed = requests.filter((_, i) => replies[i] === "");
    try {
      // A claim a failover forgets is a second send: it must be on a replica before anything is sent.
      if (claimed.length > 0) await confirmReplicated(this.redis, this.replicaAcks, "the claims");
    } catch (err) {
      // Nothing was sent: the claims go, so a retry after the failover claims them afresh.
      await this.releaseAll(blastId, claimed, { sessionId: unreplied?.sessionId ?? "", claimedAt: now });
      throw err;
    }
    return replies.map((stored): ClaimResult => {
      if (stored === "") return { kind: "claimed" };
      if (stored === OVER_BUDGET) return { kind: "over_budget" };
      const existing = JSON.parse(stored) as ClaimRecord | SettledRecord;
      if (existing.state === "settled") return { kind: "settled", outcome: existing.outcome };
      return { kind: "in_flight", owner: existing.owner, since: existing.at };
    });
  }

  async claim(blastId: string, idx: number, owner: string, now = Date.now()): Promise<ClaimResult> {
    const [result] = await this.claimAll(
      blastId,
      [{ idx, phone: "", messageId: `probe-${blastId}-${idx}` }],
      owner,
      now,
    );
    if (!result) throw new Error("no claim reply");
    return result;
  }

  /** Stores the outcome of each recipient (all of one blast) in one write. */
  async settleAll(
    blastId: string,
    outcomes: ReadonlyArray<{ idx: number; outcome: RecipientOutcome }>,
    now = Date.now(),
  ): Promise<void> {
    if (outcomes.length === 0) return;
    const fields: Record<string, string> = {};
    for (const { idx, outcome } of outcomes) {
      const record: SettledRecord = { state: "settled", outcome, at: now };
      fields[String(idx)] = JSON.stringify(record);
    }
    await this.redis.hset(this.keys.idempotency(blastId), fields);
  }

  /**
   * Forgets the claims of recipients that were never sent, in one round trip, so they can be
   * claimed again: out of their numbers' send records, and out of `sessionId`'s unreplied count of
   * the month they were claimed in (`claimedAt`, the `now` of their claim) if they counted.
   */
  async releaseAll(
    blastId: string,
    releases: readonly ClaimRelease[],
    claimedBy: { readonly sessionId: string; readonly claimedAt: number },
  ): Promise<void> {
    if (releases.length === 0) return;
    const keys = [
      this.keys.idempotency(blastId),
      this.keys.unrepliedSends(claimedBy.sessionId, unrepliedMonthOf(claimedBy.claimedAt)),
      ...releases.map((r) => this.keys.numberSends(r.phone)),
    ];
    await this.redis.releaseClaims(keys.length, ...keys, blastId, ...releases.map((r) => r.idx));
  }

  async count(blastId: string): Promise<number> {
    return this.redis.hlen(this.keys.idempotency(blastId));
  }
}

// One record per (blast, recipient), claimed before the send and settled after it. A record found
// claimed but never settled means a sender died mid-send: the message may or may not have left,
// so it is reported in doubt and never sent again. A batch of recipients is claimed in one round
// trip, together with the receipt mapping of each message (which must exist before the send, so
// that an early receipt finds its recipient). The same step checks the suppression list
// (shared/redis/suppression.ts): a number that opted out after its blast was queued gets a record
// settled as failed (`opted_out`) instead of a claim, so it is never sent and no receipt mapping
// is made for it, without a round trip of its own. A recipient that already has a record keeps it:
// an opt-out never rewrites what was sent or is in doubt. Later per-recipient checks join this
// same script.
import type { Redis } from "ioredis";
import type { RecipientOutcome } from "../domain/blast.ts";
import { appKeys } from "./keys.ts";

const RECORD_TTL_SECONDS = 90 * 24 * 3600;
const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;

/** Why a recipient whose number is on the suppression list when its turn comes was not sent. */
export const OPTED_OUT = "opted_out";

// KEYS[1]: the blast's records; KEYS[2]: the suppression list; KEYS[2 + i]: recipient i's message
// mapping. ARGV: claim record json, record ttl, mapping ttl, blastId, opted-out record json, then
// (idx, phone) per recipient.
const CLAIM_SCRIPT = `
local replies = {}
local n = (#ARGV - 5) / 2
for i = 1, n do
  local idx, phone = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if redis.call('HEXISTS', KEYS[1], idx) == 0 and redis.call('HEXISTS', KEYS[2], phone) == 1 then
    redis.call('HSETNX', KEYS[1], idx, ARGV[5])
    replies[i] = ARGV[5]
  elseif redis.call('HSETNX', KEYS[1], idx, ARGV[1]) == 1 then
    local mapping = KEYS[2 + i]
    redis.call('HSET', mapping, 'blastId', ARGV[4], 'idx', idx, 'phone', phone)
    redis.call('EXPIRE', mapping, ARGV[3])
    replies[i] = ''
  else
    replies[i] = redis.call('HGET', KEYS[1], idx)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return replies
`;

export type ClaimResult =
  | { kind: "claimed" }
  | { kind: "in_flight"; owner: string; since: number }
  | { kind: "settled"; outcome: RecipientOutcome };

export interface ClaimRequest {
  readonly idx: number;
  readonly phone: string;
  /** Our WhatsApp message id for this recipient. */
  readonly messageId: string;
}

type ScriptRedis = Redis & {
  claimRecipients(numberOfKeys: number, ...args: (string | number)[]): Promise<string[]>;
};

interface ClaimRecord {
  state: "claimed";
  owner: string;
  at: number;
}
interface SettledRecord {
  state: "settled";
  outcome: RecipientOutcome;
  at: number;
}

export class IdempotencyRecords {
  private readonly redis: ScriptRedis;
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(redis: Redis, prefix: string) {
    if (!("claimRecipients" in redis)) redis.defineCommand("claimRecipients", { lua: CLAIM_SCRIPT });
    this.redis = redis as ScriptRedis;
    this.keys = appKeys(prefix);
  }

  /**
   * Claims every recipient of the batch (all of one blast) in one round trip, in order; a
   * recipient whose number is on the suppression list comes back settled as failed (`opted_out`).
   */
  async claimAll(
    blastId: string,
    requests: readonly ClaimRequest[],
    owner: string,
    now = Date.now(),
  ): Promise<ClaimResult[]> {
    if (requests.length === 0) return [];
    const record: ClaimRecord = { state: "claimed", owner, at: now };
    const optedOut: SettledRecord = {
      state: "settled",
      outcome: { kind: "failed", reason: OPTED_OUT },
      at: now,
    };
    const keys = [
      this.keys.idempotency(blastId),
      this.keys.suppression,
      ...requests.map((r) => this.keys.sentMessage(r.messageId)),
    ];
    const args: (string | number)[] = [
      JSON.stringify(record),
      RECORD_TTL_SECONDS,
      RECEIPT_TTL_SECONDS,
      blastId,
      JSON.stringify(optedOut),
    ];
    for (const r of requests) args.push(r.idx, r.phone);
    const replies = await this.redis.claimRecipients(keys.length, ...keys, ...args);
    return replies.map((stored): ClaimResult => {
      if (stored === "") return { kind: "claimed" };
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

  /** Forgets the claims of recipients that were never sent, so they can be claimed again. */
  async releaseAll(blastId: string, idxs: readonly number[]): Promise<void> {
    if (idxs.length > 0) await this.redis.hdel(this.keys.idempotency(blastId), ...idxs.map(String));
  }

  async count(blastId: string): Promise<number> {
    return this.redis.hlen(this.keys.idempotency(blastId));
  }
}

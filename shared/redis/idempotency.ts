// One record per (blast, recipient), claimed before the send and settled after it. A record found
// claimed but never settled means a sender died mid-send: the message may or may not have left,
// so it is reported in doubt and never sent again.
import type { Redis } from "ioredis";
import type { RecipientOutcome } from "../domain/blast.ts";
import { appKeys } from "./keys.ts";

const RECORD_TTL_SECONDS = 90 * 24 * 3600;

const CLAIM_SCRIPT = `
local created = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if created == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {1, ARGV[2]}
end
return {0, redis.call('HGET', KEYS[1], ARGV[1])}
`;

export type ClaimResult =
  | { kind: "claimed" }
  | { kind: "in_flight"; owner: string; since: number }
  | { kind: "settled"; outcome: RecipientOutcome };

type ScriptRedis = Redis & {
  claimRecipient(key: string, ...args: (string | number)[]): Promise<[number, string]>;
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
    if (!("claimRecipient" in redis))
      redis.defineCommand("claimRecipient", { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    this.redis = redis as ScriptRedis;
    this.keys = appKeys(prefix);
  }

  async claim(blastId: string, idx: number, owner: string, now = Date.now()): Promise<ClaimResult> {
    const record: ClaimRecord = { state: "claimed", owner, at: now };
    const [created, stored] = await this.redis.claimRecipient(
      this.keys.idempotency(blastId),
      idx,
      JSON.stringify(record),
      RECORD_TTL_SECONDS,
    );
    if (created === 1) return { kind: "claimed" };
    const existing = JSON.parse(stored) as ClaimRecord | SettledRecord;
    if (existing.state === "settled") return { kind: "settled", outcome: existing.outcome };
    return { kind: "in_flight", owner: existing.owner, since: existing.at };
  }

  async settle(blastId: string, idx: number, outcome: RecipientOutcome, now = Date.now()): Promise<void> {
    const record: SettledRecord = { state: "settled", outcome, at: now };
    await this.redis.hset(this.keys.idempotency(blastId), String(idx), JSON.stringify(record));
  }

  async count(blastId: string): Promise<number> {
    return this.redis.hlen(this.keys.idempotency(blastId));
  }
}

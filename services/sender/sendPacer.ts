// Keeps one account's sends at a human pace: remembers when it sent and when it first sent (in
// Redis, so the caps and the warm-up ramp hold across restarts and across senders when the session
// moves) and says how long to wait before the next message, or how many may go at once, under the
// session's and the blast's pacing policy.
import type { Redis } from "ioredis";
import {
  isUnlimited,
  nextSendTime,
  pruneSends,
  sendAllowance,
  type PacingPolicy,
} from "../../shared/domain/pacing.ts";
import { appKeys, type AppKeys } from "../../shared/redis/keys.ts";

const DAY_MS = 24 * 3600 * 1000;

interface SendHistory {
  readonly sends: number[];
  readonly firstSendAt: number | undefined;
}

export class SendPacer {
  private readonly keys: AppKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.keys = appKeys(prefix);
  }

  /** The last day's sends and the first send ever, read in one round trip. */
  private async history(sessionId: string): Promise<SendHistory> {
    const now = this.now();
    const replies = await this.redis
      .multi()
      .zrangebyscore(this.keys.pace(sessionId), now - DAY_MS, "+inf")
      .get(this.keys.firstSend(sessionId))
      .exec();
    const [members, first] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    const firstSendAt = typeof first === "string" ? Number(first) : undefined;
    return {
      sends: pruneSends(
        (members as string[]).map((member) => Number(member.split(":")[0])),
        now,
      ),
      firstSendAt: Number.isFinite(firstSendAt) ? firstSendAt : undefined,
    };
  }

  async recentSends(sessionId: string): Promise<number[]> {
    return (await this.history(sessionId)).sends;
  }

  /** When the next message from this session may go, and which rule decided it. */
  async nextSlot(sessionId: string, policy: PacingPolicy): Promise<{ at: number; reason: string }> {
    // An unlimited account sends thousands a minute: reading its day of sends per batch would
    // cost more than the batch.
    if (isUnlimited(policy)) return { at: this.now(), reason: "unlimited" };
    const { sends, firstSendAt } = await this.history(sessionId);
    return nextSendTime(policy, sends, this.now(), this.random, firstSendAt);
  }

  /** How many messages may go right now, back to back (Infinity: nothing limits them). */
  async allowance(sessionId: string, policy: PacingPolicy): Promise<number> {
    if (isUnlimited(policy)) return Infinity;
    const { sends, firstSendAt } = await this.history(sessionId);
    return sendAllowance(policy, sends, this.now(), firstSendAt);
  }

  async recordSend(sessionId: string): Promise<void> {
    await this.recordSends(sessionId, 1);
  }

  /**
   * Records `count` sends made now, in one round trip (one disk flush with appendfsync always).
   * Under an unlimited policy only the first send is kept (for a warm-up set later): a day of an
   * unlimited account's sends would be a large set nobody reads.
   */
  async recordSends(sessionId: string, count: number, policy?: PacingPolicy): Promise<void> {
    if (count <= 0) return;
    const at = this.now();
    if (policy && isUnlimited(policy)) {
      await this.redis.set(this.keys.firstSend(sessionId), String(at), "NX");
      return;
    }
    const key = this.keys.pace(sessionId);
    // Members must differ, or sends at the same millisecond would count once.
    const tag = Math.random().toString(36).slice(2, 8);
    const scored = Array.from({ length: count }, (_, i) => [at, `${at}:${tag}${i}`]).flat();
    await this.redis
      .multi()
      .zadd(key, ...scored)
      .zremrangebyscore(key, "-inf", at - DAY_MS)
      .expire(key, 2 * 24 * 3600)
      // Only the first send ever sets it: the warm-up counts its days from there.
      .set(this.keys.firstSend(sessionId), String(at), "NX")
      .exec();
  }
}

// Keeps one account's sends at a human pace: remembers when it sent (in Redis, so the caps hold
// across restarts and across senders when the session moves) and says how long to wait before the
// next message under the session's and the blast's pacing policy.
import type { Redis } from "ioredis";
import { nextSendTime, pruneSends, type PacingPolicy } from "../../shared/domain/pacing.ts";

const DAY_MS = 24 * 3600 * 1000;

export class SendPacer {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  private key(sessionId: string): string {
    return `${this.prefix}pace:${sessionId}`;
  }

  async recentSends(sessionId: string): Promise<number[]> {
    const since = this.now() - DAY_MS;
    const scores = await this.redis.zrangebyscore(this.key(sessionId), since, "+inf");
    return pruneSends(
      scores.map((member) => Number(member.split(":")[0])),
      this.now(),
    );
  }

  /** When the next message from this session may go, and which rule decided it. */
  async nextSlot(sessionId: string, policy: PacingPolicy): Promise<{ at: number; reason: string }> {
    return nextSendTime(policy, await this.recentSends(sessionId), this.now(), this.random);
  }

  async recordSend(sessionId: string): Promise<void> {
    const at = this.now();
    const key = this.key(sessionId);
    await this.redis
      .multi()
      .zadd(key, at, `${at}:${Math.random().toString(36).slice(2, 8)}`)
      .zremrangebyscore(key, "-inf", at - DAY_MS)
      .expire(key, 2 * 24 * 3600)
      .exec();
  }
}

// `Idempotency-Key` on POST /api/blasts: a client that retries after a timeout gets the first
// answer again instead of a second blast to the same people.
import type { Redis } from "ioredis";
import { HttpError } from "../http/errors.ts";

const TTL_SECONDS = 24 * 3600;
const PENDING = "pending";

export class RequestIdempotency {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(idempotencyKey: string): string {
    return `${this.prefix}request:${idempotencyKey}`;
  }

  /** Runs `work` once per key; a repeat returns the stored result with `replayed: true`. */
  async once<T>(
    idempotencyKey: string | undefined,
    work: () => Promise<T>,
  ): Promise<{ result: T; replayed: boolean }> {
    if (idempotencyKey === undefined) return { result: await work(), replayed: false };
    const key = this.key(idempotencyKey);
    const claimed = await this.redis.set(key, PENDING, "EX", TTL_SECONDS, "NX");
    if (claimed !== "OK") {
      const stored = await this.redis.get(key);
      if (stored === null || stored === PENDING) {
        throw new HttpError(
          409,
          "a request with this Idempotency-Key is still being processed; retry shortly",
        );
      }
      return { result: JSON.parse(stored) as T, replayed: true };
    }
    try {
      const result = await work();
      await this.redis.set(key, JSON.stringify(result), "EX", TTL_SECONDS);
      return { result, replayed: false };
    } catch (err) {
      await this.redis.del(key);
      throw err;
    }
  }
}

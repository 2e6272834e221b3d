// The suppression list: numbers that must never be sent a campaign message. One list for the
// deployment, checked when a blast is planned (a batch of numbers in one HMGET) and again inside
// the send claim's script (shared/redis/idempotency.ts), so a number that opts out after its blast
// was queued is never sent. Every change is also a consent event (shared/messages/consentEvents.ts).
import type { Redis } from "ioredis";
import type { ConsentSource } from "../messages/consentEvents.ts";
import { appKeys } from "./keys.ts";

export interface SuppressionEntry {
  /** E.164. */
  readonly phone: string;
  readonly source: ConsentSource;
  readonly reason?: string;
  readonly sessionId?: string;
  readonly messageId?: string;
  readonly text?: string;
  /** ISO time it was added. */
  readonly at: string;
}

function decodeEntry(phone: string, stored: string): SuppressionEntry {
  return { ...(JSON.parse(stored) as Omit<SuppressionEntry, "phone">), phone };
}

export class SuppressionList {
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = appKeys(prefix);
  }

  /**
   * Adds (or refreshes) the entries in one transaction; returns the numbers that were not listed
   * (HSET says which fields it created, so the answer is exact whatever runs alongside).
   */
  async add(entries: readonly SuppressionEntry[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const multi = this.redis.multi();
    for (const { phone, ...entry } of entries) {
      multi.hset(this.keys.suppression, phone, JSON.stringify(entry));
      multi.zadd(this.keys.suppressionIndex, Date.parse(entry.at), phone);
    }
    return this.phonesWhere(entries, await multi.exec());
  }

  /**
   * Adds the entries whose numbers are not listed, in one transaction; a listed number keeps the
   * entry it has (the opt-out on record, with its source, is not overwritten by a later list).
   * Returns the numbers added.
   */
  async addUnlisted(entries: readonly SuppressionEntry[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const multi = this.redis.multi();
    for (const { phone, ...entry } of entries) {
      multi.hsetnx(this.keys.suppression, phone, JSON.stringify(entry));
      // Written with the entry, so the index has a number exactly when the list does.
      multi.zadd(this.keys.suppressionIndex, "NX", Date.parse(entry.at), phone);
    }
    return this.phonesWhere(entries, await multi.exec());
  }

  /** Removes the numbers in one transaction; returns those that were listed. */
  async remove(phones: readonly string[]): Promise<string[]> {
    if (phones.length === 0) return [];
    const multi = this.redis.multi();
    for (const phone of phones) {
      multi.hdel(this.keys.suppression, phone);
      multi.zrem(this.keys.suppressionIndex, phone);
    }
    return this.phonesWhere(
      phones.map((phone) => ({ phone })),
      await multi.exec(),
    );
  }

  /** The phones whose first command of their pair in the transaction changed the hash. */
  private phonesWhere(
    items: ReadonlyArray<{ readonly phone: string }>,
    replies: Array<[error: Error | null, result: unknown]> | null,
  ): string[] {
    if (!replies) throw new Error("the suppression list transaction was aborted");
    const changed: string[] = [];
    items.forEach(({ phone }, i) => {
      const [error, result] = replies[2 * i] ?? [new Error("no reply"), 0];
      if (error) throw error;
      if (result === 1) changed.push(phone);
    });
    return changed;
  }

  async get(phone: string): Promise<SuppressionEntry | undefined> {
    const stored = await this.redis.hget(this.keys.suppression, phone);
    return stored === null ? undefined : decodeEntry(phone, stored);
  }

  /** Which of these numbers are listed: one round trip for a whole batch. */
  async suppressedAmong(phones: readonly string[]): Promise<Set<string>> {
    if (phones.length === 0) return new Set();
    const stored = await this.redis.hmget(this.keys.suppression, ...phones);
    const listed = new Set<string>();
    stored.forEach((value, i) => {
      const phone = phones[i];
      if (value !== null && phone !== undefined) listed.add(phone);
    });
    return listed;
  }

  async count(): Promise<number> {
    return this.redis.hlen(this.keys.suppression);
  }

  /** A page of entries, newest first. */
  async page(offset: number, limit: number): Promise<SuppressionEntry[]> {
    const phones = await this.redis.zrevrange(this.keys.suppressionIndex, offset, offset + limit - 1);
    if (phones.length === 0) return [];
    const stored = await this.redis.hmget(this.keys.suppression, ...phones);
    const entries: SuppressionEntry[] = [];
    stored.forEach((value, i) => {
      const phone = phones[i];
      if (value !== null && phone !== undefined) entries.push(decodeEntry(phone, value));
    });
    return entries;
  }

  /** Every entry, newest first, a page at a time (an export never holds the whole list). */
  async *all(pageSize = 1000): AsyncGenerator<SuppressionEntry[]> {
    for (let offset = 0; ; offset += pageSize) {
      const entries = await this.page(offset, pageSize);
      if (entries.length === 0) return;
      yield entries;
    }
  }
}

// What the inbound processor needs to know about our side of a conversation: the latest blast
// message each account sent each number (written when a send settles, kept for the reply window),
// which numbers have written to an account, and which inbound messages are already processed.
import type { Redis } from "ioredis";
import { isValidId } from "../domain/ids.ts";
import { attributeReply, type SentMessageRef } from "../domain/replyAttribution.ts";
import { appKeys } from "./keys.ts";

const PROCESSED_TTL_SECONDS = 30 * 24 * 3600;

export class Conversations {
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    /** How long a sent message can be answered by a message that does not quote it. */
    private readonly replyWindowMs: number,
  ) {
    this.keys = appKeys(prefix);
  }

  /** Remembers the messages an account just sent, one pipeline for the batch. */
  async rememberSent(sessionId: string, sent: readonly SentMessageRef[], at = Date.now()): Promise<void> {
    if (sent.length === 0 || this.replyWindowMs <= 0) return;
    const pipeline = this.redis.pipeline();
    for (const { blastId, idx, phone } of sent) {
      const ref: SentMessageRef = { blastId, idx, phone, at };
      pipeline.set(this.keys.lastSent(sessionId, phone), JSON.stringify(ref), "PX", this.replyWindowMs);
    }
    await pipeline.exec();
  }

  async lastSent(sessionId: string, phone: string): Promise<SentMessageRef | undefined> {
    const stored = await this.redis.get(this.keys.lastSent(sessionId, phone));
    return stored === null ? undefined : (JSON.parse(stored) as SentMessageRef);
  }

  /** Our blast message with this WhatsApp id (the receipt mapping the claim writes), if any. */
  async sentMessage(messageId: string): Promise<SentMessageRef | undefined> {
    const mapping = await this.redis.hgetall(this.keys.sentMessage(messageId));
    if (!mapping.blastId || mapping.idx === undefined || mapping.phone === undefined) return undefined;
    return { blastId: mapping.blastId, idx: Number(mapping.idx), phone: mapping.phone };
  }

  /**
   * The blast recipient a person's message answers, by the rules of attributeReply: what it
   * quotes, else the latest blast message to that number within the reply window.
   */
  async replyTarget(
    sessionId: string,
    phone: string | undefined,
    quotedMessageId: string | undefined,
    now: number,
  ): Promise<{ blastId: string; idx: number } | undefined> {
    // Quoted ids come from outside and name a Redis key: only ids shaped like ours are looked up.
    const quoted =
      quotedMessageId !== undefined && isValidId(quotedMessageId)
        ? await this.sentMessage(quotedMessageId)
        : undefined;
    const lastSent = phone !== undefined ? await this.lastSent(sessionId, phone) : undefined;
    return attributeReply({
      phone,
      ...(quoted ? { quoted } : {}),
      ...(lastSent ? { lastSent } : {}),
      now,
      windowMs: this.replyWindowMs,
    });
  }

  async markRepliedTo(sessionId: string, phone: string): Promise<void> {
    await this.redis.sadd(this.keys.repliedTo(sessionId), phone);
  }

  /** Takes the right to confirm this inbound message; false when it was taken before. */
  async claimConfirmation(sessionId: string, messageId: string): Promise<boolean> {
    const key = this.keys.confirmationSent(sessionId, messageId);
    return (await this.redis.set(key, "1", "EX", PROCESSED_TTL_SECONDS, "NX")) === "OK";
  }

  async releaseConfirmation(sessionId: string, messageId: string): Promise<void> {
    await this.redis.del(this.keys.confirmationSent(sessionId, messageId));
  }

  async isProcessed(sessionId: string, messageId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.inboundProcessed(sessionId, messageId))) === 1;
  }

  async markProcessed(sessionId: string, messageId: string): Promise<void> {
    await this.redis.set(this.keys.inboundProcessed(sessionId, messageId), "1", "EX", PROCESSED_TTL_SECONDS);
  }
}

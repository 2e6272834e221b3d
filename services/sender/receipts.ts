// Delivery receipts from recipients' phones become `recipient.delivered` / `recipient.read`
// events. Our message id is derived from (blast, recipient); the claim stores which it was
// (shared/redis/idempotency.ts) so a receipt that arrives hours later, on any sender, finds its
// recipient.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { BlastEvent } from "../../shared/domain/blast.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { appendEvents } from "../../shared/nats/eventLog.ts";
import { appKeys } from "../../shared/redis/keys.ts";
import type { ReceiptStatus } from "./transports/transport.ts";

export class ReceiptRecorder {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly nats: Nats,
    private readonly log: Logger,
  ) {}

  private key(messageId: string): string {
    return appKeys(this.prefix).sentMessage(messageId);
  }

  /** `to`, when the transport could name the sender, must be the number the message went to. */
  async record(
    sessionId: string,
    receipt: { messageId: string; to?: string; status: ReceiptStatus },
  ): Promise<void> {
    const key = this.key(receipt.messageId);
    const sent = await this.redis.hmget(key, "blastId", "idx", "phone");
    const [blastId, idx, phone] = sent;
    if (!blastId || idx === null || idx === undefined || !phone) {
      this.log.debug({ messageId: receipt.messageId }, "receipt for a message we did not send");
      return;
    }
    if (receipt.to !== undefined && receipt.to !== phone) {
      this.log.warn({ messageId: receipt.messageId }, "receipt from someone the message did not go to");
      return;
    }
    const at = new Date().toISOString();
    const data = { blastId, idx: Number(idx), phone, at, sessionId };
    const events: BlastEvent[] = [];
    // WhatsApp can skip straight to "read" (or Baileys merges the two): a read message was
    // delivered too, so each recipient's log shows delivered before read, once each.
    if ((await this.redis.hsetnx(key, "delivered", at)) === 1)
      events.push({ type: "recipient.delivered", data });
    if (receipt.status !== "delivered" && (await this.redis.hsetnx(key, "read", at)) === 1) {
      events.push({ type: "recipient.read", data });
    }
    if (events.length > 0) await appendEvents(this.nats.js, events);
  }
}

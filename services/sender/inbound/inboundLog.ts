// Stores each message a person sends to one of our accounts in INBOUND_MESSAGES as it arrives,
// before anything acts on it: WhatsApp does not send it again, so this append is what keeps an
// opt-out from being lost. WhatsApp's id is the message id, so one seen twice is stored once. The
// event names the blast recipient it answers, so every reader (webhooks too) sees the same answer;
// when Redis cannot say, it is stored without, and the processor looks again.
import type { Logger } from "pino";
import { encodeInboundEvent, type InboundEvent } from "../../../shared/messages/inboundEvents.ts";
import type { Nats } from "../../../shared/nats/connection.ts";
import type { Conversations } from "../../../shared/redis/conversations.ts";
import { eventMsgId, subjects } from "../../../shared/nats/topology.ts";
import type { InboundMessage } from "../transports/transport.ts";

const ATTEMPTS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class InboundLog {
  constructor(
    private readonly nats: Nats,
    private readonly conversations: Conversations,
    private readonly log: Logger,
  ) {}

  /** Appends the message, retrying through a NATS hiccup (about half a minute in all). */
  async append(sessionId: string, message: InboundMessage, receivedAt = new Date()): Promise<void> {
    const answers = await this.conversations
      .replyTarget(sessionId, message.from, message.quotedMessageId, receivedAt.getTime())
      .catch((err: unknown) => {
        this.log.warn({ err, sessionId, messageId: message.messageId }, "reply not attributed on arrival");
        return undefined;
      });
    const event: InboundEvent = {
      type: "inbound.message",
      data: {
        sessionId,
        messageId: message.messageId,
        ...(message.from !== undefined ? { phone: message.from } : {}),
        fromJid: message.fromJid,
        text: message.text,
        ...(message.quotedMessageId !== undefined ? { quotedMessageId: message.quotedMessageId } : {}),
        ...(answers ? { answers } : {}),
        sentAt: message.sentAt.toISOString(),
        receivedAt: receivedAt.toISOString(),
      },
    };
    const data = encodeInboundEvent(event);
    const msgID = eventMsgId.inbound(sessionId, message.messageId);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.nats.js.publish(subjects.inboundMessage(sessionId), data, { msgID });
        return;
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
        this.log.warn(
          { err, sessionId, messageId: message.messageId, attempt },
          "inbound message not stored yet",
        );
        await sleep(250 * 2 ** attempt);
      }
    }
  }
}

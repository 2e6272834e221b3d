// A person's message to one of our accounts, on `inbound.<sessionId>.message` in
// INBOUND_MESSAGES: written by the sender that holds the account as the message arrives, read by
// the inbound processor (replies, opt-out keywords) and by webhooks. Decoded through the schema.
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";

export const InboundEventSchema = Type.Object({
  type: Type.Literal("inbound.message"),
  data: Type.Object({
    sessionId: Type.String(),
    /** WhatsApp's id of the message. */
    messageId: Type.String(),
    /** The sender's E.164 phone, resolved from a LID where needed; absent when it cannot be. */
    phone: Type.Optional(Type.String()),
    /** The JID exactly as received (`…@s.whatsapp.net` or `…@lid`). */
    fromJid: Type.String(),
    /** The text, or a media message's caption; "" when there is none. */
    text: Type.String(),
    /** Our message id this one quotes, when it is a reply to one of ours. */
    quotedMessageId: Type.Optional(Type.String()),
    /**
     * The blast recipient it answers, found when it arrived (shared/domain/replyAttribution.ts);
     * absent when it answers none, or was stored before attribution moved here.
     */
    answers: Type.Optional(Type.Object({ blastId: Type.String(), idx: Type.Integer({ minimum: 0 }) })),
    /** When the person sent it, by WhatsApp's clock. */
    sentAt: Type.String(),
    /** When our account received it. */
    receivedAt: Type.String(),
  }),
});

export type InboundEvent = Static<typeof InboundEventSchema>;

const checkInbound = Compile(InboundEventSchema);

export function encodeInboundEvent(event: InboundEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}

export function decodeInboundEvent(data: Uint8Array): InboundEvent {
  const value: unknown = JSON.parse(new TextDecoder().decode(data));
  if (!checkInbound.Check(value)) throw new Error("malformed inbound event");
  return value;
}

// The people a simulated WhatsApp talks to: who cannot be reached (a reproducible share, by
// number), who answers, with what, and the ids their messages carry. Decided by hashing the
// number, so a demo or a load run tells the same story every time.
import { createHash, randomBytes } from "node:crypto";
import type { InboundMessage } from "./transport.ts";

/** A message a test or demo makes a person send to a sim session. */
export interface SimInbound {
  /** The person's number, E.164. */
  readonly from: string;
  readonly text: string;
  readonly quotedMessageId?: string;
  /** Defaults to a fresh id shaped like WhatsApp's. */
  readonly messageId?: string;
  /** Defaults to the phone JID of `from`; give a `<lid>@lid` to play a sender addressed by LID. */
  readonly fromJid?: string;
}

export const defaultSimReplyTexts: readonly string[] = ["Thanks!", "Who is this?", "STOP"];

const hashOf = (seed: string) => createHash("sha256").update(seed).digest();

const bucketOf = (seed: string) => hashOf(seed).readUInt32BE(0) / 0x1_0000_0000;

export function simFails(phone: string, failureRate: number): boolean {
  if (failureRate <= 0) return false;
  return bucketOf(phone) < failureRate;
}

/** Whether this recipient answers; salted so repliers are not the same people whose sends fail. */
export function simReplies(phone: string, replyRate: number): boolean {
  if (replyRate <= 0) return false;
  return bucketOf(`reply:${phone}`) < replyRate;
}

/** A recipient always gives the same answer, so a demo tells the same story on every run. */
export function simReplyText(phone: string, replyTexts: readonly string[]): string {
  const texts = replyTexts.length > 0 ? replyTexts : defaultSimReplyTexts;
  return texts[hashOf(`reply-text:${phone}`).readUInt32BE(0) % texts.length] ?? "";
}

// Ids a phone would give its messages; a reply's is derived from what it answers so a rerun of a
// demo produces the same ids.
const randomInboundId = () => `3A${randomBytes(9).toString("hex").toUpperCase()}`;
export const replyIdFor = (sessionId: string, messageId: string) =>
  `3A${hashOf(`reply-id:${sessionId}:${messageId}`).toString("hex").slice(0, 18).toUpperCase()}`;

export function inboundMessage(inbound: SimInbound): InboundMessage {
  return {
    messageId: inbound.messageId ?? randomInboundId(),
    from: inbound.from,
    fromJid: inbound.fromJid ?? `${inbound.from.replace(/\D/g, "")}@s.whatsapp.net`,
    text: inbound.text,
    ...(inbound.quotedMessageId !== undefined ? { quotedMessageId: inbound.quotedMessageId } : {}),
    sentAt: new Date(),
  };
}

// A person's message to the account, as the transport seam reports it: who (the number resolved
// from a LID when WhatsApp addressed it so), the text or caption, and which of our messages it
// quotes. Our own messages echoed from the account's other devices, groups, status updates,
// channels and protocol traffic (receipts of history sync, key distribution) are not replies.
import {
  isJidBroadcast,
  isJidGroup,
  isJidNewsletter,
  isJidStatusBroadcast,
  normalizeMessageContent,
  type WAMessage,
} from "@whiskeysockets/baileys";
import type { InboundMessage } from "../transport.ts";
import { phoneOfJid, type LidDirectory } from "./addressing.ts";

type Content = NonNullable<ReturnType<typeof normalizeMessageContent>>;

/** The parts of a message a person wrote: text or caption, and the message it quotes. */
function writtenParts(content: Content): { text: string; quoted?: string } | undefined {
  const withContext =
    content.extendedTextMessage ??
    content.imageMessage ??
    content.videoMessage ??
    content.documentMessage ??
    content.audioMessage ??
    content.stickerMessage ??
    content.contactMessage ??
    content.locationMessage ??
    content.buttonsResponseMessage ??
    content.listResponseMessage;
  const text =
    content.conversation ??
    content.extendedTextMessage?.text ??
    content.imageMessage?.caption ??
    content.videoMessage?.caption ??
    content.documentMessage?.caption ??
    content.buttonsResponseMessage?.selectedDisplayText ??
    content.listResponseMessage?.title ??
    undefined;
  if (text === undefined && !withContext) return undefined;
  const quoted = withContext?.contextInfo?.stanzaId ?? undefined;
  return { text: text ?? "", ...(quoted ? { quoted } : {}) };
}

export async function inboundOf(
  message: WAMessage,
  directory: LidDirectory,
): Promise<InboundMessage | undefined> {
  const { key } = message;
  const jid = key.remoteJid;
  if (key.fromMe || !jid || !key.id) return undefined;
  if (isJidGroup(jid) || isJidStatusBroadcast(jid) || isJidBroadcast(jid) || isJidNewsletter(jid)) {
    return undefined;
  }
  if (message.messageStubType) return undefined; // could not be decrypted: nothing to read
  const content = normalizeMessageContent(message.message);
  if (!content || content.protocolMessage || content.reactionMessage) return undefined;
  const parts = writtenParts(content);
  if (!parts) return undefined;
  // A protobuf Long when it came through a proto decode, a number when Baileys set it.
  const raw = message.messageTimestamp;
  const seconds = typeof raw === "number" ? raw : raw ? Number(raw.toString()) : 0;
  return {
    messageId: key.id,
    from: await phoneOfJid(jid, directory, key.remoteJidAlt),
    fromJid: jid,
    text: parts.text,
    ...(parts.quoted ? { quotedMessageId: parts.quoted } : {}),
    sentAt: seconds > 0 ? new Date(seconds * 1000) : new Date(),
  };
}

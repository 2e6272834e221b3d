// Messages a person's phone sends to a linked account, as WhatsApp delivers them: one `<message>`
// per linked device of the account, each Signal-encrypted from the phone to that device (a
// `pkmsg` that starts the session the first time, `msg` after), from the sender's number or LID
// with the other form alongside, as the server writes the envelope.
import { proto, type BinaryNode } from "@whiskeysockets/baileys";
import { bundleOf, type LinkedDevice } from "./accounts.ts";
import { lidJid, userJid, type FakePhone } from "./fakePhones.ts";

export interface PhoneMessage {
  readonly text: string;
  /** The id of the account's message this one replies to (quotes). */
  readonly quotedId?: string;
  /** Defaults to a fresh id like the ones phones make. */
  readonly id?: string;
  /** The sender's profile name, shown to the account as `notify`. */
  readonly pushName?: string;
  /** Leave out the other form of the sender's jid (`sender_pn` / `sender_lid`) from the envelope. */
  readonly withoutAlternateJid?: boolean;
}

export function messageContent(message: PhoneMessage, account: string): proto.IMessage {
  if (!message.quotedId) return { conversation: message.text };
  return {
    extendedTextMessage: {
      text: message.text,
      contextInfo: {
        stanzaId: message.quotedId,
        participant: userJid(account),
        quotedMessage: { conversation: "" },
      },
    },
  };
}

/** The stanza one linked device of the account receives. */
export async function phoneMessageStanza(
  phone: FakePhone,
  lidAddressed: boolean,
  device: LinkedDevice,
  id: string,
  message: PhoneMessage,
): Promise<BinaryNode> {
  const pn = userJid(phone.phone);
  const lid = lidJid(phone.lid);
  const alternate: Record<string, string> = message.withoutAlternateJid
    ? {}
    : lidAddressed
      ? { sender_pn: pn }
      : { sender_lid: lid };
  return encryptedStanza(phone, device, messageContent(message, device.account), {
    from: lidAddressed ? lid : pn,
    id,
    type: "text",
    ...(message.pushName ? { notify: message.pushName } : {}),
    ...alternate,
  });
}

/**
 * What the account's own phone sends its linked device (history sync, app-state keys): a peer
 * message from the account's number, which Baileys treats as its own and answers with receipts.
 */
export function ownPhoneStanza(
  accountPhone: FakePhone,
  device: LinkedDevice,
  id: string,
  content: proto.IMessage,
): Promise<BinaryNode> {
  return encryptedStanza(accountPhone, device, content, {
    from: userJid(accountPhone.phone),
    id,
    type: "text",
    category: "peer",
    push_priority: "high_force",
  });
}

async function encryptedStanza(
  sender: FakePhone,
  device: LinkedDevice,
  content: proto.IMessage,
  attrs: Record<string, string>,
): Promise<BinaryNode> {
  const { type, ciphertext } = await sender.device(0).encrypt(device.jid, content, () => bundleOf(device));
  return {
    tag: "message",
    attrs: { ...attrs, t: `${Math.floor(Date.now() / 1000)}` },
    content: [{ tag: "enc", attrs: { v: "2", type }, content: ciphertext }],
  };
}

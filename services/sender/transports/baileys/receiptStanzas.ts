// What a `<receipt>` stanza says about messages this account sent: which ids, delivered or read
// or played, and by whom (the JID as sent: a number or a LID; addressing.ts turns it into E.164).
// Receipts from the account's own other devices (under its number or its LID), from groups and
// status broadcasts, and the server's own "sender" receipts say nothing about a recipient's phone.
import {
  areJidsSameUser,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  isJidGroup,
  isJidStatusBroadcast,
  type BinaryNode,
} from "@whiskeysockets/baileys";
import type { ReceiptStatus } from "../transport.ts";

const STATUS_BY_TYPE: Record<string, ReceiptStatus> = { read: "read", played: "played" };

export interface ReceiptStanza {
  readonly messageId: string;
  /** Who sent the receipt, as WhatsApp wrote it: `<digits>@s.whatsapp.net` or `<lid>@lid`. */
  readonly fromJid: string;
  readonly status: ReceiptStatus;
}

export function receiptsOf(
  node: BinaryNode,
  own: { id?: string | undefined; lid?: string | undefined } | undefined,
): ReceiptStanza[] {
  const { id, from, type, recipient, participant } = node.attrs;
  if (!id || !from || recipient || participant) return [];
  if (isJidGroup(from) || isJidStatusBroadcast(from)) return [];
  if (areJidsSameUser(from, own?.id) || areJidsSameUser(from, own?.lid)) return [];
  const status = type === undefined ? "delivered" : STATUS_BY_TYPE[type];
  if (!status) return [];
  const list = getBinaryNodeChild(node, "list");
  const ids = [id, ...getBinaryNodeChildren(list, "item").flatMap((item) => item.attrs.id ?? [])];
  return ids.map((messageId) => ({ messageId, fromJid: from, status }));
}

// What a `<receipt>` stanza says about messages this account sent: which ids, delivered or read
// or played, and by whom. Receipts from the account's own other devices, from groups and status
// broadcasts, and the server's own "sender" receipts say nothing about a recipient's phone.
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

export function receiptsOf(
  node: BinaryNode,
  ownJid: string | undefined,
): Array<{ messageId: string; to: string; status: ReceiptStatus }> {
  const { id, from, type, recipient, participant } = node.attrs;
  if (!id || !from || recipient || participant) return [];
  if (isJidGroup(from) || isJidStatusBroadcast(from) || areJidsSameUser(from, ownJid)) return [];
  const status = type === undefined ? "delivered" : STATUS_BY_TYPE[type];
  if (!status) return [];
  const list = getBinaryNodeChild(node, "list");
  const ids = [id, ...getBinaryNodeChildren(list, "item").flatMap((item) => item.attrs.id ?? [])];
  const to = `+${from.split(/[:@]/)[0]}`;
  return ids.map((messageId) => ({ messageId, to, status }));
}

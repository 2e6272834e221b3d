// Outgoing messages as the server sees them: each recipient's `enc` is decrypted by that
// recipient's fake phone, the server answers with an ack (or an error ack a test asked for), and
// the recipient later reports delivery and reading.
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode, proto } from "@whiskeysockets/baileys";
import { normalizePhone, phoneOfJid, textOf, userJid, type FakePhoneBook } from "./fakePhones.ts";

export interface SentMessage {
  readonly id: string;
  /** Account phone (digits) that sent it. */
  readonly from: string;
  /** Recipient phone (digits). */
  readonly to: string;
  readonly text: string | undefined;
  readonly message: proto.IMessage | undefined;
  /** The `error` of the ack the client got, e.g. "463"; undefined when the server accepted it. */
  readonly error: string | undefined;
  /** Why the recipient's phone could not read it; a bug in the client or the fake. */
  readonly decryptError: string | undefined;
  readonly at: number;
}

export interface FailureRule {
  /** Recipient phone; any recipient when omitted. */
  readonly to?: string;
  readonly id?: string;
  /** Ack error code, e.g. "479" or "463". */
  readonly error: string;
  /** How many matching messages fail; every one when omitted. */
  times?: number;
}

export interface ReceiptTiming {
  /** Delay from the ack to the delivery receipt; null: never delivered. */
  readonly deliveredAfterMs: number | null;
  /** Delay from delivery to the read receipt; null: never read. */
  readonly readAfterMs: number | null;
}

const unixTime = () => `${Math.floor(Date.now() / 1000)}`;

function encOf(to: BinaryNode): { type: "pkmsg" | "msg"; ciphertext: Uint8Array } | undefined {
  const enc = getBinaryNodeChild(to, "enc");
  const type = enc?.attrs.type;
  if (!(enc?.content instanceof Uint8Array) || (type !== "pkmsg" && type !== "msg")) return undefined;
  return { type, ciphertext: enc.content };
}

/** A typing indicator an account showed a recipient (`composing`, then `paused`). */
export interface ChatState {
  readonly from: string;
  readonly to: string;
  readonly state: string;
  readonly at: number;
}

export class MessageDesk {
  readonly sent: SentMessage[] = [];
  readonly chatStates: ChatState[] = [];
  readonly rules: FailureRule[] = [];
  restrictNewContacts = false;
  /** `from>to` pairs that had a message accepted: no longer "new contacts" for the 463 rule. */
  private readonly contacted = new Set<string>();

  constructor(private readonly phones: FakePhoneBook) {}

  private failureFor(from: string, to: string, id: string): string | undefined {
    const rule = this.rules.find(
      (r) => (r.to === undefined || normalizePhone(r.to) === to) && (r.id === undefined || r.id === id),
    );
    if (rule) {
      if (rule.times !== undefined && --rule.times <= 0) this.rules.splice(this.rules.indexOf(rule), 1);
      return rule.error;
    }
    if (this.restrictNewContacts && !this.contacted.has(`${from}>${to}`)) return "463";
    return undefined;
  }

  /** Reads a `<message>` stanza from the linked device `senderJid`; returns the record and the ack. */
  async accept(stanza: BinaryNode, senderJid: string): Promise<{ record: SentMessage; ack: BinaryNode }> {
    const id = stanza.attrs.id ?? "";
    const destination = stanza.attrs.to ?? "";
    const from = phoneOfJid(senderJid);
    const to = phoneOfJid(destination);
    let message: proto.IMessage | undefined;
    let decryptError: string | undefined;
    for (const participant of getBinaryNodeChildren(getBinaryNodeChild(stanza, "participants"), "to")) {
      const jid = participant.attrs.jid ?? "";
      const enc = encOf(participant);
      try {
        if (!enc) throw new Error(`no pkmsg/msg enc for ${jid}`);
        // Every addressed phone decrypts, so its Signal session advances as the real one would.
        const plain = await this.phones.phone(phoneOfJid(jid)).decrypt(senderJid, enc.type, enc.ciphertext);
        if (phoneOfJid(jid) === to) message = plain;
      } catch (err) {
        if (phoneOfJid(jid) === to) decryptError = err instanceof Error ? err.message : String(err);
      }
    }
    const error = this.failureFor(from, to, id);
    if (!error) this.contacted.add(`${from}>${to}`);
    const record: SentMessage = {
      id,
      from,
      to,
      text: textOf(message),
      message,
      error,
      decryptError: message || decryptError ? decryptError : "recipient missing from participants",
      at: Date.now(),
    };
    this.sent.push(record);
    const ack: BinaryNode = {
      tag: "ack",
      attrs: { class: "message", id, from: destination, t: unixTime(), ...(error ? { error } : {}) },
    };
    return { record, ack };
  }

  /** Reads a `<chatstate to><composing/></chatstate>` from the logged-in account `from`. */
  chatState(stanza: BinaryNode, from: string): void {
    const state = Array.isArray(stanza.content) ? stanza.content[0]?.tag : undefined;
    if (!state || !stanza.attrs.to) return;
    this.chatStates.push({ from, to: phoneOfJid(stanza.attrs.to), state, at: Date.now() });
  }

  receipt(record: SentMessage, type: "delivery" | "read"): BinaryNode {
    return {
      tag: "receipt",
      attrs: { id: record.id, from: userJid(record.to), t: unixTime(), ...(type === "read" ? { type } : {}) },
    };
  }
}

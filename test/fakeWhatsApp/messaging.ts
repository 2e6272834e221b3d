// Outgoing messages as the server sees them: each recipient's `enc` is decrypted by that
// recipient's fake phone, the server answers with an ack (or an error ack a test asked for), and
// the recipient later reports delivery and reading.
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode, proto } from "@whiskeysockets/baileys";
import { decryptMedia, mediaInMessage, type MediaHost, type MediaKind } from "./mediaHost.ts";
import { deviceOfJid, normalizePhone, phoneOfJid, textOf, type FakePhoneBook } from "./fakePhones.ts";

export interface SentMessage {
  readonly id: string;
  /** Account phone (digits) that sent it. */
  readonly from: string;
  /** Recipient phone (digits), whether the client addressed it by number or by LID. */
  readonly to: string;
  /** The jid the client put in the stanza's `to`: the number or the LID. */
  readonly toJid: string;
  readonly text: string | undefined;
  /** What the recipient's phone (device 0) read. */
  readonly message: proto.IMessage | undefined;
  /** What each of the recipient's devices read, phone first: a desktop gets its own copy. */
  readonly copies: { device: number; message: proto.IMessage | undefined; decryptError?: string }[];
  /** The `error` of the ack the client got, e.g. "463"; undefined when the server accepted it. */
  readonly error: string | undefined;
  /** Why the recipient's phone could not read it; a bug in the client or the fake. */
  readonly decryptError: string | undefined;
  /** An attachment as the recipient's phone downloaded and decrypted it, or why it could not. */
  readonly media?: { kind: MediaKind; bytes?: Buffer; error?: string };
  readonly at: number;
}

export interface FailureRule {
  /** Recipient phone; any recipient when omitted. */
  readonly to?: string;
  /** The sending account's phone; any account when omitted (one account restricted, not all). */
  readonly from?: string;
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

  /** Where recipients download attachments from; set when the fake runs a media host. */
  mediaHost: MediaHost | undefined;

  constructor(private readonly phones: FakePhoneBook) {}

  /** The recipient's phone fetches and decrypts an attachment exactly as it would to show it. */
  private async downloadMedia(message: proto.IMessage | undefined): Promise<SentMessage["media"]> {
    const found = mediaInMessage(message);
    if (!found) return undefined;
    if (!this.mediaHost) return { kind: found.kind, error: "the fake runs no media host" };
    try {
      return { kind: found.kind, bytes: await decryptMedia(this.mediaHost, found.media, found.kind) };
    } catch (err) {
      return { kind: found.kind, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private failureFor(from: string, to: string, id: string): string | undefined {
    const rule = this.rules.find(
      (r) =>
        (r.to === undefined || normalizePhone(r.to) === to) &&
        (r.from === undefined || normalizePhone(r.from) === from) &&
        (r.id === undefined || r.id === id),
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
    const to = this.phones.ofJid(destination)?.phone ?? phoneOfJid(destination);
    const copies: SentMessage["copies"] = [];
    for (const participant of getBinaryNodeChildren(getBinaryNodeChild(stanza, "participants"), "to")) {
      const jid = participant.attrs.jid ?? "";
      const phone = this.phones.ofJid(jid);
      const device = deviceOfJid(jid);
      const enc = encOf(participant);
      let message: proto.IMessage | undefined;
      let decryptError: string | undefined;
      try {
        if (!phone) throw new Error(`nobody has the jid ${jid}`);
        if (!enc) throw new Error(`no pkmsg/msg enc for ${jid}`);
        // Every addressed device decrypts, so its Signal session advances as the real one would.
        message = await phone.device(device).decrypt(senderJid, enc.type, enc.ciphertext);
      } catch (err) {
        decryptError = err instanceof Error ? err.message : String(err);
      }
      if (phone?.phone === to) copies.push({ device, message, ...(decryptError ? { decryptError } : {}) });
    }
    copies.sort((a, b) => a.device - b.device);
    const primary = copies.find((c) => c.device === 0);
    const message = primary?.message;
    const decryptError = primary?.decryptError;
    const error = this.failureFor(from, to, id);
    if (!error) this.contacted.add(`${from}>${to}`);
    const media = error ? undefined : await this.downloadMedia(message);
    const record: SentMessage = {
      id,
      from,
      to,
      toJid: destination,
      text: textOf(message),
      message,
      copies,
      error,
      decryptError: message || decryptError ? decryptError : "recipient missing from participants",
      ...(media ? { media } : {}),
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
    const to = this.phones.ofJid(stanza.attrs.to)?.phone ?? phoneOfJid(stanza.attrs.to);
    this.chatStates.push({ from, to, state, at: Date.now() });
  }

  /** From the recipient's LID when WhatsApp addresses that person by LID, else from the number. */
  receipt(record: SentMessage, type: "delivery" | "read"): BinaryNode {
    return {
      tag: "receipt",
      attrs: {
        id: record.id,
        from: this.phones.addressOf(record.to),
        t: unixTime(),
        ...(type === "read" ? { type } : {}),
      },
    };
  }
}

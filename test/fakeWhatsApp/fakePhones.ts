// The people on the other end: each fake phone has a phone number and a LID (WhatsApp's second
// identity for the same user), one primary device and optionally linked ones (a desktop), and each
// device owns identity and prekeys like a real one, hands out prekey bundles, and decrypts what it
// receives (and encrypts what it sends) with Baileys' own Signal repository.
import {
  addTransactionCapability,
  Curve,
  encodeBigEndian,
  encodeWAMessage,
  initAuthCreds,
  KEY_BUNDLE_TYPE,
  DEFAULT_CONNECTION_CONFIG,
  proto,
  unpadRandomMax16,
  type AuthenticationCreds,
  type BinaryNode,
  type KeyPair,
} from "@whiskeysockets/baileys";
import { createHash } from "node:crypto";
import { pino } from "pino";
import { MemoryKeyStore } from "./memoryKeyStore.ts";

const silent = pino({ level: "silent" });

const userPart = (phone: string): string => phone.replace(/^\+/, "").split("@")[0]?.split(":")[0] ?? "";

export const isPhone = (phone: string): boolean => /^\d{5,20}$/.test(userPart(phone));

/** Digits only, as WhatsApp writes the user part of a jid. */
export function normalizePhone(phone: string): string {
  if (!isPhone(phone)) throw new Error(`not a phone number: ${phone}`);
  return userPart(phone);
}

export const userJid = (phone: string): string => `${phone}@s.whatsapp.net`;
export const lidJid = (lid: string): string => `${lid}@lid`;

/** The user part of a jid such as `123:4@s.whatsapp.net`. */
export const phoneOfJid = (jid: string): string => jid.split("@")[0]?.split(":")[0] ?? "";

/** The device number of a jid such as `123:4@lid` (0, the phone itself, when there is none). */
export const deviceOfJid = (jid: string): number => Number(jid.split("@")[0]?.split(":")[1] ?? 0);

export const isLidJid = (jid: string): boolean => jid.endsWith("@lid");

/** A stable LID per number, so runs and restarts of the fake agree; real LIDs are ~15 digits. */
export function lidOf(phone: string): string {
  const digest = createHash("sha256")
    .update(`lid:${normalizePhone(phone)}`)
    .digest();
  return `2${(digest.readBigUInt64BE(0) % 10n ** 14n).toString().padStart(14, "0")}`;
}

/** The text a person would read, unwrapping the copy a sender's own phone receives. */
export function textOf(message: proto.IMessage | null | undefined): string | undefined {
  if (!message) return undefined;
  return (
    message.conversation ??
    message.extendedTextMessage?.text ??
    message.imageMessage?.caption ??
    message.videoMessage?.caption ??
    message.documentMessage?.caption ??
    textOf(message.deviceSentMessage?.message) ??
    undefined
  );
}

/** What a phone needs of a linked device to start a Signal session with it (its prekey bundle). */
export interface DeviceBundle {
  readonly registrationId: number;
  readonly identityKey: Uint8Array;
  readonly signedPreKey: { keyId: number; publicKey: Uint8Array; signature: Uint8Array };
  readonly preKey?: { keyId: number; publicKey: Uint8Array };
}

/** One device of a person: the phone (device 0) or a linked desktop. */
export class FakeDevice {
  private readonly creds: AuthenticationCreds = initAuthCreds();
  // Baileys 7's Signal repository runs every step in a key-store transaction.
  private readonly keys = addTransactionCapability(new MemoryKeyStore(), silent, {
    maxCommitRetries: 1,
    delayBetweenTriesMs: 0,
  });
  // The package exports its libsignal repository only as the default `makeSignalRepository`.
  private readonly signal = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
    { creds: this.creds, keys: this.keys },
    silent,
  );
  private nextPreKeyId = 1;

  constructor(readonly id: number) {}

  get identity(): KeyPair {
    return this.creds.signedIdentityKey;
  }

  /** A `<user>` entry of an `iq xmlns=encrypt` key fetch; each fetch spends a fresh one-time prekey. */
  keyBundle(jid: string): BinaryNode {
    const id = this.nextPreKeyId++;
    const preKey = Curve.generateKeyPair();
    this.keys.set({ "pre-key": { [id]: preKey } });
    const { signedPreKey } = this.creds;
    const bytes = (tag: string, content: Uint8Array): BinaryNode => ({ tag, attrs: {}, content });
    return {
      tag: "user",
      attrs: { jid },
      content: [
        bytes("registration", encodeBigEndian(this.creds.registrationId)),
        bytes("type", KEY_BUNDLE_TYPE),
        bytes("identity", this.creds.signedIdentityKey.public),
        {
          tag: "skey",
          attrs: {},
          content: [
            bytes("id", encodeBigEndian(signedPreKey.keyId, 3)),
            bytes("value", signedPreKey.keyPair.public),
            bytes("signature", signedPreKey.signature),
          ],
        },
        {
          tag: "key",
          attrs: {},
          content: [bytes("id", encodeBigEndian(id, 3)), bytes("value", preKey.public)],
        },
      ],
    };
  }

  /** Decrypts one `enc` addressed to this device from the sending device `from`. */
  async decrypt(from: string, type: "pkmsg" | "msg", ciphertext: Uint8Array): Promise<proto.Message> {
    const padded = await this.signal.decryptMessage({ jid: from, type, ciphertext });
    return proto.Message.decode(unpadRandomMax16(padded));
  }

  /**
   * Encrypts `message` for the linked device `to`: a `msg` on the session it already has with it,
   * or a `pkmsg` that starts one from `bundle` (the first message after a new link).
   */
  async encrypt(
    to: string,
    message: proto.IMessage,
    bundle: () => DeviceBundle | undefined,
  ): Promise<{ type: "pkmsg" | "msg"; ciphertext: Uint8Array }> {
    if (!(await this.signal.validateSession(to)).exists) {
      const session = bundle();
      if (!session) throw new Error(`fake phone: no prekey bundle for ${to}`);
      const signalKey = (key: Uint8Array) => Buffer.concat([KEY_BUNDLE_TYPE, key]);
      await this.signal.injectE2ESession({
        jid: to,
        session: {
          registrationId: session.registrationId,
          identityKey: signalKey(session.identityKey),
          signedPreKey: { ...session.signedPreKey, publicKey: signalKey(session.signedPreKey.publicKey) },
          ...(session.preKey
            ? { preKey: { ...session.preKey, publicKey: signalKey(session.preKey.publicKey) } }
            : {}),
        },
      });
    }
    return this.signal.encryptMessage({ jid: to, data: encodeWAMessage(message) });
  }
}

export class FakePhone {
  readonly lid: string;
  private readonly deviceMap = new Map<number, FakeDevice>([[0, new FakeDevice(0)]]);

  constructor(readonly phone: string) {
    this.lid = lidOf(phone);
  }

  /** Also the account signature key when this phone is the primary device of a linked account. */
  get identity(): KeyPair {
    return this.device(0).identity;
  }

  device(id: number): FakeDevice {
    const device = this.deviceMap.get(id);
    if (!device) throw new Error(`fake phone ${this.phone} has no device ${id}`);
    return device;
  }

  /** The phone's devices: 0 is the phone itself, the others linked companions (desktop, web). */
  get devices(): number[] {
    return [...this.deviceMap.keys()].sort((a, b) => a - b);
  }

  /** Gives the person `count` devices in all: the phone and `count - 1` linked ones. */
  setDeviceCount(count: number): void {
    for (let id = 1; id < count; id++)
      if (!this.deviceMap.has(id)) this.deviceMap.set(id, new FakeDevice(id));
    for (const id of this.deviceMap.keys()) if (id >= count && id !== 0) this.deviceMap.delete(id);
  }
}

/** Every phone number the fake knows, created on first use; which of them "are on WhatsApp". */
export class FakePhoneBook {
  private readonly phones = new Map<string, FakePhone>();
  private readonly byLid = new Map<string, FakePhone>();
  private registered: Set<string> | "all" = "all";
  private lidAddressed: Set<string> | "all" = new Set();

  phone(number: string): FakePhone {
    const phone = normalizePhone(number);
    let found = this.phones.get(phone);
    if (!found) {
      found = new FakePhone(phone);
      this.phones.set(phone, found);
      this.byLid.set(found.lid, found);
    }
    return found;
  }

  /** The phone behind a jid in either form (`<pn>@s.whatsapp.net` or `<lid>@lid`), if known. */
  ofJid(jid: string): FakePhone | undefined {
    const user = phoneOfJid(jid);
    if (!isPhone(user)) return undefined;
    return isLidJid(jid) ? this.byLid.get(user) : this.phone(user);
  }

  setRegistered(numbers: Iterable<string> | "all"): void {
    this.registered = numbers === "all" ? "all" : new Set([...numbers].map(normalizePhone));
  }

  addRegistered(number: string): void {
    if (this.registered !== "all") this.registered.add(normalizePhone(number));
  }

  isRegistered(number: string): boolean {
    if (!isPhone(number)) return false;
    return this.registered === "all" || this.registered.has(normalizePhone(number));
  }

  /** Numbers whose receipts and messages WhatsApp addresses from their LID instead of the number. */
  setLidAddressed(numbers: Iterable<string> | "all"): void {
    this.lidAddressed = numbers === "all" ? "all" : new Set([...numbers].map(normalizePhone));
  }

  isLidAddressed(number: string): boolean {
    return this.lidAddressed === "all" || this.lidAddressed.has(normalizePhone(number));
  }

  /** The jid the server writes in `from` for this person: the LID or the number. */
  addressOf(number: string): string {
    const phone = this.phone(number);
    return this.isLidAddressed(phone.phone) ? lidJid(phone.lid) : userJid(phone.phone);
  }
}

// The people on the other end: each fake phone owns identity and prekeys like a real primary
// device, hands out prekey bundles, and decrypts what it receives with Baileys' own Signal
// repository, so a test sees the plaintext the real client encrypted for it.
import {
  Curve,
  encodeBigEndian,
  initAuthCreds,
  KEY_BUNDLE_TYPE,
  DEFAULT_CONNECTION_CONFIG,
  proto,
  unpadRandomMax16,
  type AuthenticationCreds,
  type BinaryNode,
  type KeyPair,
} from "@whiskeysockets/baileys";
import { MemoryKeyStore } from "./memoryKeyStore.ts";

const userPart = (phone: string): string => phone.replace(/^\+/, "").split("@")[0]?.split(":")[0] ?? "";

export const isPhone = (phone: string): boolean => /^\d{5,20}$/.test(userPart(phone));

/** Digits only, as WhatsApp writes the user part of a jid. */
export function normalizePhone(phone: string): string {
  if (!isPhone(phone)) throw new Error(`not a phone number: ${phone}`);
  return userPart(phone);
}

export const userJid = (phone: string): string => `${phone}@s.whatsapp.net`;

/** The user part of a jid such as `123:4@s.whatsapp.net`. */
export const phoneOfJid = (jid: string): string => jid.split("@")[0]?.split(":")[0] ?? "";

/** The text a person would read, unwrapping the copy a sender's own phone receives. */
export function textOf(message: proto.IMessage | null | undefined): string | undefined {
  if (!message) return undefined;
  return (
    message.conversation ??
    message.extendedTextMessage?.text ??
    textOf(message.deviceSentMessage?.message) ??
    undefined
  );
}

export class FakePhone {
  private readonly creds: AuthenticationCreds = initAuthCreds();
  private readonly keys = new MemoryKeyStore();
  // The package exports its libsignal repository only as the default `makeSignalRepository`.
  private readonly signal = DEFAULT_CONNECTION_CONFIG.makeSignalRepository({
    creds: this.creds,
    keys: this.keys,
  });
  private nextPreKeyId = 1;

  constructor(readonly phone: string) {}

  /** Also the account signature key when this phone is the primary device of a linked account. */
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

  /** Decrypts one `enc` addressed to this phone from the sending device `from`. */
  async decrypt(from: string, type: "pkmsg" | "msg", ciphertext: Uint8Array): Promise<proto.Message> {
    const padded = await this.signal.decryptMessage({ jid: from, type, ciphertext });
    return proto.Message.decode(unpadRandomMax16(padded));
  }
}

/** Every phone number the fake knows, created on first use; which of them "are on WhatsApp". */
export class FakePhoneBook {
  private readonly phones = new Map<string, FakePhone>();
  private registered: Set<string> | "all" = "all";

  phone(number: string): FakePhone {
    const phone = normalizePhone(number);
    let found = this.phones.get(phone);
    if (!found) {
      found = new FakePhone(phone);
      this.phones.set(phone, found);
    }
    return found;
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
}

// What the account's phone does when it links a companion device: QR refs, the signed device
// identity inside pair-success (HMAC keyed with the companion's adv secret), the check of the
// companion's counter-signature, and the key agreement behind an 8-character pairing code.
import {
  aesDecryptCTR,
  aesDecryptGCM,
  aesEncryptCTR,
  Curve,
  derivePairingCodeKey,
  getBinaryNodeChild,
  hkdf,
  hmacSign,
  proto,
  type BinaryNode,
  type KeyPair,
} from "@whiskeysockets/baileys";
import { randomBytes, randomInt } from "node:crypto";

export const SERVER_JID = "s.whatsapp.net";

/** Opaque strings as the real server sends; Baileys shows one per QR and closes with 408 when they run out. */
export function qrRefs(count: number): string[] {
  return Array.from({ length: count }, () => `2@${randomBytes(48).toString("base64")}`);
}

export interface QrContents {
  readonly ref: string;
  readonly noiseKey: Buffer;
  readonly identityKey: Buffer;
  readonly advSecret: Buffer;
}

/**
 * The QR text, as either line writes it: Baileys 6.x `ref,noiseKeyB64,identityKeyB64,advSecretB64`;
 * 7.x a link `https://wa.me/settings/linked_devices#ref,noise,identity,adv,platformId`.
 */
export function parseQr(qr: string): QrContents {
  const fields = qr.startsWith("https://") ? qr.slice(qr.indexOf("#") + 1) : qr;
  const parts = fields.split(",");
  const [ref, noise, identity, adv] = parts;
  if (parts.length < 4 || parts.length > 5 || !ref || !noise || !identity || !adv) {
    throw new Error("not a WhatsApp Web QR");
  }
  return {
    ref,
    noiseKey: Buffer.from(noise, "base64"),
    identityKey: Buffer.from(identity, "base64"),
    advSecret: Buffer.from(adv, "base64"),
  };
}

export interface DeviceLink {
  /** The primary's identity key pair signs for the account. */
  readonly account: KeyPair;
  readonly companionIdentity: Uint8Array;
  readonly advSecret: Uint8Array;
  readonly deviceJid: string;
  /** The same device under the account's LID (Baileys 7 keeps it as `creds.me.lid`). */
  readonly deviceLid?: string;
  readonly keyIndex: number;
}

export function pairSuccess(id: string, link: DeviceLink, platform = "android"): BinaryNode {
  const details = proto.ADVDeviceIdentity.encode({
    rawId: randomInt(2 ** 31),
    timestamp: Math.floor(Date.now() / 1000),
    keyIndex: link.keyIndex,
  }).finish();
  const accountSignature: Uint8Array = Curve.sign(
    link.account.private,
    Buffer.concat([Buffer.from([6, 0]), details, link.companionIdentity]),
  );
  const signed = proto.ADVSignedDeviceIdentity.encode({
    details,
    accountSignatureKey: link.account.public,
    accountSignature,
  }).finish();
  const deviceIdentity = proto.ADVSignedDeviceIdentityHMAC.encode({
    details: signed,
    hmac: hmacSign(signed, link.advSecret),
  }).finish();
  return {
    tag: "iq",
    attrs: { from: SERVER_JID, type: "set", id },
    content: [
      {
        tag: "pair-success",
        attrs: {},
        content: [
          { tag: "device-identity", attrs: {}, content: deviceIdentity },
          { tag: "platform", attrs: { name: platform } },
          {
            tag: "device",
            attrs: { jid: link.deviceJid, ...(link.deviceLid ? { lid: link.deviceLid } : {}) },
          },
        ],
      },
    ],
  };
}

/** The companion must counter-sign the identity it was given (the `pair-device-sign` reply). */
export function verifyDeviceSignature(reply: BinaryNode, link: DeviceLink): boolean {
  const node = getBinaryNodeChild(getBinaryNodeChild(reply, "pair-device-sign"), "device-identity");
  if (!(node?.content instanceof Uint8Array)) return false;
  const signed = proto.ADVSignedDeviceIdentity.decode(node.content);
  if (!signed.deviceSignature || !signed.details) return false;
  const message = Buffer.concat([
    Buffer.from([6, 1]),
    signed.details,
    link.companionIdentity,
    link.account.public,
  ]);
  return Curve.verify(link.companionIdentity, message, signed.deviceSignature);
}

/** `salt(32) | iv(16) | AES-CTR(key)` with the key stretched from the code: both sides wrap this way. */
async function wrapWithCode(code: string, key: Uint8Array): Promise<Buffer> {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  return Buffer.concat([salt, iv, aesEncryptCTR(key, await derivePairingCodeKey(code, salt), iv)]);
}

async function unwrapWithCode(code: string, wrapped: Uint8Array): Promise<Buffer> {
  const data = Buffer.from(wrapped);
  const secret = await derivePairingCodeKey(code, data.subarray(0, 32));
  return aesDecryptCTR(data.subarray(48, 80), secret, data.subarray(32, 48));
}

/**
 * The primary's side of phone-number pairing, from the moment the user typed the code: it unwraps
 * the companion's ephemeral key, answers with its own, and derives the adv secret once the
 * companion's key bundle arrives.
 */
export class CodePairing {
  private readonly ephemeral = Curve.generateKeyPair();
  readonly ref = randomBytes(32).toString("base64");

  private constructor(
    private readonly code: string,
    private readonly companionEphemeral: Buffer,
    private readonly primaryIdentity: KeyPair,
  ) {}

  static async start(code: string, wrappedCompanionEphemeral: Uint8Array, primaryIdentity: KeyPair) {
    const companionEphemeral = await unwrapWithCode(code, wrappedCompanionEphemeral);
    return new CodePairing(code, companionEphemeral, primaryIdentity);
  }

  /** The notification that makes Baileys send `companion_finish`. */
  async notification(id: string): Promise<BinaryNode> {
    const bytes = (tag: string, content: Uint8Array): BinaryNode => ({ tag, attrs: {}, content });
    return {
      tag: "notification",
      attrs: { from: SERVER_JID, type: "link_code_companion_reg", id, t: `${Math.floor(Date.now() / 1000)}` },
      content: [
        {
          tag: "link_code_companion_reg",
          attrs: {},
          content: [
            bytes("link_code_pairing_ref", Buffer.from(this.ref)),
            bytes("primary_identity_pub", this.primaryIdentity.public),
            bytes(
              "link_code_pairing_wrapped_primary_ephemeral_pub",
              await wrapWithCode(this.code, this.ephemeral.public),
            ),
          ],
        },
      ],
    };
  }

  /** Opens `salt(32) | iv(12) | AES-GCM(companion identity | primary identity | random(32))`. */
  async finish(wrappedKeyBundle: Uint8Array): Promise<{ companionIdentity: Buffer; advSecret: Buffer }> {
    const data = Buffer.from(wrappedKeyBundle);
    const companionShared = Curve.sharedKey(this.ephemeral.private, this.companionEphemeral);
    const key = await hkdf(companionShared, 32, {
      salt: data.subarray(0, 32),
      info: "link_code_pairing_key_bundle_encryption_key",
    });
    const bundle = aesDecryptGCM(data.subarray(44), key, data.subarray(32, 44), Buffer.alloc(0));
    const companionIdentity = bundle.subarray(0, 32);
    if (!bundle.subarray(32, 64).equals(Buffer.from(this.primaryIdentity.public))) {
      throw new Error("key bundle names another primary");
    }
    const identityShared = Curve.sharedKey(this.primaryIdentity.private, companionIdentity);
    const advSecret = Buffer.from(
      await hkdf(Buffer.concat([companionShared, identityShared, bundle.subarray(64, 96)]), 32, {
        info: "adv_secret",
      }),
    );
    return { companionIdentity, advSecret };
  }
}

// The server half of WhatsApp Web's transport: Noise XX (25519, AES-GCM, SHA-256) in the responder
// role, then length-prefixed AES-GCM frames carrying binary stanzas. Baileys only ships the
// initiator, so this mirrors its key schedule from the exported primitives.
import {
  aesDecryptGCM,
  aesEncryptGCM,
  Curve,
  decodeBinaryNode,
  encodeBinaryNode,
  hkdf,
  NOISE_MODE,
  NOISE_WA_HEADER,
  proto,
  sha256,
  type BinaryNode,
  type KeyPair,
} from "@whiskeysockets/baileys";
import { randomBytes } from "node:crypto";
import type { WebSocket } from "ws";

/** Baileys only checks that the intermediate certificate names issuer serial 0 (WA_CERT_DETAILS). */
function certificateChain(serverStatic: KeyPair): Uint8Array {
  const certificate = (serial: number, key: Uint8Array) => ({
    details: proto.CertChain.NoiseCertificate.Details.encode({ serial, issuerSerial: 0, key }).finish(),
    signature: randomBytes(64),
  });
  return proto.CertChain.encode({
    leaf: certificate(1, serverStatic.public),
    intermediate: certificate(0, randomBytes(32)),
  }).finish();
}

function nonce(counter: number): Uint8Array {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter, 8);
  return iv;
}

/** Handshake hash, chaining key and cipher key; one counter serves both directions until the split. */
class SymmetricState {
  private hash: Buffer = Buffer.from(NOISE_MODE);
  private chainingKey: Buffer = this.hash;
  private key: Buffer = this.hash;
  private counter = 0;

  mixHash(data: Uint8Array): void {
    this.hash = sha256(Buffer.concat([this.hash, data]));
  }

  async mixKey(sharedSecret: Uint8Array): Promise<void> {
    const out = Buffer.from(await hkdf(sharedSecret, 64, { salt: this.chainingKey, info: "" }));
    this.chainingKey = out.subarray(0, 32);
    this.key = out.subarray(32);
    this.counter = 0;
  }

  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = aesEncryptGCM(plaintext, this.key, nonce(this.counter++), this.hash);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const plaintext = aesDecryptGCM(ciphertext, this.key, nonce(this.counter++), this.hash);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** The initiator writes with the first half, so the responder reads with it. */
  async split(): Promise<{ readKey: Buffer; writeKey: Buffer }> {
    const out = Buffer.from(await hkdf(Buffer.alloc(0), 64, { salt: this.chainingKey, info: "" }));
    return { readKey: out.subarray(0, 32), writeKey: out.subarray(32) };
  }
}

/** Splits the byte stream into frames; the first client message carries the connection intro. */
class FrameReader {
  private buffered = Buffer.alloc(0);
  private sawIntro = false;

  push(data: Buffer): Buffer[] {
    this.buffered = Buffer.concat([this.buffered, data]);
    if (!this.sawIntro) {
      let introLength = NOISE_WA_HEADER.length;
      // Clients holding edge routing info prefix "ED", 0, 1, a 3-byte length and the routing bytes.
      if (this.buffered.subarray(0, 2).toString("latin1") === "ED") {
        if (this.buffered.length < 7) return [];
        introLength += 7 + ((this.buffered.readUInt8(4) << 16) | this.buffered.readUInt16BE(5));
      }
      if (this.buffered.length < introLength) return [];
      this.buffered = this.buffered.subarray(introLength);
      this.sawIntro = true;
    }
    const frames: Buffer[] = [];
    while (this.buffered.length >= 3) {
      const size = (this.buffered.readUInt8(0) << 16) | this.buffered.readUInt16BE(1);
      if (this.buffered.length < size + 3) break;
      frames.push(this.buffered.subarray(3, size + 3));
      this.buffered = this.buffered.subarray(size + 3);
    }
    return frames;
  }
}

function frame(data: Uint8Array): Buffer {
  const out = Buffer.alloc(3 + data.length);
  out.writeUInt8(data.length >> 16, 0);
  out.writeUInt16BE(data.length & 0xffff, 1);
  out.set(data, 3);
  return out;
}

export interface HandshakeResult {
  /** The client's long-lived noise key: identifies a linked device across connections. */
  readonly clientStatic: Buffer;
  readonly payload: proto.ClientPayload;
}

/**
 * One client connection: runs the handshake, then delivers decoded stanzas in order and encrypts
 * outgoing ones. Frames that arrive before a stanza listener is set are queued.
 */
export class NoiseServerConnection {
  private readonly reader = new FrameReader();
  private readonly pendingFrames: Buffer[] = [];
  private frameWaiter: ((frame: Buffer) => void) | undefined;
  private transport: { readKey: Buffer; writeKey: Buffer; read: number; write: number } | undefined;
  private onStanza: (node: BinaryNode) => Promise<void> | void = () => {};
  private startListening: () => void = () => {};
  /** Stanzas wait here until the owner starts listening, then run one at a time in wire order. */
  private inbound = new Promise<void>((resolve) => (this.startListening = resolve));

  constructor(
    readonly ws: WebSocket,
    private readonly serverStatic: KeyPair,
    private readonly onError: (error: unknown) => void,
  ) {
    ws.on("message", (data: Buffer) => {
      for (const f of this.reader.push(data)) this.receive(f);
    });
  }

  private receive(data: Buffer): void {
    if (!this.transport) {
      const waiter = this.frameWaiter;
      this.frameWaiter = undefined;
      if (waiter) waiter(data);
      else this.pendingFrames.push(data);
      return;
    }
    const plaintext = aesDecryptGCM(
      data,
      this.transport.readKey,
      nonce(this.transport.read++),
      Buffer.alloc(0),
    );
    this.inbound = this.inbound
      .then(async () => {
        const node = await decodeBinaryNode(plaintext);
        await this.onStanza(node);
      })
      .catch((err: unknown) => {
        this.onError(err);
        this.ws.terminate();
      });
  }

  private nextHandshakeFrame(): Promise<Buffer> {
    const queued = this.pendingFrames.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.frameWaiter = resolve;
      this.ws.once("close", () => reject(new Error("closed during handshake")));
    });
  }

  async handshake(): Promise<HandshakeResult> {
    const state = new SymmetricState();
    state.mixHash(NOISE_WA_HEADER);
    const hello = proto.HandshakeMessage.decode(await this.nextHandshakeFrame()).clientHello;
    if (!hello?.ephemeral) throw new Error("client hello without ephemeral key");
    const clientEphemeral = hello.ephemeral;
    state.mixHash(clientEphemeral);

    const ephemeral = Curve.generateKeyPair();
    state.mixHash(ephemeral.public);
    await state.mixKey(Curve.sharedKey(ephemeral.private, clientEphemeral));
    const encryptedStatic = state.encryptAndHash(this.serverStatic.public);
    await state.mixKey(Curve.sharedKey(this.serverStatic.private, clientEphemeral));
    const encryptedCertificate = state.encryptAndHash(certificateChain(this.serverStatic));
    this.ws.send(
      frame(
        proto.HandshakeMessage.encode({
          serverHello: {
            ephemeral: ephemeral.public,
            static: encryptedStatic,
            payload: encryptedCertificate,
          },
        }).finish(),
      ),
    );

    const finish = proto.HandshakeMessage.decode(await this.nextHandshakeFrame()).clientFinish;
    if (!finish?.static || !finish.payload) throw new Error("client finish incomplete");
    const clientStatic = state.decryptAndHash(finish.static);
    await state.mixKey(Curve.sharedKey(ephemeral.private, clientStatic));
    const payload = proto.ClientPayload.decode(state.decryptAndHash(finish.payload));
    this.transport = { ...(await state.split()), read: 0, write: 0 };
    for (const queued of this.pendingFrames.splice(0)) this.receive(queued);
    return { clientStatic, payload };
  }

  listen(onStanza: (node: BinaryNode) => Promise<void> | void): void {
    this.onStanza = onStanza;
    this.startListening();
  }

  send(node: BinaryNode): void {
    if (!this.transport) throw new Error("send before handshake");
    if (this.ws.readyState !== this.ws.OPEN) return;
    const ciphertext = aesEncryptGCM(
      encodeBinaryNode(node),
      this.transport.writeKey,
      nonce(this.transport.write++),
      Buffer.alloc(0),
    );
    this.ws.send(frame(ciphertext));
  }
}

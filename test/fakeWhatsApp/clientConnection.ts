// One client socket as WhatsApp's server sees it: after the Noise handshake the ClientPayload says
// whether this is a new device (show QR refs, pair) or a linked one logging in (success, then the
// queries Baileys awaits before `open`), and every later stanza is routed here.
import {
  getBinaryNodeChild,
  getBinaryNodeChildren,
  type BinaryNode,
  type KeyPair,
} from "@whiskeysockets/baileys";
import type { WebSocket } from "ws";
import type { AccountRegistry, LinkedDevice } from "./accounts.ts";
import type { ConnectionLog, ConnectionRecord } from "./connectionLog.ts";
import { deviceOfJid, isLidJid, lidJid, phoneOfJid, userJid, type FakePhoneBook } from "./fakePhones.ts";
import type { MessageDesk, SentMessage } from "./messaging.ts";
import { NoiseServerConnection } from "./noiseServer.ts";
import {
  CodePairing,
  pairSuccess,
  qrRefs,
  SERVER_JID,
  verifyDeviceSignature,
  type DeviceLink,
} from "./pairing.ts";

/** What a connection needs from the server it belongs to. */
export interface ServerContext {
  readonly phones: FakePhoneBook;
  readonly accounts: AccountRegistry;
  readonly log: ConnectionLog;
  readonly messages: MessageDesk;
  readonly qrRefCount: number;
  /** Baileys does not await its own switch to transport keys; a real network hides that race. */
  readonly handshakeLatencyMs: number;
  connections(): ClientConnection[];
  accepted(record: SentMessage): void;
  changed(): void;
  stanzaId(): string;
  /** The `<media_conn>` pointing at the media host, when the fake runs one. */
  mediaConn(): BinaryNode | undefined;
  /** Messages that waited for this device while it was offline, ready to send. */
  offlineMessages(client: ClientConnection): Promise<BinaryNode[]>;
  /** The device is logged in and its offline queue flushed: the moment a phone pushes history. */
  online(client: ClientConnection): void;
  /** A receipt the client sent for a message it received (delivery, peer_msg, hist_sync...). */
  receiptFromClient(client: ClientConnection, receipt: BinaryNode): void;
  /** A bug in the fake or an unexpected stanza: kept for the test to see, and the socket dropped. */
  failed(error: unknown): void;
}

interface Registration {
  readonly identityKey: Buffer;
  readonly registrationId: number;
  readonly signedPreKey: LinkedDevice["signedPreKey"];
}

const bytesOf = (node: BinaryNode | undefined): Buffer | undefined =>
  node?.content instanceof Uint8Array ? Buffer.from(node.content) : undefined;

const textOf = (node: BinaryNode): string =>
  typeof node.content === "string" ? node.content : (bytesOf(node)?.toString() ?? "");

export class ClientConnection {
  readonly record: ConnectionRecord;
  private readonly noise: NoiseServerConnection;
  private clientStatic: Buffer | undefined;
  private registration: Registration | undefined;
  private device: LinkedDevice | undefined;
  private readonly awaitedReplies = new Map<string, (reply: BinaryNode) => void>();
  /** QR refs handed to this client; a scan must name one of them. */
  readonly refs: string[] = [];
  /** Set when Baileys asked to pair by phone number: the companion's wrapped ephemeral key. */
  codeHello: { phone: string; wrappedEphemeral: Buffer } | undefined;
  private codePairing:
    | { pairing: CodePairing; phone: string; resolve: (jid: string) => void; reject: (err: Error) => void }
    | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    serverStatic: KeyPair,
    private readonly server: ServerContext,
  ) {
    this.record = server.log.start();
    this.noise = new NoiseServerConnection(ws, serverStatic, (err) => server.failed(err));
    ws.on("close", () => {
      clearTimeout(this.closeTimer);
      server.log.closed(this.record, "client");
      for (const deliver of this.awaitedReplies.values()) deliver({ tag: "closed", attrs: {} });
      server.changed();
    });
  }

  get account(): string | undefined {
    return this.device?.account;
  }

  /** The linked device logged in on this socket. */
  get linkedDevice(): LinkedDevice | undefined {
    return this.device;
  }

  get isOpen(): boolean {
    return this.record.openedAt !== undefined && this.record.closedAt === undefined;
  }

  get noiseKey(): Buffer | undefined {
    return this.clientStatic;
  }

  async run(): Promise<void> {
    const { clientStatic, payload } = await this.noise.handshake();
    this.clientStatic = clientStatic;
    await new Promise((resolve) => setTimeout(resolve, this.server.handshakeLatencyMs));
    this.noise.listen((node) => this.route(node));
    const pairingData = payload.devicePairingData;
    if (pairingData && !payload.pull) {
      this.record.kind = "registration";
      this.registration = {
        identityKey: Buffer.from(pairingData.eIdent ?? []),
        registrationId: Buffer.from(pairingData.eRegid ?? Buffer.alloc(4)).readUInt32BE(0),
        signedPreKey: {
          keyId: Buffer.from(pairingData.eSkeyId ?? Buffer.alloc(3)).readUIntBE(0, 3),
          publicKey: Buffer.from(pairingData.eSkeyVal ?? []),
          signature: Buffer.from(pairingData.eSkeySig ?? []),
        },
      };
      this.refs.push(...qrRefs(this.server.qrRefCount));
      this.send({
        tag: "iq",
        attrs: { from: SERVER_JID, type: "set", id: this.server.stanzaId(), xmlns: "md" },
        content: [
          {
            tag: "pair-device",
            attrs: {},
            content: this.refs.map((ref) => ({ tag: "ref", attrs: {}, content: Buffer.from(ref) })),
          },
        ],
      });
    } else {
      this.login(String(payload.username ?? ""), Number(payload.device ?? 0), clientStatic);
    }
    this.server.changed();
  }

  private login(account: string, deviceId: number, noiseKey: Buffer): void {
    this.record.kind = "login";
    this.record.account = account;
    this.record.device = deviceId;
    const device = this.server.accounts.find(account, deviceId);
    if (!device || !device.noiseKey.equals(noiseKey)) {
      this.end({ tag: "failure", attrs: { reason: "401", location: "fake" } }, "failure 401");
      return;
    }
    this.device = device;
    // WhatsApp keeps one socket per device: the newer login replaces the older one.
    for (const other of this.server.connections()) {
      if (other !== this && other.device === device && other.isOpen) other.replace();
    }
    this.server.log.opened(this.record, account);
    const t = `${Math.floor(Date.now() / 1000)}`;
    this.send({
      tag: "success",
      attrs: { t, props: "0", creation: t, location: "fake", lid: device.lidJid },
    });
  }

  send(node: BinaryNode): void {
    this.noise.send(node);
  }

  /** Sends a last stanza and closes the socket if the client does not do it first. */
  end(last: BinaryNode | undefined, reason: string): void {
    this.record.closeReason ??= reason;
    if (last) this.send(last);
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => this.ws.terminate(), last ? 200 : 0);
  }

  replace(): void {
    this.end(
      { tag: "stream:error", attrs: {}, content: [{ tag: "conflict", attrs: { type: "replaced" } }] },
      "stream:error conflict replaced",
    );
  }

  private result(iq: BinaryNode, content?: BinaryNode[]): void {
    this.send({
      tag: "iq",
      attrs: { from: SERVER_JID, type: "result", id: iq.attrs.id ?? "" },
      ...(content ? { content } : {}),
    });
  }

  private awaitReply(node: BinaryNode): Promise<BinaryNode> {
    const id = node.attrs.id ?? "";
    return new Promise((resolve, reject) => {
      this.awaitedReplies.set(id, (reply) => {
        this.awaitedReplies.delete(id);
        if (reply.tag === "closed") reject(new Error("client closed before replying"));
        else resolve(reply);
      });
      this.send(node);
    });
  }

  private async route(node: BinaryNode): Promise<void> {
    if (node.tag === "message") return this.relay(node);
    if (node.tag === "chatstate" && this.account) return this.server.messages.chatState(node, this.account);
    if (node.tag === "receipt") return this.server.receiptFromClient(this, node);
    if (node.tag !== "iq") return; // presence, acks of our receipts: nothing to answer
    const { type, xmlns } = node.attrs;
    if (type === "result" || type === "error") {
      this.awaitedReplies.get(node.attrs.id ?? "")?.(node);
      return;
    }
    const child = Array.isArray(node.content) ? node.content[0] : undefined;
    switch (`${xmlns} ${type} ${child?.tag ?? ""}`) {
      case "encrypt get count":
        return this.result(node, [{ tag: "count", attrs: { value: `${this.device?.preKeyCount ?? 0}` } }]);
      case "encrypt set registration":
        if (this.device) this.storePreKeys(this.device, node);
        return this.result(node);
      case "encrypt get key":
        return this.result(node, [{ tag: "list", attrs: {}, content: this.keyBundles(child) }]);
      case "usync get usync":
        return this.result(node, [this.usync(child)]);
      case "passive set active": {
        this.result(node);
        const queued = await this.server.offlineMessages(this);
        for (const stanza of queued) this.send(stanza);
        // The end of the offline queue; it also flushes the event buffer Baileys holds until now.
        this.send({
          tag: "ib",
          attrs: { from: SERVER_JID },
          content: [{ tag: "offline", attrs: { count: `${queued.length}` } }],
        });
        this.server.online(this);
        return;
      }
      case "w get props":
        return this.result(node, [{ tag: "props", attrs: { protocol: "2", hash: "fake" } }]);
      case "blocklist get ":
        return this.result(node, [{ tag: "list", attrs: {} }]);
      case "privacy get privacy":
        return this.result(node, [
          {
            tag: "privacy",
            attrs: {},
            content: ["readreceipts", "last", "online", "profile", "status", "groupadd"].map((name) => ({
              tag: "category",
              attrs: { name, value: name === "readreceipts" ? "all" : "contacts" },
            })),
          },
        ]);
      case "w:sync:app:state set sync":
        // A new device starts with empty app state (no mutes, pins, labels): every collection at v0.
        return this.result(node, [
          {
            tag: "sync",
            attrs: {},
            content: getBinaryNodeChildren(child, "collection").map((c): BinaryNode => ({
              tag: "collection",
              attrs: { name: c.attrs.name ?? "", version: "0" },
            })),
          },
        ]);
      case "w:m set media_conn": {
        const mediaConn = this.server.mediaConn();
        if (mediaConn) return this.result(node, [mediaConn]);
        return this.send({
          tag: "iq",
          attrs: { from: SERVER_JID, type: "error", id: node.attrs.id ?? "" },
          content: [{ tag: "error", attrs: { code: "503", text: "no media host in this fake" } }],
        });
      }
      case "md set link_code_companion_reg":
        return this.linkCodeStage(node, child);
      case "md set remove-companion-device":
        if (this.device) this.server.accounts.unlink(this.device.account, this.device.device);
        this.result(node);
        this.server.changed();
        return;
      default:
        // Anything else Baileys may await (ping, media_conn, ...) gets an empty result so nothing hangs.
        return this.result(node);
    }
  }

  /** The one-time prekeys a linked device uploads; phones spend them to message it first. */
  private storePreKeys(device: LinkedDevice, registration: BinaryNode): void {
    for (const key of getBinaryNodeChildren(getBinaryNodeChild(registration, "list"), "key")) {
      const id = bytesOf(getBinaryNodeChild(key, "id"));
      const value = bytesOf(getBinaryNodeChild(key, "value"));
      if (id && value) device.preKeys.push({ keyId: id.readUIntBE(0, id.length), publicKey: value });
      device.preKeyCount++;
    }
  }

  /** Prekey bundles for devices named by number or LID (`<user>:<device>@<server>`). */
  private keyBundles(keyNode: BinaryNode | undefined): BinaryNode[] {
    return getBinaryNodeChildren(keyNode, "user").map((user): BinaryNode => {
      const jid = user.attrs.jid ?? "";
      const phone = this.server.phones.ofJid(jid);
      const device = deviceOfJid(jid);
      if (!phone || !phone.devices.includes(device)) {
        return {
          tag: "user",
          attrs: { jid },
          content: [{ tag: "error", attrs: { code: "404", text: "item-not-found" } }],
        };
      }
      return phone.device(device).keyBundle(jid);
    });
  }

  /**
   * Per user: "is this number on WhatsApp" (contact protocol), its devices (the phone and any
   * linked ones, each with a key index) and its LID (lid protocol), asked by number or by LID.
   */
  private usync(usync: BinaryNode | undefined): BinaryNode {
    const protocols = getBinaryNodeChild(usync, "query");
    const wantsDevices = !!getBinaryNodeChild(protocols, "devices");
    const wantsContact = !!getBinaryNodeChild(protocols, "contact");
    const wantsLid = !!getBinaryNodeChild(protocols, "lid");
    const users = getBinaryNodeChildren(getBinaryNodeChild(usync, "list"), "user").map((user): BinaryNode => {
      const contact = getBinaryNodeChild(user, "contact");
      const asked = user.attrs.jid ?? "";
      const phone = contact
        ? this.server.phones.ofJid(userJid(textOf(contact).replace(/\D/g, "")))
        : this.server.phones.ofJid(asked);
      const registered = !!phone && this.server.phones.isRegistered(phone.phone);
      const jid = contact || !isLidJid(asked) ? userJid(phone?.phone ?? phoneOfJid(asked)) : asked;
      const content: BinaryNode[] = [];
      if (wantsContact) content.push({ tag: "contact", attrs: { type: registered ? "in" : "out" } });
      if (wantsLid && registered) content.push({ tag: "lid", attrs: { val: lidJid(phone.lid) } });
      if (wantsDevices) {
        content.push({
          tag: "devices",
          attrs: {},
          content: [
            {
              tag: "device-list",
              attrs: {},
              content: registered
                ? phone.devices.map((id): BinaryNode => ({
                    tag: "device",
                    attrs: id === 0 ? { id: "0" } : { id: `${id}`, "key-index": `${id}` },
                  }))
                : [],
            },
          ],
        });
      }
      return { tag: "user", attrs: { jid }, content };
    });
    return {
      tag: "usync",
      attrs: { ...(usync?.attrs ?? {}) },
      content: [
        { tag: "result", attrs: {} },
        { tag: "list", attrs: {}, content: users },
      ],
    };
  }

  private async relay(stanza: BinaryNode): Promise<void> {
    if (!this.device) return;
    const { record, ack } = await this.server.messages.accept(stanza, this.device.jid);
    this.send(ack);
    this.server.accepted(record);
  }

  /** QR scan by the account's phone: pair-success, the companion's signature, then restart (515). */
  async pair(account: string, advSecret: Buffer): Promise<string> {
    const registration = this.registration;
    if (!registration || !this.clientStatic) throw new Error("this connection is not registering a device");
    const link: DeviceLink = {
      account: this.server.phones.phone(account).identity,
      companionIdentity: registration.identityKey,
      advSecret,
      deviceJid: "",
      keyIndex: this.server.accounts.devices(account).length + 1,
    };
    const device = this.server.accounts.link(account, {
      noiseKey: this.clientStatic,
      identityKey: registration.identityKey,
      registrationId: registration.registrationId,
      signedPreKey: registration.signedPreKey,
    });
    try {
      const reply = await this.awaitReply(
        pairSuccess(this.server.stanzaId(), { ...link, deviceJid: device.jid, deviceLid: device.lidJid }),
      );
      if (reply.attrs.type !== "result" || !verifyDeviceSignature(reply, link)) {
        throw new Error("the companion did not sign its device identity");
      }
    } catch (err) {
      this.server.accounts.unlink(account, device.device);
      throw err;
    }
    this.record.account = account;
    this.record.device = device.device;
    this.refs.length = 0;
    this.end({ tag: "stream:error", attrs: { code: "515" } }, "stream:error 515 after pairing");
    this.server.changed();
    return device.jid;
  }

  /** The phone user typed `code`: answer companion_hello with the primary's wrapped key. */
  async enterPairingCode(code: string): Promise<string> {
    const hello = this.codeHello;
    if (!hello) throw new Error("no pairing code was requested on this connection");
    const pairing = await CodePairing.start(
      code,
      hello.wrappedEphemeral,
      this.server.phones.phone(hello.phone).identity,
    );
    return new Promise<string>((resolve, reject) => {
      this.codePairing = { pairing, phone: hello.phone, resolve, reject };
      pairing.notification(this.server.stanzaId()).then((n) => this.send(n), reject);
    });
  }

  private async linkCodeStage(iq: BinaryNode, reg: BinaryNode | undefined): Promise<void> {
    const stage = reg?.attrs.stage;
    if (stage === "companion_hello") {
      const wrappedEphemeral = bytesOf(
        getBinaryNodeChild(reg, "link_code_pairing_wrapped_companion_ephemeral_pub"),
      );
      if (!wrappedEphemeral) return this.result(iq);
      this.codeHello = { phone: phoneOfJid(reg?.attrs.jid ?? ""), wrappedEphemeral };
      this.result(iq, [
        {
          tag: "link_code_companion_reg",
          attrs: {},
          content: [{ tag: "link_code_pairing_ref", attrs: {}, content: Buffer.from("fake-ref") }],
        },
      ]);
      this.server.changed();
      return;
    }
    const pending = this.codePairing;
    const bundle = bytesOf(getBinaryNodeChild(reg, "link_code_pairing_wrapped_key_bundle"));
    if (stage !== "companion_finish" || !pending || !bundle) return this.result(iq);
    this.codePairing = undefined;
    try {
      const { advSecret, companionIdentity } = await pending.pairing.finish(bundle);
      if (!this.registration?.identityKey.equals(companionIdentity))
        throw new Error("companion identity mismatch");
      this.result(iq);
      this.pair(pending.phone, advSecret).then(pending.resolve, pending.reject);
    } catch {
      this.send({
        tag: "iq",
        attrs: { from: SERVER_JID, type: "error", id: iq.attrs.id ?? "" },
        content: [{ tag: "error", attrs: { code: "401", text: "not-authorized" } }],
      });
      pending.reject(new Error("wrong pairing code"));
    }
  }
}

// A wire-level stand-in for WhatsApp Web's server on loopback, so the real Baileys client can be
// tested offline: pairing by QR or code, login, LID addressing, sends (text and media) decrypted
// by fake recipients on each of their devices, receipts, messages from people to the account, and
// the faults a session manager must survive. Tests drive it through the methods below.
import { Curve, type BinaryNode, type NewChatMessageCapInfo, type proto } from "@whiskeysockets/baileys";
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { AccountRegistry, type LinkedDevice } from "./accounts.ts";
import { ClientConnection, type ServerContext } from "./clientConnection.ts";
import { ConnectionLog, type ConnectionRecord } from "./connectionLog.ts";
import { FakePhoneBook, lidJid, normalizePhone, userJid } from "./fakePhones.ts";
import { historySyncNotificationMessages, REALISTIC_HISTORY, type HistorySyncSize } from "./historySync.ts";
import { startMediaHost, type MediaHost } from "./mediaHost.ts";
import {
  MessageDesk,
  type ChatState,
  type FailureRule,
  type ReceiptTiming,
  type SentMessage,
} from "./messaging.ts";
import { parseQr } from "./pairing.ts";
import { ownPhoneStanza, phoneMessageStanza, type PhoneMessage } from "./phoneMessages.ts";

export type { HistorySyncSize };
export type { ChatState, ConnectionRecord, FailureRule, MediaHost, PhoneMessage, ReceiptTiming, SentMessage };

export interface FakeWhatsAppOptions {
  /** Loopback by default; the fake is not meant to be reachable from elsewhere. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** QR refs per registration; Baileys closes with 408 once it has shown them all. Default 6. */
  readonly qrRefCount?: number;
  /** Numbers that are on WhatsApp; "all" (default) makes every number exist. */
  readonly registeredNumbers?: Iterable<string> | "all";
  /** Defaults: delivered 5 ms after the ack, read 5 ms after delivery. */
  readonly receipts?: Partial<ReceiptTiming>;
  /** Error-ack every first message from an account to a number with "463". Default false. */
  readonly restrictNewContacts?: boolean;
  readonly handshakeLatencyMs?: number;
  /** Numbers WhatsApp addresses by LID: their receipts and messages come from `<lid>@lid`. */
  readonly lidAddressed?: Iterable<string> | "all";
  /** Run an HTTPS media host on loopback (a throw-away certificate) so media can be sent. */
  readonly media?: boolean;
  /**
   * The history the phone pushes to a newly linked device at its first login, as real accounts get
   * one; default REALISTIC_HISTORY (thousands of chats, tens of thousands of messages); false: none.
   */
  readonly historySync?: HistorySyncSize | false;
}

/** A receipt a linked device sent for something it received: delivery, `peer_msg`, `hist_sync`... */
export interface ClientReceipt {
  readonly account: string;
  readonly device: number;
  readonly id: string;
  /** Absent for a plain delivery receipt. */
  readonly type: string | undefined;
}

/** One history push to one device: the notification ids, and those Baileys confirmed with `hist_sync`. */
export interface HistoryPush {
  readonly account: string;
  readonly device: number;
  readonly ids: string[];
  readonly size: HistorySyncSize;
}

// Building a realistic history takes a few hundred milliseconds: build it once per account and size.
const historyCache = new Map<string, Promise<proto.IMessage[]>>();
function historyFor(account: string, size: HistorySyncSize): Promise<proto.IMessage[]> {
  const key = `${account} ${JSON.stringify(size)}`;
  let built = historyCache.get(key);
  if (!built) {
    built = historySyncNotificationMessages({ phone: account }, size);
    historyCache.set(key, built);
  }
  return built;
}

/** How a test ends an account's sockets; each maps to the DisconnectReason Baileys reports. */
export type Disconnect =
  | "close" // socket closed without a word: connectionClosed 428
  | "replaced" // <stream:error><conflict type="replaced"/>: connectionReplaced 440
  | "logout" // device removed on the phone, <stream:error code="401">: loggedOut 401
  | number; // <stream:error code=N/>, e.g. 408 connectionLost, 515 restartRequired, 503

export class FakeWhatsApp {
  readonly url: string;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<ClientConnection>();
  private readonly events = new EventEmitter();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly phones = new FakePhoneBook();
  private readonly accounts = new AccountRegistry();
  private readonly log = new ConnectionLog();
  private readonly messages = new MessageDesk(this.phones);
  private timing: ReceiptTiming;
  private lastStanzaId = 0;
  private readonly failures: unknown[] = [];
  private readonly clientReceipts: ClientReceipt[] = [];
  private readonly historyPushes: HistoryPush[] = [];
  private readonly offlineQueue = new Map<
    LinkedDevice,
    { from: string; id: string; message: PhoneMessage }[]
  >();

  private constructor(
    wss: WebSocketServer,
    private readonly options: FakeWhatsAppOptions,
    /** The media host recipients download from; present when started with `media: true`. */
    readonly mediaHost: MediaHost | undefined,
  ) {
    this.wss = wss;
    const { port } = wss.address() as AddressInfo;
    this.url = `ws://${options.host ?? "127.0.0.1"}:${port}/ws/chat`;
    this.timing = { deliveredAfterMs: 5, readAfterMs: 5, ...options.receipts };
    this.messages.restrictNewContacts = options.restrictNewContacts ?? false;
    if (options.registeredNumbers) this.phones.setRegistered(options.registeredNumbers);
    if (options.lidAddressed) this.phones.setLidAddressed(options.lidAddressed);
    this.messages.mediaHost = mediaHost;
    this.events.setMaxListeners(0);
    const serverStatic = Curve.generateKeyPair();
    const context = this.context();
    wss.on("connection", (ws) => {
      const client = new ClientConnection(ws, serverStatic, context);
      this.clients.add(client);
      ws.on("close", () => this.clients.delete(client));
      client.run().catch((err: unknown) => {
        if (ws.readyState === ws.OPEN) this.failures.push(err);
        ws.terminate();
      });
    });
  }

  static async start(options: FakeWhatsAppOptions = {}): Promise<FakeWhatsApp> {
    const wss = new WebSocketServer({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      path: "/ws/chat",
    });
    await new Promise<void>((resolve, reject) => {
      wss.once("listening", resolve);
      wss.once("error", reject);
    });
    const mediaHost = options.media ? await startMediaHost({ host: options.host ?? "127.0.0.1" }) : undefined;
    return new FakeWhatsApp(wss, options, mediaHost);
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  private context(): ServerContext {
    return {
      phones: this.phones,
      accounts: this.accounts,
      log: this.log,
      messages: this.messages,
      qrRefCount: this.options.qrRefCount ?? 6,
      handshakeLatencyMs: this.options.handshakeLatencyMs ?? 10,
      connections: () => [...this.clients],
      accepted: (record) => this.accepted(record),
      changed: () => this.events.emit("change"),
      stanzaId: () => `fake.${++this.lastStanzaId}`,
      mediaConn: () => this.mediaHost?.mediaConnNode(),
      online: (client) => this.pushHistory(client),
      offlineMessages: (client) => this.drainOfflineQueue(client),
      receiptFromClient: (client, node) => {
        const device = client.linkedDevice;
        if (!device || !node.attrs.id) return;
        const { id, type } = node.attrs;
        this.clientReceipts.push({ account: device.account, device: device.device, id, type });
        this.events.emit("change");
      },
      failed: (err) => this.failures.push(err),
    };
  }

  /** Resolves with the first defined value of `check`, re-evaluated whenever the server's state changes. */
  waitUntil<T>(check: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onChange = () => {
        const value = check();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake WhatsApp: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off("change", onChange);
      };
      this.events.on("change", onChange);
    });
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  private openClients(account: string): ClientConnection[] {
    return [...this.clients].filter((c) => c.account === account && c.isOpen);
  }

  /** Receipts go to whichever socket of the sender is open when they fall due; none open: lost. */
  private accepted(record: SentMessage): void {
    this.events.emit("change");
    const { deliveredAfterMs, readAfterMs } = this.timing;
    if (record.error || deliveredAfterMs === null || !this.phones.isRegistered(record.to)) return;
    const sendReceipt = (type: "delivery" | "read") => {
      for (const client of this.openClients(record.from)) client.send(this.messages.receipt(record, type));
    };
    this.later(deliveredAfterMs, () => {
      sendReceipt("delivery");
      if (readAfterMs !== null) this.later(readAfterMs, () => sendReceipt("read"));
    });
  }

  // ---- pairing -------------------------------------------------------------------------------

  /** The QR refs outstanding on registering connections (the QR text itself only the client knows). */
  pendingQrRefs(): string[] {
    return [...this.clients].flatMap((c) => c.refs);
  }

  /**
   * The account's phone scans `qr` (as emitted by Baileys' `connection.update`): pair-success, the
   * client's signature, then `stream:error 515`. Resolves with the new device jid.
   */
  async scanQr(qr: string, phone: string): Promise<string> {
    const { ref, noiseKey, advSecret } = parseQr(qr);
    const client = [...this.clients].find((c) => c.refs.includes(ref) && c.noiseKey?.equals(noiseKey));
    if (!client) throw new Error("fake WhatsApp: no connection is showing this QR");
    return client.pair(normalizePhone(phone), advSecret);
  }

  /** The account's phone enters the code Baileys' `requestPairingCode(phone)` returned. */
  async enterPairingCode(phone: string, code: string, timeoutMs = 5000): Promise<string> {
    const account = normalizePhone(phone);
    const client = await this.waitUntil(
      () => [...this.clients].find((c) => c.codeHello?.phone === account),
      `a pairing code request for ${account}`,
      timeoutMs,
    );
    return client.enterPairingCode(code.replace(/-/g, "").toUpperCase());
  }

  linkedDevices(phone: string): string[] {
    return this.accounts.devices(normalizePhone(phone)).map((d) => d.jid);
  }

  // ---- directory and recipients ----------------------------------------------------------------

  setRegisteredNumbers(numbers: Iterable<string> | "all"): void {
    this.phones.setRegistered(numbers);
  }

  setReceipts(timing: Partial<ReceiptTiming>): void {
    this.timing = { ...this.timing, ...timing };
  }

  /** Error-acks matching messages; Baileys reports them as status ERROR with the code. */
  failMessages(rule: FailureRule): void {
    this.messages.rules.push({ ...rule });
  }

  /** Forgets every failure rule: WhatsApp lifted its restrictions. */
  clearFailures(): void {
    this.messages.rules.length = 0;
  }

  restrictNewContacts(on = true): void {
    this.messages.restrictNewContacts = on;
  }

  /** Numbers WhatsApp addresses by LID from now on (receipts, their messages). */
  setLidAddressed(numbers: Iterable<string> | "all"): void {
    this.phones.setLidAddressed(numbers);
  }

  /** The LID jid of a number, as receipts from a LID-addressed person carry it. */
  lidJid(phone: string): string {
    return lidJid(this.phones.phone(phone).lid);
  }

  /** Gives a person `count` devices: the phone and `count - 1` linked ones (a desktop, a browser). */
  setDevices(phone: string, count: number): void {
    this.phones.phone(phone).setDeviceCount(count);
  }

  // ---- history sync -------------------------------------------------------------------------

  /** The phone sends a newly linked device its history, once, as chunked peer messages. */
  private pushHistory(client: ClientConnection): void {
    const device = client.linkedDevice;
    const size = this.options.historySync ?? REALISTIC_HISTORY;
    if (!device || device.historyPushed || size === false) return;
    device.historyPushed = true;
    const push: HistoryPush = { account: device.account, device: device.device, ids: [], size };
    this.historyPushes.push(push);
    const accountPhone = this.phones.phone(device.account);
    void (async () => {
      const contents = await historyFor(device.account, size);
      const ids = contents.map(
        () => `HIST${(++this.lastStanzaId).toString(16).toUpperCase().padStart(12, "0")}`,
      );
      push.ids.push(...ids);
      for (const [i, content] of contents.entries()) {
        if (!client.isOpen) return;
        client.send(await ownPhoneStanza(accountPhone, device, ids[i] ?? "", content));
      }
      this.events.emit("change");
    })().catch((err: unknown) => this.failures.push(err));
  }

  /** History pushes so far, with how many chunks each device confirmed having read. */
  historySyncs(phone: string): (HistoryPush & { confirmed: number })[] {
    const account = normalizePhone(phone);
    return this.historyPushes
      .filter((p) => p.account === account)
      .map((p) => ({
        ...p,
        confirmed: this.clientReceipts.filter(
          (r) => r.device === p.device && r.type === "hist_sync" && p.ids.includes(r.id),
        ).length,
      }));
  }

  /** Receipts the account's devices sent for what they received (`hist_sync`, deliveries...). */
  receiptsFrom(phone: string): ClientReceipt[] {
    const account = normalizePhone(phone);
    return this.clientReceipts.filter((r) => r.account === account);
  }

  // ---- people writing to the accounts ------------------------------------------------------

  /**
   * The person at `phone` sends `message` to `account`: every linked device of the account gets its
   * own encrypted copy, at once if it is logged in, else at its next login (WhatsApp's offline
   * queue, flagged `offline`). Resolves with the message id, the device jids it reached now and
   * those it waits for.
   */
  async sendFromPhone(
    phone: string,
    account: string,
    message: PhoneMessage,
  ): Promise<{ id: string; devices: string[]; queued: string[] }> {
    const sender = this.phones.phone(phone);
    const to = normalizePhone(account);
    const id = message.id ?? `3EB0${(++this.lastStanzaId).toString(16).toUpperCase().padStart(16, "0")}`;
    const linked = this.accounts.devices(to);
    if (linked.length === 0) throw new Error(`fake WhatsApp: ${to} has no linked device`);
    const reached: string[] = [];
    const queued: string[] = [];
    for (const device of linked) {
      const client = this.openClients(to).find((c) => c.linkedDevice === device);
      if (client) {
        client.send(await this.phoneStanza(sender.phone, device, id, message));
        reached.push(device.jid);
      } else {
        const queue = this.offlineQueue.get(device) ?? [];
        queue.push({ from: sender.phone, id, message });
        this.offlineQueue.set(device, queue);
        queued.push(device.jid);
      }
    }
    return { id, devices: reached, queued };
  }

  private phoneStanza(from: string, device: LinkedDevice, id: string, message: PhoneMessage) {
    return phoneMessageStanza(this.phones.phone(from), this.phones.isLidAddressed(from), device, id, message);
  }

  /** What waited for the device while it was offline, marked as such, oldest first. */
  private async drainOfflineQueue(client: ClientConnection): Promise<BinaryNode[]> {
    const device = client.linkedDevice;
    const queue = device ? this.offlineQueue.get(device) : undefined;
    if (!device || !queue) return [];
    this.offlineQueue.delete(device);
    const stanzas: BinaryNode[] = [];
    for (const { from, id, message } of queue) {
      const stanza = await this.phoneStanza(from, device, id, message);
      stanzas.push({ ...stanza, attrs: { ...stanza.attrs, offline: "1" } });
    }
    return stanzas;
  }

  // ---- what was sent ---------------------------------------------------------------------------

  sent(): SentMessage[] {
    return [...this.messages.sent];
  }

  /** Messages the server accepted for `phone` (error-acked ones excluded). */
  messagesTo(phone: string): SentMessage[] {
    const to = normalizePhone(phone);
    return this.messages.sent.filter((m) => m.to === to && !m.error);
  }

  /** Typing indicators the accounts showed `phone`, oldest first. */
  chatStatesTo(phone: string): ChatState[] {
    const to = normalizePhone(phone);
    return this.messages.chatStates.filter((c) => c.to === to);
  }

  async waitForMessages(count: number, timeoutMs = 5000): Promise<SentMessage[]> {
    return this.waitUntil(
      () => (this.messages.sent.length >= count ? this.sent() : undefined),
      `${count} messages (have ${this.messages.sent.length})`,
      timeoutMs,
    );
  }

  // ---- connections -----------------------------------------------------------------------------

  /** Resolves once `phone` has a logged-in socket. */
  async waitForOpen(phone: string, timeoutMs = 5000): Promise<void> {
    const account = normalizePhone(phone);
    await this.waitUntil(
      () => (this.openClients(account).length ? true : undefined),
      `${account} to log in`,
      timeoutMs,
    );
  }

  /** Ends every open socket of the account the chosen way; returns how many there were. */
  disconnect(phone: string, how: Disconnect): number {
    const account = normalizePhone(phone);
    const clients = this.openClients(account);
    if (how === "logout") this.accounts.unlink(account);
    for (const client of clients) {
      if (how === "close") client.end(undefined, "closed by server");
      else if (how === "replaced") client.replace();
      else if (how === "logout") {
        client.end(
          {
            tag: "stream:error",
            attrs: { code: "401" },
            content: [{ tag: "conflict", attrs: { type: "device_removed" } }],
          },
          "stream:error 401 device removed",
        );
      } else client.end({ tag: "stream:error", attrs: { code: `${how}` } }, `stream:error ${how}`);
    }
    return clients.length;
  }

  /**
   * Tells every open socket of the account where it stands against WhatsApp's monthly cap on
   * messages to people who have not replied: a `mex` notification with the operation
   * `MessageCappingInfoNotification`, shaped as Baileys 7.0.0-rc14 parses it (no capture of
   * WhatsApp's own stanza backs it). Returns how many sockets were told.
   */
  notifyNewChatMessageCap(phone: string, info: NewChatMessageCapInfo): number {
    const clients = this.openClients(normalizePhone(phone));
    const payload = { data: { xwa2_notify_new_chat_messages_capping_info_update: info } };
    for (const client of clients) {
      client.send({
        tag: "notification",
        attrs: {
          id: `fake.${++this.lastStanzaId}`,
          type: "mex",
          from: "s.whatsapp.net",
          t: `${Math.floor(Date.now() / 1000)}`,
        },
        content: [
          {
            tag: "update",
            attrs: { op_name: "MessageCappingInfoNotification" },
            content: Buffer.from(JSON.stringify(payload)),
          },
        ],
      });
    }
    return clients.length;
  }

  /** Errors inside the fake (each also dropped its socket); a passing test expects none. */
  errors(): unknown[] {
    return [...this.failures];
  }

  connectionLog(): ConnectionRecord[] {
    return this.log.all();
  }

  openConnections(phone: string): number {
    return this.openClients(normalizePhone(phone)).length;
  }

  /** The most sockets the account ever had logged in at the same moment. */
  maxConcurrentConnections(phone: string): number {
    return this.log.maxConcurrent(normalizePhone(phone));
  }

  /** The jid Baileys uses for `phone`: handy for `sendMessage`. */
  jid(phone: string): string {
    return userJid(normalizePhone(phone));
  }

  async close(): Promise<void> {
    await this.mediaHost?.close();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const client of this.clients) client.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

export function startFakeWhatsApp(options?: FakeWhatsAppOptions): Promise<FakeWhatsApp> {
  return FakeWhatsApp.start(options);
}

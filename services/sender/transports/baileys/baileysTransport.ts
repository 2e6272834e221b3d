// A real WhatsApp account through Baileys 7: one socket per session, its auth state in Redis
// (fenced by the session lease), connection updates mapped to session statuses, reconnects with
// capped backoff, sends (text and media) confirmed by WhatsApp's server ack (an error ack such as
// 463 is a failure the worker can act on), receipts and replies mapped back to phone numbers
// whether WhatsApp addressed them by number or by LID, and WhatsApp's warnings and cap on messages
// to people who have not replied passed on to the sender. An account with a proxy reaches WhatsApp
// (socket and media) only through it, and a proxy that cannot be reached is said so in its status.
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Agent } from "node:https";
import type { Boom } from "@hapi/boom";
import makeWASocket, {
  Browsers,
  DisconnectReason,
  makeCacheableSignalKeyStore,
  proto,
  type AnyMessageContent,
  type BinaryNode,
  type WASocket,
} from "@whiskeysockets/baileys";
import { phoneOfJid, toJid } from "./addressing.ts";
import { inboundOf } from "./inboundMessages.ts";
import { newChatMessageCapOf } from "./newChatMessageCap.ts";
import { receiptsOf } from "./receiptStanzas.ts";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { maskProxyUrl, withoutProxySecret } from "../../../../shared/domain/proxy.ts";
import { disconnectAction, reconnectDelay } from "../../../../shared/domain/reconnect.ts";
import { proxyAgent } from "../proxyAgent.ts";
import type {
  MediaContent,
  SendResult,
  SessionConnection,
  SessionContext,
  SessionListener,
  Transport,
} from "../transport.ts";
import { hashedMediaFile, redisMediaUploads } from "./mediaUploads.ts";
import type { ReplicaAckPolicy } from "../../../../shared/redis/replicaAcks.ts";
import { redisAuthState, type RedisAuth } from "./redisAuthState.ts";

export interface BaileysOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly log: Logger;
  /** Only for tests and demos against the fake WhatsApp server. */
  readonly waWebSocketUrl?: string;
  /** How long to wait for WhatsApp's ack of a sent message before calling it failed. */
  readonly ackTimeoutMs?: number;
  /** The HTTPS agent for media uploads (a test's trusted throw-away certificate); a session's proxy wins. */
  readonly mediaAgent?: Agent;
  /** Only for tests: the CA to trust for TLS made through a session's proxy (the fake's media host). */
  readonly proxyTrustedCa?: string;
  /**
   * How long the WebSocket may take to open before the attempt is given up and retried: a proxy
   * that accepts the connection and then says nothing would otherwise hold the session forever.
   */
  readonly connectTimeoutMs?: number;
  /** Replicas that must hold each credentials write (Redis behind Sentinel), so a failover keeps the link. */
  readonly replicaAcks?: ReplicaAckPolicy;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;

const RESTRICTED_CODES = new Set(["463"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function baileysTransport(options: BaileysOptions): Transport {
  return {
    name: "baileys",
    open(sessionId: string, listener: SessionListener, context: SessionContext): SessionConnection {
      return new BaileysSession(sessionId, listener, context, options);
    },
  };
}

class BaileysSession implements SessionConnection {
  private sock: WASocket | undefined;
  private auth: RedisAuth | undefined;
  private wanted = false;
  private attempt = 0;
  private lastStatus = "idle";
  private retryTimer: NodeJS.Timeout | undefined;
  private openTimer: NodeJS.Timeout | undefined;
  /** Why the last attempt failed, repeated while the next one runs so the status keeps saying it. */
  private lastFailure: string | undefined;
  private readonly pendingAcks = new Map<string, (error: string | undefined) => void>();
  private readonly log: Logger;

  constructor(
    readonly sessionId: string,
    private readonly listener: SessionListener,
    private readonly context: SessionContext,
    private readonly options: BaileysOptions,
  ) {
    this.log = options.log.child({ sessionId });
  }

  async connect(): Promise<void> {
    if (this.wanted && this.sock) return;
    this.wanted = true;
    await this.start();
  }

  private status(update: Parameters<SessionListener["onStatus"]>[0]) {
    this.lastStatus = update.status;
    this.listener.onStatus(update);
  }

  /** The proxy's agent, or a reason it cannot be used (the URL was checked when stored). */
  private agentForProxy(): { agent?: Agent; problem?: string } {
    const proxy = this.context.proxy;
    if (!proxy) return {};
    try {
      return { agent: proxyAgent(proxy, { trustedCa: this.options.proxyTrustedCa }) };
    } catch (err) {
      return { problem: withoutProxySecret((err as Error).message, proxy) };
    }
  }

  private async start(): Promise<void> {
    clearTimeout(this.retryTimer);
    clearTimeout(this.openTimer);
    const { agent, problem } = this.agentForProxy();
    if (problem) {
      this.wanted = false;
      this.status({ status: "closed", reason: `${problem}; set a valid proxy and connect again` });
      return;
    }
    try {
      this.auth = await redisAuthState(
        this.options.redis,
        this.options.prefix,
        this.sessionId,
        this.context.leaseToken,
        this.options.replicaAcks,
      );
    } catch (err) {
      // Never fall back to a fresh login: that would show a QR and orphan the linked device.
      this.wanted = false;
      this.status({
        status: "closed",
        reason: `stored credentials could not be read (${(err as Error).message}); connect again once Redis is healthy`,
      });
      throw err;
    }
    const { state, saveCreds } = this.auth;
    const sock = makeWASocket({
      auth: { creds: state.creds, keys: makeCacheableSignalKeyStore(state.keys, this.log) },
      logger: this.log.child({ lib: "baileys" }, { level: "warn" }),
      browser: Browsers.ubuntu("wa-blast"),
      markOnlineOnConnect: false,
      syncFullHistory: false,
      // Bootstrap and push-name chunks only: Baileys keeps the LID↔PN pairs they carry, which map receipts
      // and replies to numbers (~2 MB a session); RECENT buffers all history, ~24 MB (PERFORMANCE.md).
      shouldSyncHistoryMessage: ({ syncType }) =>
        syncType === proto.Message.HistorySyncType.INITIAL_BOOTSTRAP ||
        syncType === proto.Message.HistorySyncType.PUSH_NAME,
      // Kept although it also holds each received history chunk (~2 MB a session) for its 5 minutes:
      // it is what answers retry receipts for our sends ("Waiting for this message").
      enableRecentMessageCache: true,
      getMessage: async () => undefined,
      // One upload per account per file, kept across sender restarts (./mediaUploads.ts).
      mediaCache: redisMediaUploads(this.options.redis, this.options.prefix, this.sessionId),
      ...(this.options.waWebSocketUrl ? { waWebSocketUrl: this.options.waWebSocketUrl } : {}),
      // The socket and the media uploads both leave through the account's proxy, if it has one.
      ...(agent ? { agent, fetchAgent: agent } : {}),
      ...(!agent && this.options.mediaAgent ? { fetchAgent: this.options.mediaAgent } : {}),
    });
    this.sock = sock;
    let opened = false;
    sock.ws.on("open", () => {
      opened = true;
      clearTimeout(this.openTimer);
    });
    // Baileys listens for this event only to pass it on, which stops ws from failing the socket: a
    // proxy's 407 or a server's 5xx to the upgrade would leave the attempt hanging.
    sock.ws.on("unexpected-response", (_req: ClientRequest, res: IncomingMessage) => {
      res.resume();
      if (this.sock === sock) sock.end(new Error(`HTTP ${res.statusCode ?? "?"} instead of a WebSocket`));
    });
    const openWithin = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.openTimer = setTimeout(() => {
      if (this.sock === sock && !opened) sock.end(new Error(`no connection within ${openWithin} ms`));
    }, openWithin);
    this.status({
      status: this.attempt > 0 ? "reconnecting" : "connecting",
      ...(this.lastFailure ? { reason: `${this.lastFailure}; trying again` } : {}),
    });
    sock.ev.on("creds.update", () => {
      saveCreds().catch((err: unknown) => this.log.error({ err }, "could not save credentials"));
    });
    sock.ev.on("connection.update", (update) => {
      if (this.sock !== sock) return;
      if (update.qr) {
        this.listener.onQr(update.qr);
        this.status({ status: "qr", reason: "scan the QR code with WhatsApp > Linked devices" });
      }
      if (update.connection === "open") {
        this.attempt = 0;
        this.lastFailure = undefined;
        const me = sock.authState.creds.me?.id;
        const account = me ? `+${me.split(/[:@]/)[0]}` : undefined;
        this.status({ status: "open", ...(account ? { account } : {}) });
      }
      if (update.connection === "close") {
        const error = update.lastDisconnect?.error as Boom | undefined;
        const code = error?.output?.statusCode;
        // Nothing came back through the proxy: say so, rather than a bare WhatsApp code.
        const proxyFailure =
          !opened && this.context.proxy ? this.proxyFailure(this.context.proxy, error) : undefined;
        void this.onClose(code, proxyFailure);
      }
    });
    // Receipts are read from the stanzas themselves: Baileys 6.7 can hold its event buffer open
    // after a send, folding status changes into other events or delaying them indefinitely.
    sock.ws.on("CB:receipt", (node: BinaryNode) => {
      const receipts = receiptsOf(node, sock.authState.creds.me);
      if (receipts.length > 0) void this.onReceipts(sock, receipts);
    });
    // Both kinds: "notify" is live, "append" what people sent while this socket was offline (a
    // STOP sent during a restart must not be lost). History comes as messaging-history.set instead.
    sock.ev.on("messages.upsert", ({ messages }) => void this.onMessages(sock, messages));
    // WhatsApp's monthly cap on messages to people who have not replied: warnings, then the cap.
    sock.ev.on("message-capping.update", (info) => {
      if (this.sock !== sock) return;
      const cap = newChatMessageCapOf(info);
      if (cap) this.listener.onNewChatMessageCap(cap);
      else this.log.warn({ info }, "message capping update not understood");
    });
    sock.ws.on("CB:ack,class:message", (node: BinaryNode) => {
      const id = node.attrs.id;
      if (!id) return;
      this.pendingAcks.get(id)?.(node.attrs.error);
    });
  }

  private async onReceipts(sock: WASocket, receipts: ReturnType<typeof receiptsOf>): Promise<void> {
    const lids = sock.signalRepository.lidMapping;
    for (const { messageId, fromJid, status } of receipts) {
      try {
        const to = await phoneOfJid(fromJid, lids);
        this.listener.onReceipt({ messageId, status, ...(to ? { to } : {}) });
      } catch (err) {
        this.log.warn({ err, messageId }, "receipt not mapped to a recipient");
      }
    }
  }

  private async onMessages(sock: WASocket, messages: Parameters<typeof inboundOf>[0][]): Promise<void> {
    for (const message of messages) {
      try {
        const inbound = await inboundOf(message, sock.signalRepository.lidMapping);
        if (inbound) this.listener.onInbound(inbound);
      } catch (err) {
        this.log.warn({ err, messageId: message.key.id }, "inbound message not read");
      }
    }
  }

  private proxyFailure(proxy: string, error: Error | undefined): string {
    // Baileys wraps socket errors as "WebSocket Error (<cause>)" and keeps the cause as `data`.
    const data = (error as Boom | undefined)?.data as { message?: unknown } | undefined;
    const cause = typeof data?.message === "string" ? data.message : (error?.message ?? "connection closed");
    const hint = /\b407\b/.test(cause) ? " (the proxy refused its credentials)" : "";
    return withoutProxySecret(`proxy unreachable (${maskProxyUrl(proxy)}): ${cause}${hint}`, proxy);
  }

  /** A send waiting on an ack from a socket that is gone fails now, not after the ack timeout. */
  private failPendingAcks(): void {
    for (const resolve of this.pendingAcks.values()) resolve("connection_closed");
  }

  private async onClose(code: number | undefined, proxyFailure?: string): Promise<void> {
    this.sock = undefined;
    clearTimeout(this.openTimer);
    this.failPendingAcks();
    if (!this.wanted) return;
    if (proxyFailure) {
      // Retried with the usual backoff: a proxy that is down for a while comes back by itself.
      this.attempt++;
      this.lastFailure = proxyFailure;
      const delay = reconnectDelay(this.attempt, Math.random);
      this.log.warn({ reason: proxyFailure, retryInMs: delay }, "could not connect through the proxy");
      this.status({ status: "reconnecting", reason: `${proxyFailure}; retrying in ${delay} ms` });
      this.retryTimer = setTimeout(() => {
        if (this.wanted) this.start().catch((err: unknown) => this.log.error({ err }, "reconnect failed"));
      }, delay);
      return;
    }
    this.lastFailure = undefined;
    const action = disconnectAction(code);
    if (code === 408 && this.lastStatus === "qr") {
      this.wanted = false;
      this.status({
        status: "closed",
        code,
        reason: "the QR code expired unscanned; connect again to get a new one",
      });
      return;
    }
    if (action === "logged_out") {
      this.wanted = false;
      await this.auth
        ?.clear()
        .catch((err: unknown) => this.log.error({ err }, "could not clear credentials"));
      this.status({
        status: "logged_out",
        code,
        reason: "logged out from the phone; connect to scan a new QR code",
      });
      return;
    }
    if (action === "stop") {
      this.wanted = false;
      const reason =
        code === 440
          ? "this account was opened elsewhere (connection replaced)"
          : `WhatsApp refused the session (${code})`;
      this.status({ status: "closed", ...(code !== undefined ? { code } : {}), reason });
      return;
    }
    this.attempt++;
    const delay = action === "reconnect_now" ? 0 : reconnectDelay(this.attempt, Math.random);
    this.status({
      status: "reconnecting",
      ...(code !== undefined ? { code } : {}),
      reason: `reconnecting in ${delay} ms`,
    });
    this.retryTimer = setTimeout(() => {
      if (this.wanted) this.start().catch((err: unknown) => this.log.error({ err }, "reconnect failed"));
    }, delay);
  }

  async requestPairingCode(phone: string): Promise<string> {
    if (!this.sock) await this.connect();
    const sock = this.sock;
    if (!sock) throw new Error("session is not connecting");
    if (sock.authState.creds.registered) throw new Error("session is already linked");
    // The pairing request goes out on an open socket, after the server's first pair-device query.
    for (let i = 0; i < 100 && this.lastStatus !== "qr"; i++) await sleep(50);
    return sock.requestPairingCode(phone.replace(/^\+/, ""));
  }

  async sendTyping(to: string, durationMs: number): Promise<void> {
    const sock = this.sock;
    if (!sock || durationMs <= 0) return;
    const jid = toJid(to);
    await sock.sendPresenceUpdate("composing", jid);
    await sleep(durationMs);
    await sock.sendPresenceUpdate("paused", jid);
  }

  send(to: string, text: string, messageId: string): Promise<SendResult> {
    return this.relay(to, { text }, messageId);
  }

  async sendMedia(to: string, media: MediaContent, messageId: string): Promise<SendResult> {
    let content: AnyMessageContent;
    try {
      content = await mediaMessage(media);
    } catch (err) {
      return { ok: false, reason: `media not readable: ${(err as Error).message}` };
    }
    return this.relay(to, content, messageId);
  }

  private async relay(to: string, content: AnyMessageContent, messageId: string): Promise<SendResult> {
    const sock = this.sock;
    if (!sock || this.lastStatus !== "open") {
      return { ok: false, reason: "session_not_open", accountDown: true };
    }
    let timer: NodeJS.Timeout | undefined;
    const acked = new Promise<string | undefined>((resolve) => {
      timer = setTimeout(() => resolve("ack_timeout"), this.options.ackTimeoutMs ?? 20_000);
      this.pendingAcks.set(messageId, resolve);
    });
    try {
      try {
        await sock.sendMessage(toJid(to), content, { messageId });
      } catch (err) {
        // Nothing left for WhatsApp (an upload refused, a socket gone): a failure, never "sent".
        // When the socket went, the account is why, and another account can send it instead.
        const closed = (err as Partial<Boom>).output?.statusCode === DisconnectReason.connectionClosed;
        const accountDown = closed || this.sock !== sock || this.lastStatus !== "open";
        return { ok: false, reason: `not sent: ${(err as Error).message}`, accountDown };
      }
      const error = await acked;
      if (error === undefined) return { ok: true, messageId };
      if (RESTRICTED_CODES.has(error)) {
        return { ok: false, reason: `restricted by WhatsApp (${error})`, restricted: true };
      }
      if (error === "ack_timeout" || error === "connection_closed") {
        const reason =
          error === "ack_timeout" ? "no ack from WhatsApp" : "connection closed before WhatsApp's ack";
        return { ok: false, reason, unconfirmed: true };
      }
      return { ok: false, reason: `whatsapp error ${error}` };
    } finally {
      clearTimeout(timer);
      this.pendingAcks.delete(messageId);
    }
  }

  async onWhatsApp(phones: readonly string[]): Promise<Set<string>> {
    const sock = this.sock;
    if (!sock) throw new Error("session is not open");
    const results = (await sock.onWhatsApp(...phones.map((p) => p.replace(/^\+/, "")))) ?? [];
    // A number answered under its LID must still count as that number, or it would fail as
    // not_on_whatsapp without a message ever sent.
    const found = await Promise.all(
      results.filter((r) => r.exists).map((r) => phoneOfJid(String(r.jid), sock.signalRepository.lidMapping)),
    );
    return new Set(found.filter((phone): phone is string => phone !== undefined));
  }

  async logout(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.openTimer);
    const sock = this.sock;
    this.sock = undefined;
    this.failPendingAcks();
    if (sock) await sock.logout().catch((err: unknown) => this.log.warn({ err }, "logout request failed"));
    await this.auth?.clear();
    this.status({ status: "logged_out", reason: "logged out" });
  }

  async close(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.openTimer);
    const sock = this.sock;
    this.sock = undefined;
    this.failPendingAcks();
    sock?.end(undefined);
    this.status({ status: "closed" });
  }
}

/**
 * Baileys' message content for one attachment; a stream is read once, by the upload. Bytes with a
 * known hash go by their hashed file, so the account's upload cache applies. The caption is always
 * set, "" for none: a cached upload must not carry an earlier recipient's.
 */
async function mediaMessage(media: MediaContent): Promise<AnyMessageContent> {
  const hashed =
    media.sha256 !== undefined && media.body instanceof Uint8Array
      ? await hashedMediaFile(media.sha256, media.body)
      : undefined;
  const body = hashed
    ? { url: hashed }
    : media.body instanceof Uint8Array
      ? Buffer.from(media.body)
      : { stream: media.body };
  const { mimetype, fileName } = media;
  const caption = media.caption ?? "";
  switch (media.kind) {
    case "image":
      return { image: body, mimetype, caption };
    case "video":
      return { video: body, mimetype, caption };
    case "audio":
      return { audio: body, mimetype, ptt: media.voiceNote ?? false };
    case "document":
      return {
        document: body,
        mimetype,
        fileName: fileName ?? "document",
        caption,
      };
  }
}

// The real, unmodified Baileys client pointed at the fake, with a journal of what it reported
// (connection updates, message statuses) that tests can await instead of sleeping.
import makeWASocket, {
  initAuthCreds,
  type AuthenticationState,
  type BinaryNode,
  type ConnectionState,
  type SocketConfig,
  type WAMessage,
  type WASocket,
} from "@whiskeysockets/baileys";
import { EventEmitter } from "node:events";
import { pino } from "pino";
import { MemoryKeyStore } from "./memoryKeyStore.ts";

/** A fresh in-memory auth state; Baileys mutates `creds` in place, so reuse it to reconnect. */
export function newAuthState(): AuthenticationState {
  return { creds: initAuthCreds(), keys: new MemoryKeyStore() };
}

/** The DisconnectReason code inside Baileys' Boom error. */
export function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("output" in error)) return undefined;
  const { output } = error;
  if (typeof output !== "object" || output === null || !("statusCode" in output)) return undefined;
  return typeof output.statusCode === "number" ? output.statusCode : undefined;
}

export interface MessageStatus {
  /** Highest status seen: Baileys' buffer may merge delivered (3) and read (4) into one update. */
  readonly status: number;
  /** The ack error, when the server answered with one (status ERROR, 0). */
  readonly error: string | undefined;
}

export class TestClient {
  readonly sock: WASocket;
  readonly updates: Partial<ConnectionState>[] = [];
  /** Messages from other people, as Baileys emitted them (`messages.upsert`: live or from the offline queue). */
  readonly received: (WAMessage & { upsertType: string })[] = [];
  private readonly statuses = new Map<string, MessageStatus>();
  private readonly acks = new Map<string, string | undefined>();
  private readonly events = new EventEmitter();

  constructor(
    url: string,
    readonly auth: AuthenticationState,
    config: Partial<SocketConfig> = {},
  ) {
    this.events.setMaxListeners(0);
    this.sock = makeWASocket({
      waWebSocketUrl: url,
      auth,
      logger: pino({ level: process.env.FAKE_WA_LOG ?? "silent" }),
      shouldSyncHistoryMessage: () => false,
      markOnlineOnConnect: false,
      connectTimeoutMs: 5000,
      defaultQueryTimeoutMs: 5000,
      ...config,
    });
    this.sock.ev.on("connection.update", (update) => {
      this.updates.push(update);
      this.events.emit("change");
    });
    // Baileys 6.7.24 leaves its event buffer on after a send, so a status can arrive merged into the
    // buffered `messages.upsert` instead of as `messages.update`: both are statuses the app sees.
    this.sock.ev.on("messages.upsert", ({ messages, type }) => {
      for (const m of messages) {
        if (m.key.fromMe && m.key.id) this.recordStatus(m.key.id, m.status, m.messageStubParameters);
        if (!m.key.fromMe) this.received.push({ ...m, upsertType: type });
      }
      this.events.emit("change");
    });
    this.sock.ev.on("messages.update", (updates) => {
      for (const { key, update } of updates) {
        if (key.id) this.recordStatus(key.id, update.status, update.messageStubParameters);
      }
    });
    this.sock.ws.on("CB:ack,class:message", (node: BinaryNode) => {
      if (node.attrs.id) this.acks.set(node.attrs.id, node.attrs.error);
      this.events.emit("change");
    });
  }

  private recordStatus(
    id: string,
    status: number | null | undefined,
    stub: string[] | null | undefined,
  ): void {
    if (typeof status !== "number") return;
    const before = this.statuses.get(id);
    const failed = status === 0 || before?.status === 0;
    this.statuses.set(id, {
      status: failed ? 0 : Math.max(before?.status ?? 0, status),
      error: status === 0 ? String(stub?.[0] ?? "") : before?.error,
    });
    this.events.emit("change");
  }

  /** The first value `pick` finds in the journal, waiting for later updates if needed. */
  waitFor<T>(pick: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    const now = pick();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onChange = () => {
        const value = pick();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Baileys client: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off("change", onChange);
      };
      this.events.on("change", onChange);
    });
  }

  qrs(): string[] {
    return this.updates.flatMap((u) => (u.qr ? [u.qr] : []));
  }

  /** The `n`-th QR (0-based) Baileys emitted. */
  qr(n = 0, timeoutMs?: number): Promise<string> {
    return this.waitFor(() => this.qrs()[n], `QR #${n}`, timeoutMs);
  }

  opened(timeoutMs?: number): Promise<true> {
    return this.waitFor(
      () => this.updates.some((u) => u.connection === "open") || undefined,
      "open",
      timeoutMs,
    );
  }

  /** The status code of the close, e.g. 515 restartRequired. */
  closed(timeoutMs?: number): Promise<number> {
    return this.waitFor(
      () => {
        const close = this.updates.find((u) => u.connection === "close");
        return close ? (statusCodeOf(close.lastDisconnect?.error) ?? -1) : undefined;
      },
      "close",
      timeoutMs,
    );
  }

  /** The message with WhatsApp id `id` once Baileys has emitted it. */
  receivedMessage(id: string, timeoutMs?: number): Promise<WAMessage & { upsertType: string }> {
    return this.waitFor(() => this.received.find((m) => m.key.id === id), `message ${id}`, timeoutMs);
  }

  status(id: string): MessageStatus | undefined {
    return this.statuses.get(id);
  }

  /**
   * The server's ack of message `id` as read from the socket (as the sender's transport does): the
   * error code, or undefined for success. Baileys' own ERROR status may wait in its event buffer.
   */
  ack(id: string, timeoutMs?: number): Promise<{ error: string | undefined }> {
    return this.waitFor(
      () => (this.acks.has(id) ? { error: this.acks.get(id) } : undefined),
      `ack of ${id}`,
      timeoutMs,
    );
  }

  /** Waits until message `id` reaches `status` (3 delivered, 4 read) or failed (0). */
  waitForStatus(id: string, status: number, timeoutMs?: number): Promise<MessageStatus> {
    return this.waitFor(
      () => {
        const seen = this.statuses.get(id);
        return seen && (seen.status >= status || seen.status === 0) ? seen : undefined;
      },
      `message ${id} status ${status}`,
      timeoutMs,
    );
  }

  end(): void {
    this.sock.end(undefined);
  }
}

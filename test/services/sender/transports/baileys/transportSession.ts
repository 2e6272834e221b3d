// A session of the real Baileys transport against a fresh fake WhatsApp, opened the way the sender
// opens one (the auth fence raised first, a key prefix of its own in a real redis-server), with
// what the transport reports kept in a journal tests can wait on.
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { pino, type Level } from "pino";
import {
  baileysTransport,
  type BaileysOptions,
} from "../../../../../services/sender/transports/baileys/baileysTransport.ts";
import { claimAuthFence } from "../../../../../services/sender/transports/baileys/redisAuthState.ts";
import type {
  InboundMessage,
  NewChatMessageCap,
  ReceiptStatus,
  SessionConnection,
  SessionListener,
  StatusUpdate,
} from "../../../../../services/sender/transports/transport.ts";
import {
  startFakeWhatsApp,
  type FakeWhatsApp,
  type FakeWhatsAppOptions,
} from "../../../../fakeWhatsApp/fakeWhatsAppServer.ts";
import { redisForSuite } from "../../../../harness/servers.ts";

const SESSION = "main";
const LEASE_TOKEN = 1;
const WAIT_MS = 15_000;

export interface Receipt {
  readonly messageId: string;
  readonly to?: string;
  readonly status: ReceiptStatus;
}

/** Everything the transport reported to the sender, in order, and a way to wait for what is due. */
export class ListenerJournal implements SessionListener {
  readonly statuses: StatusUpdate[] = [];
  readonly qrs: string[] = [];
  readonly receipts: Receipt[] = [];
  readonly inbound: InboundMessage[] = [];
  readonly newChatMessageCaps: NewChatMessageCap[] = [];
  private readonly waiters = new Set<() => void>();

  onStatus(update: StatusUpdate): void {
    this.statuses.push(update);
    this.changed();
  }
  onQr(qr: string): void {
    this.qrs.push(qr);
    this.changed();
  }
  onReceipt(receipt: Receipt): void {
    this.receipts.push(receipt);
    this.changed();
  }
  onInbound(message: InboundMessage): void {
    this.inbound.push(message);
    this.changed();
  }
  onNewChatMessageCap(cap: NewChatMessageCap): void {
    this.newChatMessageCaps.push(cap);
    this.changed();
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with the first defined value of `check`, re-evaluated after every report. */
  waitFor<T>(check: () => T | undefined, what: string, timeoutMs = WAIT_MS): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiter = () => {
        const value = check();
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${this.describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  receiptsFor(messageId: string): Receipt[] {
    return this.receipts.filter((r) => r.messageId === messageId);
  }

  private describe(): string {
    const { statuses, qrs, receipts, inbound } = this;
    return JSON.stringify({ statuses, qrs: qrs.length, receipts, inbound });
  }
}

export interface TransportSession {
  readonly wa: FakeWhatsApp;
  readonly journal: ListenerJournal;
  readonly connection: SessionConnection;
}

/** The transport's options other than those that point it at the fake and at Redis. */
export type TransportExtras = Omit<BaileysOptions, "redis" | "prefix" | "log" | "waWebSocketUrl">;

export interface TransportSessionSetup {
  readonly fake: FakeWhatsAppOptions;
  /** How much of the transport's log (and Baileys' under it) to keep. */
  readonly logLevel: Level;
  /** Given the started fake, since a media host's certificate or agent only exists once it runs. */
  readonly transport?: (wa: FakeWhatsApp) => TransportExtras;
  /** The account's proxy, as the sender passes it in the session's context. */
  readonly proxy?: string;
}

/** What a test may still check once the session and the fake are closed. */
export interface TransportSessionRecord {
  readonly logLines: readonly string[];
  readonly journal: ListenerJournal;
}

export interface TransportSessionSuite {
  /**
   * Opens and connects a session of a fresh fake; everything is closed however the test ends, the
   * log is printed when it fails, and a test that made the fake fail internally fails too.
   */
  withSession(
    setup: TransportSessionSetup,
    body: (session: TransportSession) => Promise<void>,
  ): Promise<TransportSessionRecord>;
}

/**
 * Call inside a `describe`: one redis-server serves the suite's sessions, each session's
 * credentials under a key prefix of its own.
 */
export function transportSessionSuite(): TransportSessionSuite {
  const redis = redisForSuite();
  let sessionCount = 0;
  return {
    withSession: (setup, body) => withTransportSession(redis(), `ts${++sessionCount}:`, setup, body),
  };
}

async function withTransportSession(
  redis: Redis,
  prefix: string,
  setup: TransportSessionSetup,
  body: (session: TransportSession) => Promise<void>,
): Promise<TransportSessionRecord> {
  // No history push unless a test asks: it only costs time, and the fake's own tests cover it.
  const wa = await startFakeWhatsApp({ historySync: false, ...setup.fake });
  const journal = new ListenerJournal();
  // Baileys warns about plenty on a normal login; its words matter when a test fails, or to tests
  // that check what reaches the log.
  const logLines: string[] = [];
  const log = pino({ level: setup.logLevel }, { write: (line: string) => void logLines.push(line) });
  let connection: SessionConnection | undefined;
  try {
    // The sender raises the fence when it takes the lease, before the transport writes any key.
    assert.equal(await claimAuthFence(redis, prefix, SESSION, LEASE_TOKEN), true);
    const transport = baileysTransport({
      redis,
      prefix,
      log,
      waWebSocketUrl: wa.url,
      ...setup.transport?.(wa),
    });
    connection = transport.open(SESSION, journal, { leaseToken: LEASE_TOKEN, proxy: setup.proxy });
    await connection.connect();
    await body({ wa, journal, connection });
    assert.deepEqual(wa.errors(), [], "the fake hit no internal error");
  } catch (err) {
    console.error(`log of the failed test:\n${logLines.join("")}`);
    throw err;
  } finally {
    await connection?.close();
    await wa.close();
  }
  return { logLines, journal };
}

/** Scans the session's first QR from `account`'s phone and waits for the session to open as it. */
export async function linkByQr({ wa, journal }: TransportSession, account: string): Promise<void> {
  const qr = await journal.waitFor(() => journal.qrs[0], "a QR to scan");
  await wa.scanQr(qr, account);
  const open = await journal.waitFor(
    () => journal.statuses.find((s) => s.status === "open"),
    "the session to open after the scan",
  );
  assert.equal(open.account, `+${account}`);
}

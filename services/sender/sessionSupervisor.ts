// Runs the sessions this sender holds a lease on: acquires a fair share of unowned sessions,
// renews the leases, stops a session at once when its lease is lost (before another owner can
// open it), hands sessions over when more senders join, and answers the gateway's session
// commands over NATS request/reply.
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import QRCode from "qrcode";
import { mergePacing, type PacingPolicy } from "../../shared/domain/pacing.ts";
import type { QrUpdateMessage, SessionStatusMessage } from "../../shared/messages/sessionEvents.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import type { Lease, SessionLeases } from "../../shared/nats/sessionLeases.ts";
import { subjects } from "../../shared/nats/topology.ts";
import type { IdempotencyRecords } from "../../shared/redis/idempotency.ts";
import type { BlastProjection } from "../../shared/redis/projection.ts";
import type { SessionRegistry } from "../../shared/redis/sessions.ts";
import type { NumberCheck } from "./numberCheck.ts";
import type { ReceiptRecorder } from "./receipts.ts";
import type { InboundObserver, SendObserver } from "./senderMetrics.ts";
import type { SendPacer } from "./sendPacer.ts";
import { SessionWorker } from "./sessionWorker.ts";
import type { SessionConnection, StatusUpdate, Transport } from "./transports/transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface RunningSession {
  lease: Lease;
  connection: SessionConnection;
  worker: SessionWorker;
  status: StatusUpdate["status"];
  commands: Subscription;
}

export interface SupervisorDeps {
  readonly owner: string;
  readonly nats: Nats;
  readonly leases: SessionLeases;
  readonly registry: SessionRegistry;
  readonly projection: BlastProjection;
  readonly idempotency: IdempotencyRecords;
  readonly receipts: ReceiptRecorder;
  readonly transport: Transport;
  /** The deployment's default pacing (from config). */
  readonly pacing: PacingPolicy;
  readonly pacer: SendPacer;
  readonly numbers: NumberCheck;
  readonly ackWaitMs: number;
  readonly log: Logger;
  /** Raises the auth-state fence to a new lease's token; false if a newer owner exists. */
  readonly claimFence: (sessionId: string, token: number) => Promise<boolean>;
  readonly metrics: SendObserver & InboundObserver;
}

export class SessionSupervisor {
  private readonly sessions = new Map<string, RunningSession>();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private busy = false;

  constructor(private readonly deps: SupervisorDeps) {}

  get owned(): string[] {
    return [...this.sessions.keys()].sort();
  }

  statuses(): Array<{ sessionId: string; status: StatusUpdate["status"] }> {
    return [...this.sessions].map(([sessionId, running]) => ({ sessionId, status: running.status }));
  }

  async start(): Promise<void> {
    await this.tick();
    const every = Math.max(500, Math.floor(this.deps.leases.ttlMs / 3));
    this.timers = [
      setInterval(() => void this.guard(() => this.tick()), Math.min(2000, every)),
      setInterval(() => void this.guard(() => this.renewAll()), every),
    ];
  }

  private async guard(step: () => Promise<void>): Promise<void> {
    if (this.stopping) return;
    try {
      await step();
    } catch (err) {
      this.deps.log.warn({ err }, "session supervision step failed");
    }
  }

  /** Takes up to a fair share of unowned sessions; gives one back when holding more than that. */
  private async tick(): Promise<void> {
    if (this.busy || this.stopping) return;
    this.busy = true;
    try {
      const { leases, owner, registry } = this.deps;
      await leases.heartbeat(owner);
      const ids = await registry.ids();
      const share = Math.ceil(ids.length / Math.max(1, await leases.liveSenders()));
      for (const sessionId of ids) {
        if (this.sessions.size >= share || this.stopping) break;
        if (this.sessions.has(sessionId)) continue;
        const lease = await leases.acquire(sessionId, owner);
        if (!lease) continue;
        if (!(await this.deps.claimFence(sessionId, lease.token))) {
          await leases.release(lease);
          continue;
        }
        await this.run(sessionId, lease);
      }
      if (this.sessions.size > share) {
        const handOver = this.owned.at(-1);
        if (handOver) await this.stopSession(handOver, "handed over to balance senders", true);
      }
    } finally {
      this.busy = false;
    }
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.sessions.entries()].map(async ([sessionId, running]) => {
        try {
          const renewed = await this.deps.leases.renew(running.lease);
          if (renewed) running.lease = renewed;
          else await this.stopSession(sessionId, "lease lost to another sender", false);
        } catch (err) {
          // Cannot reach NATS: stop before the lease can lapse and be taken by someone else.
          if (Date.now() > running.lease.expiresAt - this.deps.leases.ttlMs / 3) {
            this.deps.log.error({ err, sessionId }, "cannot renew lease; stopping session");
            await this.stopSession(sessionId, "lease could not be renewed", false);
          }
        }
      }),
    );
  }

  private publishStatus(sessionId: string, update: StatusUpdate): void {
    const { nats, log, owner, registry } = this.deps;
    const message: SessionStatusMessage = {
      type: "session_status",
      sessionId,
      ...update,
      owner,
      at: new Date().toISOString(),
    };
    log.info({ sessionId, status: update.status, reason: update.reason }, "session status");
    void registry
      .recordStatus(message)
      .then(() =>
        nats.js.publish(subjects.sessionEvent(sessionId, "status"), encoder.encode(JSON.stringify(message))),
      )
      .catch((err: unknown) => log.warn({ err, sessionId }, "could not publish session status"));
  }

  private publishQr(sessionId: string, qr: string): void {
    void QRCode.toDataURL(qr, { margin: 1, width: 264 })
      .then((png) => {
        const message: QrUpdateMessage = {
          type: "qr_update",
          sessionId,
          qr,
          png,
          at: new Date().toISOString(),
        };
        return this.deps.nats.js.publish(
          subjects.sessionEvent(sessionId, "qr"),
          encoder.encode(JSON.stringify(message)),
        );
      })
      .catch((err: unknown) => this.deps.log.warn({ err, sessionId }, "could not publish QR"));
  }

  private async run(sessionId: string, lease: Lease): Promise<void> {
    const { nats, log, owner } = this.deps;
    const connection = this.deps.transport.open(
      sessionId,
      {
        onStatus: (update) => {
          const running = this.sessions.get(sessionId);
          // A session this sender gave up (lease lost, handed over) is no longer its to report.
          if (!running) return;
          running.status = update.status;
          this.publishStatus(sessionId, update);
        },
        onQr: (qr) => this.publishQr(sessionId, qr),
        onReceipt: (receipt) => {
          this.deps.receipts
            .record(receipt)
            .catch((err: unknown) => log.warn({ err, sessionId }, "receipt not recorded"));
        },
        onInbound: (message) => {
          // The text is personal data: the log gets its length, never the words.
          log.info(
            {
              sessionId,
              messageId: message.messageId,
              from: message.from,
              fromJid: message.fromJid,
              quotedMessageId: message.quotedMessageId,
              textLength: message.text.length,
            },
            "inbound message",
          );
          this.deps.metrics.inbound(sessionId);
        },
      },
      { leaseToken: lease.token },
    );
    const worker = new SessionWorker({
      sessionId,
      owner,
      nats,
      projection: this.deps.projection,
      idempotency: this.deps.idempotency,
      receipts: this.deps.receipts,
      connection,
      policyFor: async (blastId) =>
        mergePacing(
          this.deps.pacing,
          await this.deps.registry.pacing(sessionId),
          await this.deps.projection.pacing(blastId),
        ),
      pacer: this.deps.pacer,
      numbers: this.deps.numbers,
      ackWaitMs: this.deps.ackWaitMs,
      log,
      isOpen: () => this.sessions.get(sessionId)?.status === "open",
      onRestricted: (reason) => this.publishStatus(sessionId, { status: "restricted", reason }),
      metrics: this.deps.metrics,
    });
    const commands = nats.nc.subscribe(subjects.sessionCommands(sessionId), {
      callback: (err, msg) => {
        if (!err) void this.answer(connection, msg);
      },
    });
    this.sessions.set(sessionId, { lease, connection, worker, status: "idle", commands });
    log.info({ sessionId, token: lease.token }, "session acquired");
    worker.start();
    await connection.connect().catch((err: unknown) => log.error({ err, sessionId }, "connect failed"));
  }

  private async answer(connection: SessionConnection, msg: Msg): Promise<void> {
    const what = msg.subject.split(".").at(-1);
    const reply = (body: object) =>
      msg.respond(encoder.encode(JSON.stringify({ owner: this.deps.owner, ...body })));
    try {
      if (what === "connect") await connection.connect();
      else if (what === "logout") await connection.logout();
      else if (what === "pairing-code") {
        const { phone } = JSON.parse(decoder.decode(msg.data)) as { phone: string };
        return void reply({ ok: true, code: await connection.requestPairingCode(phone) });
      } else return void reply({ ok: false, error: `unknown command ${what}` });
      reply({ ok: true });
    } catch (err) {
      reply({ ok: false, error: (err as Error).message });
    }
  }

  private async stopSession(sessionId: string, why: string, release: boolean): Promise<void> {
    const running = this.sessions.get(sessionId);
    if (!running) return;
    this.sessions.delete(sessionId);
    this.deps.log.info({ sessionId, why }, "session stopping");
    running.commands.unsubscribe();
    await running.worker.stop();
    await running.connection.close().catch(() => undefined);
    if (release) await this.deps.leases.release(running.lease).catch(() => undefined);
  }

  /** Graceful: each worker finishes the send it has in hand, sockets close, leases are released. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const id of this.owned) this.publishStatus(id, { status: "closed", reason: "its sender stopped" });
    await Promise.all(this.owned.map((id) => this.stopSession(id, "sender stopping", true)));
    await this.deps.leases.leave(this.deps.owner).catch(() => undefined);
  }
}

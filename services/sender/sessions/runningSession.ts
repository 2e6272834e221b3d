// One session this sender holds the lease on: its WhatsApp connection, what the connection reports
// (status and QR to the gateway, receipts to the log, inbound messages counted), the worker that
// drains its share of blasts, and its command subscription. Stopping it lets the batch in hand
// settle before the socket closes.
import type { Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import QRCode from "qrcode";
import { mergePacing, type PacingPolicy } from "../../../shared/domain/pacing.ts";
import type { QrUpdateMessage, SessionStatusMessage } from "../../../shared/messages/sessionEvents.ts";
import type { Nats } from "../../../shared/nats/connection.ts";
import type { Lease } from "../../../shared/nats/sessionLeases.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { Conversations } from "../../../shared/redis/conversations.ts";
import type { IdempotencyRecords } from "../../../shared/redis/idempotency.ts";
import type { BlastProjection } from "../../../shared/redis/projection.ts";
import type { SessionRegistry } from "../../../shared/redis/sessions.ts";
import type { NumberCheck } from "../numberCheck.ts";
import type { InboundLog } from "../inbound/inboundLog.ts";
import type { ReceiptRecorder } from "../receipts.ts";
import type { InboundObserver, SendObserver } from "../senderMetrics.ts";
import type { SendPacer } from "../sendPacer.ts";
import { SessionWorker } from "../sending/sessionWorker.ts";
import type { SessionConnection, StatusUpdate, Transport } from "../transports/transport.ts";
import { answerSessionCommands } from "./sessionCommands.ts";

const encoder = new TextEncoder();

/** What running a session needs, shared by every session of the sender. */
export interface SessionRunDeps {
  readonly owner: string;
  readonly nats: Nats;
  readonly registry: SessionRegistry;
  readonly projection: BlastProjection;
  readonly idempotency: IdempotencyRecords;
  readonly receipts: ReceiptRecorder;
  readonly conversations: Conversations;
  /** Where people's messages are stored as they arrive, for the inbound processor. */
  readonly inbound: InboundLog;
  readonly transport: Transport;
  /** The deployment's default pacing (from config). */
  readonly pacing: PacingPolicy;
  readonly pacer: SendPacer;
  readonly numbers: NumberCheck;
  readonly ackWaitMs: number;
  /** Most recipients per batch for unpaced sending (1 for transports that send one at a time). */
  readonly maxBatch: number;
  readonly log: Logger;
  readonly metrics: SendObserver & InboundObserver;
}

export class RunningSession {
  status: StatusUpdate["status"] = "idle";
  private readonly connection: SessionConnection;
  private readonly worker: SessionWorker;
  private readonly commands: Subscription;
  private stopped = false;

  constructor(
    private readonly deps: SessionRunDeps,
    readonly sessionId: string,
    public lease: Lease,
    proxy: string | undefined,
  ) {
    const { log } = deps;
    this.connection = deps.transport.open(
      sessionId,
      {
        onStatus: (update) => this.onStatus(update),
        onQr: (qr) => this.publishQr(qr),
        onReceipt: (receipt) => {
          deps.receipts
            .record(sessionId, receipt)
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
          deps.metrics.inbound(sessionId);
          deps.inbound
            .append(sessionId, message)
            .catch((err: unknown) =>
              log.error(
                { err, sessionId, messageId: message.messageId },
                "inbound message lost: NATS refused it",
              ),
            );
        },
      },
      { leaseToken: lease.token, ...(proxy ? { proxy } : {}) },
    );
    this.worker = new SessionWorker({
      sessionId,
      owner: deps.owner,
      nats: deps.nats,
      projection: deps.projection,
      idempotency: deps.idempotency,
      conversations: deps.conversations,
      connection: this.connection,
      policyFor: async (blastId) =>
        mergePacing(
          deps.pacing,
          await deps.registry.pacing(sessionId),
          await deps.projection.pacing(blastId),
        ),
      pacer: deps.pacer,
      numbers: deps.numbers,
      ackWaitMs: deps.ackWaitMs,
      maxBatch: deps.maxBatch,
      log,
      isOpen: () => !this.stopped && this.status === "open",
      onRestricted: (reason) => this.publishStatus({ status: "restricted", reason }),
      metrics: deps.metrics,
    });
    this.commands = answerSessionCommands(deps.nats, deps.owner, sessionId, this.connection);
  }

  /** One of this account's blasts changed: its worker looks for work now. */
  nudge(): void {
    this.worker.nudge();
  }

  async start(): Promise<void> {
    this.deps.log.info({ sessionId: this.sessionId, token: this.lease.token }, "session acquired");
    this.worker.start();
    await this.connection
      .connect()
      .catch((err: unknown) => this.deps.log.error({ err, sessionId: this.sessionId }, "connect failed"));
  }

  private onStatus(update: StatusUpdate): void {
    // A session this sender gave up (lease lost, handed over) is no longer its to report.
    if (this.stopped) return;
    this.status = update.status;
    this.publishStatus(update);
    if (update.status === "logged_out") {
      // Unlinked: nothing will send from it until someone scans again, so its pools route around it.
      const reason = `${update.reason ?? "logged out"}; link it again and resume`;
      this.worker
        .pauseAccount(reason)
        .catch((err: unknown) =>
          this.deps.log.warn({ err, sessionId: this.sessionId }, "could not pause account"),
        );
    }
  }

  publishStatus(update: StatusUpdate): void {
    const { nats, log, owner, registry } = this.deps;
    const { sessionId } = this;
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

  private publishQr(qr: string): void {
    const { sessionId } = this;
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

  async stop(why: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deps.log.info({ sessionId: this.sessionId, why }, "session stopping");
    this.commands.unsubscribe();
    await this.worker.stop();
    await this.connection.close().catch(() => undefined);
  }
}

// One session this sender holds the lease on: its WhatsApp connection, what the connection reports
// (status and QR to the gateway, receipts to the log, inbound messages counted, WhatsApp's cap on
// messages to new chats acted on), the worker that drains its share of blasts, and its command
// subscription. Stopping it lets the batch in hand settle before the socket closes.
import { mediaContentOf, type MediaBytes } from "../sending/mediaBytes.ts";
import type { Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import QRCode from "qrcode";
import type { MediaRef } from "../../../shared/domain/media.ts";
import { mergePacing, type PacingPolicy } from "../../../shared/domain/pacing.ts";
import { sendLimitsFor, type SendLimitDefaults } from "../../../shared/domain/sendLimits.ts";
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
import type {
  NewChatMessageCap,
  SendResult,
  SessionConnection,
  StatusUpdate,
  Transport,
} from "../transports/transport.ts";
import { answerSessionCommands, type PacedMessage } from "./sessionCommands.ts";

const encoder = new TextEncoder();
/** Longer than this to the account's next slot and a confirmation is tried again later instead. */
const MAX_REPLY_WAIT_MS = 60_000;

/** What the session says of WhatsApp's cap on messages to new chats, in words its owner can act on. */
function newChatMessageCapReason(cap: NewChatMessageCap): string {
  const figures =
    cap.used !== undefined && cap.quota !== undefined ? ` (${cap.used} of ${cap.quota} this cycle)` : "";
  if (cap.status !== "capped") {
    return `WhatsApp warns this account is near its cap on messages to people who have not replied${figures}`;
  }
  const until = cap.cycleEndsAt ? ` until ${cap.cycleEndsAt.toISOString()}` : "";
  return `WhatsApp capped this account's messages to people who have not replied${figures}${until}; wait before resuming`;
}

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
  /** The deployment's frequency cap and unreplied budget (from config). */
  readonly limits: SendLimitDefaults;
  readonly pacer: SendPacer;
  readonly numbers: NumberCheck;
  readonly ackWaitMs: number;
  /** Most recipients per batch for unpaced sending (1 for transports that send one at a time). */
  readonly maxBatch: number;
  readonly log: Logger;
  readonly metrics: SendObserver & InboundObserver;
  /** Attachments' bytes, read from the media library once per process for all its sessions. */
  readonly mediaBytes: MediaBytes;
}

export class RunningSession {
  status: StatusUpdate["status"] = "idle";
  /** The connection's last report, repeated with a new reason when WhatsApp warns about its cap. */
  private lastUpdate: StatusUpdate = { status: "idle" };
  /** WhatsApp said it capped the account's messages to new chats, and has not said otherwise since. */
  private newChatCapped = false;
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
        onNewChatMessageCap: (cap) => this.onNewChatMessageCap(cap),
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
      sendingFor: async (blastId) => {
        const [own, blast] = await Promise.all([
          deps.registry.sendingSettings(sessionId),
          deps.projection.sendingSettings(blastId),
        ]);
        return {
          policy: mergePacing(deps.pacing, own.pacing, blast.pacing),
          limits: sendLimitsFor(deps.limits, own, blast),
          ...(blast.media ? { media: blast.media } : {}),
        };
      },
      unrepliedSends: async () => {
        const { month, sends } = await deps.registry.unreplied(sessionId, Date.now());
        return { month, sends };
      },
      pacer: deps.pacer,
      numbers: deps.numbers,
      ackWaitMs: deps.ackWaitMs,
      maxBatch: deps.maxBatch,
      log,
      isOpen: () => !this.stopped && this.status === "open",
      onRestricted: (reason) => this.publishStatus({ status: "restricted", reason }),
      metrics: deps.metrics,
      mediaBytes: deps.mediaBytes,
    });
    this.commands = answerSessionCommands(deps.nats, deps.owner, sessionId, this.connection, (message) =>
      this.sendPacedReply(message),
    );
  }

  /**
   * A message outside any blast (a consent confirmation, a test send), sent when the account's
   * pacing allows and counted on it like a blast message, so it never makes the account send
   * faster; no blast, projection or blast metric hears of it.
   */
  private async sendPacedReply(message: PacedMessage): Promise<SendResult> {
    const { deps } = this;
    const { to, text, messageId, media, test } = message;
    if (this.stopped || this.status !== "open") return { ok: false, reason: "session_not_open" };
    const policy = mergePacing(deps.pacing, await deps.registry.pacing(this.sessionId));
    const slot = await deps.pacer.nextSlot(this.sessionId, policy);
    const wait = slot.at - Date.now();
    if (wait > MAX_REPLY_WAIT_MS)
      return { ok: false, reason: `paced: next slot in ${Math.round(wait / 1000)} s` };
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const result = media
      ? await this.sendMediaOutsideBlast(to, text, messageId, media)
      : await this.connection.send(to, text, messageId);
    if (result.ok) await deps.pacer.recordSends(this.sessionId, 1, policy);
    if (test) {
      // Marked as a test so the log never reads as a blast message that went astray.
      deps.log.info(
        { sessionId: this.sessionId, to, messageId, mediaId: media?.mediaId, ok: result.ok, test: true },
        "test send",
      );
    }
    return result;
  }

  /** The attachment as the blast would send it, its bytes read through the process's media cache. */
  private async sendMediaOutsideBlast(
    to: string,
    text: string,
    messageId: string,
    media: MediaRef,
  ): Promise<SendResult> {
    const body = await this.deps.mediaBytes.get(media);
    if (!body) return { ok: false, reason: "media_missing" };
    return this.connection.sendMedia(to, mediaContentOf(media, body, text), messageId);
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
    this.lastUpdate = update;
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

  /**
   * WhatsApp capped the account's messages to people who have not replied: treated like a
   * restriction (the account pauses on its blasts and reports `restricted`), since whatever it
   * would send next to a new number is what WhatsApp holds against it. A warning is only said, and
   * so is the cap's end: the account's blasts wait for someone to resume it, as after a 463.
   */
  private onNewChatMessageCap(cap: NewChatMessageCap): void {
    if (this.stopped) return;
    const { log } = this.deps;
    if (cap.status === "none") {
      if (!this.newChatCapped) return;
      this.newChatCapped = false;
      log.info({ sessionId: this.sessionId }, "WhatsApp lifted its cap on messages to new chats");
      const reason = "WhatsApp lifted its cap on messages to people who have not replied; resume the account";
      if (this.status === "open") this.publishStatus({ ...this.lastUpdate, reason });
      return;
    }
    const reason = newChatMessageCapReason(cap);
    if (cap.status !== "capped") {
      log.warn({ sessionId: this.sessionId, cap }, "WhatsApp warns about the new-chat message cap");
      if (this.status === "open") this.publishStatus({ ...this.lastUpdate, reason });
      return;
    }
    log.warn({ sessionId: this.sessionId, cap }, "WhatsApp capped messages to new chats");
    this.newChatCapped = true;
    this.publishStatus({ ...this.lastUpdate, status: "restricted", reason });
    this.worker
      .pauseAccount(reason)
      .catch((err: unknown) => log.warn({ err, sessionId: this.sessionId }, "could not pause account"));
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

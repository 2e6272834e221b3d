import { createHash } from "node:crypto";
// Drains one WhatsApp session's send work, one message at a time, at a human pace. Every recipient
// passes through the idempotency record (claim -> send -> settle) before its outcome is appended to
// the event log and its work message acked, so a crash at any instant neither repeats nor loses it.
import { AckPolicy, type Consumer, type JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import {
  BlastError,
  decide,
  isTerminal,
  type BlastEvent,
  type BlastState,
  type RecipientOutcome,
} from "../../shared/domain/blast.ts";
import { typingDurationMs, type PacingPolicy } from "../../shared/domain/pacing.ts";
import { decodeSendWork, type SendWork } from "../../shared/messages/sendWork.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { isNotFound } from "../../shared/nats/connection.ts";
import { appendEvents } from "../../shared/nats/eventLog.ts";
import { SEND_WORK, sendWorkConsumer, subjects } from "../../shared/nats/topology.ts";
import type { IdempotencyRecords } from "../../shared/redis/idempotency.ts";
import type { BlastProjection } from "../../shared/redis/projection.ts";
import type { NumberCheck } from "./numberCheck.ts";
import type { ReceiptRecorder } from "./receipts.ts";
import type { SendObserver } from "./senderMetrics.ts";
import type { SendPacer } from "./sendPacer.ts";
import type { SendResult, SessionConnection } from "./transports/transport.ts";

/** Our own WhatsApp message id, derived from (blast, recipient) so receipts map back to the recipient. */
export function messageIdFor(blastId: string, idx: number): string {
  return `WB${createHash("sha256").update(`${blastId}:${idx}`).digest("hex").slice(0, 20).toUpperCase()}`;
}

const IDLE_POLL_MS = 500;
const MAX_NAP_MS = 30_000;
/** A computed send slot is kept (not redrawn with new jitter) until a send happens or this passes. */
const SLOT_TTL_MS = 60_000;
/** Sends in a row that fail for reasons other than the number: the account is likely in trouble. */
const FAILURE_BURST = 10;
/** How long a worker waits for its own pause to reach the projection before it goes on. */
const PROJECTION_WAIT_MS = 10_000;

export interface SessionWorkerDeps {
  readonly sessionId: string;
  readonly owner: string;
  readonly nats: Nats;
  readonly projection: BlastProjection;
  readonly idempotency: IdempotencyRecords;
  readonly receipts: ReceiptRecorder;
  readonly connection: SessionConnection;
  /** The pacing for a blast on this session: defaults, then the session's, then the blast's settings. */
  readonly policyFor: (blastId: string) => Promise<PacingPolicy>;
  readonly pacer: SendPacer;
  readonly numbers: NumberCheck;
  /** How long a message may stay unacked before JetStream redelivers it (after a crash). */
  readonly ackWaitMs: number;
  readonly log: Logger;
  readonly isOpen: () => boolean;
  /** WhatsApp restricted the account (463): the worker paused its blasts; say why on the session. */
  readonly onRestricted: (reason: string) => void;
  readonly metrics: SendObserver;
}

export class SessionWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly consumers = new Map<string, Consumer>();
  private rotation = 0;
  private wake: (() => void) | undefined;
  private consecutiveFailures = 0;
  private slot: { at: number; reason: string; computedAt: number } | undefined;

  constructor(private readonly deps: SessionWorkerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err: unknown) => {
      this.deps.log.error({ err, sessionId: this.deps.sessionId }, "session worker stopped on error");
    });
  }

  /** Lets the send in progress settle, then stops pulling work. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const worked = await this.step();
        if (!worked && this.running) await this.sleep(IDLE_POLL_MS);
      } catch (err) {
        this.deps.log.warn({ err, sessionId: this.deps.sessionId }, "send step failed; retrying");
        if (this.running) await this.sleep(1000);
      }
    }
  }

  /** Takes the next message from one of the session's running blasts, round-robin, when the pace allows. */
  private async step(): Promise<boolean> {
    if (!this.deps.isOpen()) return false;
    const blasts = await this.deps.projection.activeBlasts(this.deps.sessionId);
    await this.forgetFinished(new Set(blasts.map((b) => b.blastId)));
    const running = blasts.filter((b) => b.status === "running");
    for (let i = 0; i < running.length && this.running; i++) {
      const blast = running[(this.rotation + i) % running.length];
      if (!blast) continue;
      const policy = await this.deps.policyFor(blast.blastId);
      const wait = await this.waitBeforeNextSend(policy);
      if (wait > 0) {
        // Waking at least every half minute lets pause, cancel and new settings take effect.
        await this.sleep(Math.min(wait, MAX_NAP_MS));
        return true;
      }
      const consumer = await this.consumerFor(blast.blastId);
      const msg = await consumer.next({ expires: 1000 });
      if (!msg) continue;
      this.rotation = (this.rotation + i + 1) % running.length;
      if (await this.process(msg, policy)) this.slot = undefined;
      return true;
    }
    return false;
  }

  /** Milliseconds until the pacing policy lets this account send again (0: now). */
  private async waitBeforeNextSend(policy: PacingPolicy): Promise<number> {
    const now = Date.now();
    if (!this.slot || now - this.slot.computedAt > SLOT_TTL_MS) {
      const next = await this.deps.pacer.nextSlot(this.deps.sessionId, policy);
      this.slot = { ...next, computedAt: now };
    }
    return Math.max(0, this.slot.at - now);
  }

  private async consumerFor(blastId: string): Promise<Consumer> {
    const known = this.consumers.get(blastId);
    if (known) return known;
    const name = sendWorkConsumer(blastId);
    await this.deps.nats.jsm.consumers.add(SEND_WORK, {
      durable_name: name,
      filter_subject: subjects.sendWork(this.deps.sessionId, blastId),
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.deps.ackWaitMs * 1_000_000,
      max_deliver: -1,
      // One message in flight per blast: a session sends one message at a time anyway, and a
      // crash leaves at most one recipient in doubt.
      max_ack_pending: 1,
    });
    const consumer = await this.deps.nats.js.consumers.get(SEND_WORK, name);
    this.consumers.set(blastId, consumer);
    return consumer;
  }

  private async forgetFinished(active: Set<string>): Promise<void> {
    for (const blastId of [...this.consumers.keys()]) {
      if (active.has(blastId)) continue;
      this.consumers.delete(blastId);
      await this.deps.nats.jsm.consumers
        .delete(SEND_WORK, sendWorkConsumer(blastId))
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
  }

  /** Returns true when a message was actually attempted, so the pace delay applies. */
  private async process(msg: JsMsg, policy: PacingPolicy): Promise<boolean> {
    let work: SendWork;
    try {
      work = decodeSendWork(msg.data);
    } catch (err) {
      this.deps.log.error({ err, seq: msg.seq }, "dropping malformed send work");
      msg.term();
      return false;
    }
    const state = await this.deps.projection.state(work.blastId);
    if (state.status === "paused") {
      msg.nak();
      return false;
    }
    if (state.status === "none" || isTerminal(state.status)) {
      // Cancelled: the rest of its work is dropped, never sent.
      msg.ack();
      return false;
    }
    const messageId = messageIdFor(work.blastId, work.idx);
    // Issued together, Redis takes both writes in one turn and one fsync: with appendfsync always,
    // each write awaited on its own costs a disk flush per recipient. The receipt mapping must be
    // stored before the send so that an early receipt finds its recipient.
    const [claimed, remembered] = await Promise.allSettled([
      this.deps.idempotency.claim(work.blastId, work.idx, this.deps.owner),
      this.deps.receipts.remember(messageId, work.blastId, work.idx, work.phone),
    ]);
    if (claimed.status === "rejected") throw claimed.reason;
    const claim = claimed.value;
    if (claim.kind === "settled") {
      // Settled earlier but the outcome or the ack did not make it: record it again (the log
      // dedupes it), never resend.
      await this.record(work, claim.outcome, state);
      msg.ack();
      return false;
    }
    if (claim.kind === "in_flight") {
      this.deps.log.warn({ blastId: work.blastId, idx: work.idx, owner: claim.owner }, "send in doubt");
      const outcome: RecipientOutcome = { kind: "in_doubt" };
      await this.deps.idempotency.settle(work.blastId, work.idx, outcome);
      await this.record(work, outcome, state);
      msg.ack();
      this.deps.metrics.outcome(this.deps.sessionId, "in_doubt");
      return false;
    }
    const heartbeat = setInterval(() => msg.working(), this.deps.ackWaitMs / 3);
    let outcome: RecipientOutcome;
    let restricted = false;
    const startedAt = performance.now();
    try {
      // Claimed but not sent: a failure, settled as such, rather than in doubt on redelivery.
      if (remembered.status === "rejected") throw remembered.reason;
      const result = await this.attempt(work, messageId, policy);
      outcome = result.ok
        ? { kind: "sent", messageId: result.messageId }
        : { kind: "failed", reason: result.reason };
      restricted = !result.ok && result.restricted === true;
    } catch (err) {
      outcome = { kind: "failed", reason: `send_error: ${(err as Error).message}` };
    } finally {
      clearInterval(heartbeat);
    }
    this.deps.metrics.sendDuration(this.deps.sessionId, (performance.now() - startedAt) / 1000);
    await Promise.all([
      this.deps.idempotency.settle(work.blastId, work.idx, outcome),
      this.deps.pacer.recordSend(this.deps.sessionId),
    ]);
    await this.record(work, outcome, state);
    msg.ack();
    this.deps.metrics.outcome(this.deps.sessionId, outcome.kind);
    await this.watchHealth(outcome, restricted);
    return true;
  }

  /** Pauses the session's blasts when WhatsApp restricts the account or sends keep failing. */
  private async watchHealth(outcome: RecipientOutcome, restricted: boolean): Promise<void> {
    const numberProblem = outcome.kind === "failed" && outcome.reason === "not_on_whatsapp";
    this.consecutiveFailures = outcome.kind === "failed" && !numberProblem ? this.consecutiveFailures + 1 : 0;
    let reason: string | undefined;
    if (restricted && outcome.kind === "failed") {
      reason = `WhatsApp is restricting this account (${outcome.reason}); wait before resuming`;
    } else if (this.consecutiveFailures >= FAILURE_BURST) {
      reason = `${FAILURE_BURST} sends in a row failed (last: ${outcome.kind === "failed" ? outcome.reason : "?"})`;
    }
    if (!reason) return;
    this.consecutiveFailures = 0;
    this.deps.log.warn({ sessionId: this.deps.sessionId, reason }, "pausing the session's blasts");
    this.deps.onRestricted(reason);
    const paused: string[] = [];
    for (const blast of await this.deps.projection.activeBlasts(this.deps.sessionId)) {
      if (blast.status !== "running") continue;
      const state = await this.deps.projection.state(blast.blastId);
      try {
        await appendEvents(this.deps.nats.js, decide({ type: "pause", reason, now: new Date() }, state));
        paused.push(blast.blastId);
      } catch (err) {
        if (!(err instanceof BlastError)) throw err;
      }
    }
    await this.untilProjected(paused, "paused");
  }

  /**
   * The worker reads blast status from the projection, a moment behind the log: without waiting,
   * the next step could still see "running" and send once more from a restricted account.
   */
  private async untilProjected(blastIds: readonly string[], status: string): Promise<void> {
    const deadline = Date.now() + PROJECTION_WAIT_MS;
    for (const blastId of blastIds) {
      while (this.running && Date.now() < deadline) {
        const state = await this.deps.projection.state(blastId);
        if (state.status === status || (state.status !== "none" && isTerminal(state.status))) break;
        await this.sleep(50);
      }
    }
  }

  /** Number check, typing, then the send itself. */
  private async attempt(work: SendWork, messageId: string, policy: PacingPolicy): Promise<SendResult> {
    const { connection } = this.deps;
    if (policy.checkNumbers && !(await this.deps.numbers.isOnWhatsApp(connection, work.phone))) {
      return { ok: false, reason: "not_on_whatsapp" };
    }
    if (policy.typing)
      await connection.sendTyping(work.phone, typingDurationMs(policy, work.text.length, Math.random));
    return connection.send(work.phone, work.text, messageId);
  }

  /**
   * `state` is the blast as read before the send: an outcome needs only what never changes (the
   * blast exists, its size), and one that arrives after a cancel is still a fact to log.
   */
  private async record(work: SendWork, outcome: RecipientOutcome, state: BlastState): Promise<void> {
    const events: BlastEvent[] = decide(
      { type: "record_outcome", idx: work.idx, phone: work.phone, outcome, now: new Date() },
      state,
    );
    await appendEvents(this.deps.nats.js, events);
  }
}

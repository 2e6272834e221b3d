// Drains one account's share of the blasts whose pool it is in, at the account's pace: it picks a
// running blast round-robin, waits until pacing allows, takes a batch (one message when the account
// is paced one message at a time), and hands it to the send protocol (./sendProtocol.ts). It only
// schedules; what happens to each recipient is the protocol's. An account WhatsApp restricts,
// whose sends keep failing, or that reached its budget of messages to people who have not replied,
// pauses itself on its blasts, and the rest of its pool carries on.
import { createHash } from "node:crypto";
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decide, isTerminal, settledOutcome, type ActiveBlastState } from "../../../shared/domain/blast.ts";
import type { MediaRef } from "../../../shared/domain/media.ts";
import { typingDurationMs, type PacingPolicy } from "../../../shared/domain/pacing.ts";
import {
  budgetPauseOver,
  isBudgetPause,
  unrepliedBudgetReason,
  unrepliedMonthOf,
  type SendLimits,
} from "../../../shared/domain/sendLimits.ts";
import { decodeSendWork } from "../../../shared/messages/sendWork.ts";
import type { Nats } from "../../../shared/nats/connection.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import type { Conversations } from "../../../shared/redis/conversations.ts";
import type { IdempotencyRecords } from "../../../shared/redis/idempotency.ts";
import type { BlastForAccount, BlastProjection } from "../../../shared/redis/projection.ts";
import type { NumberCheck } from "../numberCheck.ts";
import type { SendObserver } from "../senderMetrics.ts";
import type { SendPacer } from "../sendPacer.ts";
import type { SendResult, SessionConnection } from "../transports/transport.ts";
import { BlastWork } from "./blastWork.ts";
import { mediaContentOf, type MediaBytes } from "./mediaBytes.ts";
import { runSendProtocol, type SendJob, type SendProtocolPorts, type Settlement } from "./sendProtocol.ts";

/** Our own WhatsApp message id, derived from (blast, recipient) so receipts map back to the recipient. */
export function messageIdFor(blastId: string, idx: number): string {
  return `WB${createHash("sha256").update(`${blastId}:${idx}`).digest("hex").slice(0, 20).toUpperCase()}`;
}

const IDLE_POLL_MS = 500;
/** How often a budget pause is looked at again (a month turning, a budget raised). */
const BUDGET_RECHECK_MS = 5000;
const MAX_NAP_MS = 30_000;
/** A computed send slot is kept (not redrawn with new jitter) until a send happens or this passes. */
const SLOT_TTL_MS = 60_000;
/** Sends in a row that fail for reasons other than the number: the account is likely in trouble. */
const FAILURE_BURST = 10;
/** How long a worker waits for its own pause to reach the projection before it goes on. */
const PROJECTION_WAIT_MS = 10_000;

/** How one blast is sent from this account: its pace, and the limits its claims enforce. */
export interface BlastSending {
  readonly policy: PacingPolicy;
  readonly limits: SendLimits;
  /** The blast's attachment: each recipient gets it with their message as the caption. */
  readonly media?: MediaRef;
}

export interface SessionWorkerDeps {
  readonly sessionId: string;
  readonly owner: string;
  readonly nats: Nats;
  readonly projection: BlastProjection;
  readonly idempotency: IdempotencyRecords;
  /** Where sent messages are remembered so that replies find their recipient. */
  readonly conversations: Conversations;
  readonly connection: SessionConnection;
  /**
   * The pacing and send limits for a blast on this session: the deployment's, then the session's,
   * then the blast's settings.
   */
  readonly sendingFor: (blastId: string) => Promise<BlastSending>;
  /** This month's messages from the account to people who have not replied. */
  readonly unrepliedSends: () => Promise<{ month: string; sends: number }>;
  readonly pacer: SendPacer;
  readonly numbers: NumberCheck;
  /** How long a message may stay unacked before JetStream redelivers it (after a crash). */
  readonly ackWaitMs: number;
  /**
   * Most recipients in one batch (and sent at once) when the pacing does not hold messages apart;
   * 1 keeps every send one at a time (the Baileys transport).
   */
  readonly maxBatch: number;
  readonly log: Logger;
  readonly isOpen: () => boolean;
  /** The account paused itself on its blasts (WhatsApp restricted it, or sends kept failing). */
  readonly onRestricted: (reason: string) => void;
  readonly metrics: SendObserver;
  /** Attachments' bytes, read from the media library once per process. */
  readonly mediaBytes: MediaBytes;
}

/** A policy that holds no time between messages: batches go as fast as the caps allow. */
function isUnpaced(policy: PacingPolicy): boolean {
  return policy.maxDelayMs === 0 && !policy.typing;
}

export class SessionWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly work = new Map<string, BlastWork>();
  private rotation = 0;
  private wake: (() => void) | undefined;
  private consecutiveFailures = 0;
  private budgetCheckedAt = 0;
  /** Sleeping because there was nothing to take (not because pacing holds the account back). */
  private idle = false;
  private slot: { at: number; reason: string; computedAt: number } | undefined;

  constructor(private readonly deps: SessionWorkerDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err: unknown) => {
      this.deps.log.error({ err, sessionId: this.deps.sessionId }, "session worker stopped on error");
    });
  }

  /**
   * A blast of this account's has news (it started, resumed, an account came back): look now
   * rather than at the next idle poll. A wait imposed by pacing is not cut short.
   */
  nudge(): void {
    if (this.idle) this.wake?.();
  }

  /** Lets the batch in progress settle, then stops pulling work. */
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
        if (!worked && this.running) {
          this.idle = true;
          await this.sleep(IDLE_POLL_MS);
          this.idle = false;
        }
      } catch (err) {
        this.deps.log.warn({ err, sessionId: this.deps.sessionId }, "send step failed; retrying");
        if (this.running) await this.sleep(1000);
      }
    }
  }

  /** Takes the next batch from one of the account's running blasts, round-robin, when the pace allows. */
  private async step(): Promise<boolean> {
    if (!this.deps.isOpen()) return false;
    const blasts = await this.deps.projection.activeBlasts(this.deps.sessionId);
    await this.forgetFinished(new Set(blasts.map((b) => b.blastId)));
    await this.liftBudgetPauses(blasts);
    const runnable = blasts.filter((b) => b.status === "running" && b.accountPaused === undefined);
    for (let i = 0; i < runnable.length && this.running; i++) {
      const blast = runnable[(this.rotation + i) % runnable.length];
      if (!blast) continue;
      const sending = await this.deps.sendingFor(blast.blastId);
      const { policy } = sending;
      const wait = await this.waitBeforeNextSend(policy);
      if (wait > 0) {
        // Waking at least every half minute lets pause, cancel and new settings take effect.
        await this.sleep(Math.min(wait, MAX_NAP_MS));
        return true;
      }
      const batch = isUnpaced(policy)
        ? Math.min(this.deps.maxBatch, await this.deps.pacer.allowance(this.deps.sessionId, policy))
        : 1;
      if (batch < 1) continue;
      const work = this.workFor(blast.blastId, blast.poolSize);
      const msgs = await work.take(batch);
      if (msgs.length === 0) continue;
      this.rotation = (this.rotation + i + 1) % runnable.length;
      if (await this.process(msgs, sending)) this.slot = undefined;
      return true;
    }
    return false;
  }

  /**
   * Puts the account back on the blasts its unreplied budget paused it on, once the month has
   * turned or its budget was raised: nobody has to remember to resume it on the first of the month.
   * Looked at now and then, and only while such a pause exists.
   */
  private async liftBudgetPauses(blasts: readonly BlastForAccount[]): Promise<void> {
    const paused = blasts.filter((b) => b.accountPaused !== undefined && isBudgetPause(b.accountPaused));
    if (paused.length === 0 || Date.now() - this.budgetCheckedAt < BUDGET_RECHECK_MS) return;
    this.budgetCheckedAt = Date.now();
    const { sessionId } = this.deps;
    const { month, sends } = await this.deps.unrepliedSends();
    const lifted: string[] = [];
    for (const blast of paused) {
      const { limits } = await this.deps.sendingFor(blast.blastId);
      if (!budgetPauseOver(blast.accountPaused ?? "", { month, sends, budget: limits.unrepliedBudget }))
        continue;
      const state = await this.deps.projection.state(blast.blastId);
      await appendEvents(this.deps.nats.js, decide({ type: "resume", sessionId, now: new Date() }, state));
      lifted.push(blast.blastId);
    }
    if (lifted.length > 0) {
      this.deps.log.info(
        { sessionId, blasts: lifted, month, sends },
        "unreplied budget allows sending again",
      );
    }
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

  private workFor(blastId: string, poolSize: number): BlastWork {
    let work = this.work.get(blastId);
    if (!work) {
      const inFlight = Math.max(1, poolSize * this.deps.maxBatch);
      work = new BlastWork(this.deps.nats, blastId, this.deps.ackWaitMs, inFlight, poolSize);
      this.work.set(blastId, work);
    }
    return work;
  }

  private async forgetFinished(active: Set<string>): Promise<void> {
    for (const [blastId, work] of [...this.work]) {
      if (active.has(blastId)) continue;
      this.work.delete(blastId);
      await work.close();
    }
  }

  /** Returns true when a message was actually attempted, so the pace delay applies. */
  private async process(msgs: readonly JsMsg[], sending: BlastSending): Promise<boolean> {
    const jobs: Array<SendJob & { msg: JsMsg }> = [];
    for (const msg of msgs) {
      try {
        const work = decodeSendWork(msg.data);
        jobs.push({ work, messageId: messageIdFor(work.blastId, work.idx), msg });
      } catch (err) {
        this.deps.log.error({ err, seq: msg.seq }, "dropping malformed send work");
        msg.term();
      }
    }
    const first = jobs[0];
    if (!first) return false;
    const state = await this.deps.projection.state(first.work.blastId);
    if (state.status === "paused") {
      for (const job of jobs) job.msg.nak();
      return false;
    }
    if (state.status === "none" || isTerminal(state.status)) {
      // Cancelled: the rest of its work is dropped, never sent.
      for (const job of jobs) job.msg.ack();
      return false;
    }
    const msgOf = new Map(jobs.map((job) => [job, job.msg]));
    // Keep JetStream from redelivering work that is still being sent (typing, a slow network).
    const heartbeat = setInterval(() => {
      for (const job of jobs) job.msg.working();
    }, this.deps.ackWaitMs / 3);
    const startedAt = performance.now();
    let settlements: Settlement[];
    try {
      settlements = await runSendProtocol(jobs, this.portsFor(state, sending, msgOf), jobs.length);
    } finally {
      clearInterval(heartbeat);
    }
    // What was tried: sent, failed, or refused or never written and handed back to the pool.
    const attempted = settlements.filter((s) => s.how === "attempted" || s.how === "released");
    if (attempted.length > 0) {
      const seconds = (performance.now() - startedAt) / 1000 / attempted.length;
      for (let i = 0; i < attempted.length; i++) this.deps.metrics.sendDuration(this.deps.sessionId, seconds);
    }
    for (const s of settlements) {
      // Untried, and said once for the batch below.
      if (s.how === "over_budget") continue;
      if (s.how === "in_doubt")
        this.deps.log.warn({ blastId: s.job.work.blastId, idx: s.job.work.idx }, "send in doubt");
      if (s.how === "released") {
        this.deps.log.warn(
          {
            blastId: s.job.work.blastId,
            idx: s.job.work.idx,
            reason: s.outcome.kind === "failed" ? s.outcome.reason : undefined,
          },
          "send not made by this account; handed back to the pool",
        );
      } else if (s.how !== "already_settled") this.deps.metrics.outcome(this.deps.sessionId, s.outcome.kind);
    }
    for (const s of attempted) {
      if (await this.watchHealth(s)) break;
    }
    const overBudget = settlements.filter((s) => s.how === "over_budget").length;
    if (overBudget > 0) {
      // Those recipients went back to the pool; the account takes none until it is resumed.
      const reason = unrepliedBudgetReason(sending.limits.unrepliedBudget, unrepliedMonthOf(Date.now()));
      this.deps.log.warn(
        { sessionId: this.deps.sessionId, handedBack: overBudget, reason },
        "pausing the account on its blasts",
      );
      await this.pauseAccount(reason);
    }
    return attempted.length > 0;
  }

  /** The protocol's ports, bound to Redis, the transport and the event log for one blast's batch. */
  private portsFor(
    state: ActiveBlastState,
    { policy, limits, media }: BlastSending,
    msgOf: ReadonlyMap<SendJob, JsMsg>,
  ): SendProtocolPorts {
    const { deps } = this;
    const { blastId } = state;
    // A release undoes the claim's count in the month the claim was made in.
    let claimedAt = Date.now();
    return {
      claim: (jobs) => {
        claimedAt = Date.now();
        return deps.idempotency.claimAll(
          blastId,
          jobs.map((j) => ({ idx: j.work.idx, phone: j.work.phone, messageId: j.messageId })),
          deps.owner,
          claimedAt,
          {
            ...(limits.countFrequency ? { frequency: { cap: limits.frequencyCap } } : {}),
            unreplied: { sessionId: deps.sessionId, budget: limits.unrepliedBudget },
          },
        );
      },
      send: (job) => this.attempt(job, policy, media),
      settle: async (settlements) => {
        const attempts = settlements.filter((s) => s.how === "attempted").length;
        const sent = settlements
          .filter((s) => s.how === "attempted" && s.outcome.kind === "sent")
          .map((s) => ({ blastId, idx: s.job.work.idx, phone: s.job.work.phone }));
        // Issued together, Redis takes these writes in one turn and one fsync.
        await Promise.all([
          deps.idempotency.settleAll(
            blastId,
            settlements.map((s) => ({ idx: s.job.work.idx, outcome: s.outcome })),
          ),
          attempts > 0 ? deps.pacer.recordSends(deps.sessionId, attempts, policy) : undefined,
          sent.length > 0 ? deps.conversations.rememberSent(deps.sessionId, sent) : undefined,
        ]);
      },
      record: async (settlements) => {
        const outcomes = settlements.map((s) => settledOutcome(s.job.work.idx, s.job.work.phone, s.outcome));
        // `state` is the blast as read before the send: an outcome needs only what never changes
        // (the blast exists, its size), and one that arrives after a cancel is still a fact to log.
        const events = decide(
          { type: "record_outcomes", sessionId: deps.sessionId, outcomes, now: new Date() },
          state,
        );
        await appendEvents(deps.nats.js, events);
      },
      release: (jobs) =>
        deps.idempotency.releaseAll(
          blastId,
          jobs.map((j) => ({ idx: j.work.idx, phone: j.work.phone })),
          { sessionId: deps.sessionId, claimedAt },
        ),
      ack: (job) => msgOf.get(job)?.ack(),
      retry: (job) => msgOf.get(job)?.nak(),
    };
  }

  /** Number check, typing, then the send itself. */
  private async attempt(job: SendJob, policy: PacingPolicy, media?: MediaRef): Promise<SendResult> {
    const { connection } = this.deps;
    const { phone, text } = job.work;
    if (policy.checkNumbers && !(await this.deps.numbers.isOnWhatsApp(connection, phone))) {
      return { ok: false, reason: "not_on_whatsapp" };
    }
    if (policy.typing) await connection.sendTyping(phone, typingDurationMs(policy, text.length, Math.random));
    if (!media) return connection.send(phone, text, job.messageId);
    const body = await this.deps.mediaBytes.get(media);
    // Claimed but not sendable as the blast was made: a failure to read, never a different file.
    if (!body) return { ok: false, reason: "media_missing" };
    return connection.sendMedia(phone, mediaContentOf(media, body, text), job.messageId);
  }

  /**
   * Takes the account out of its blasts' rotation when WhatsApp restricts it or sends keep
   * failing; true when it did.
   */
  private async watchHealth(s: Settlement): Promise<boolean> {
    const { outcome } = s;
    // The session went down under the send: its status says so, and the send was not the account's fault.
    if (s.handBack && !s.restricted) return false;
    const numberProblem = outcome.kind === "failed" && outcome.reason === "not_on_whatsapp";
    // A send WhatsApp never acked (in doubt) says as much about the account as a refused one.
    this.consecutiveFailures = outcome.kind !== "sent" && !numberProblem ? this.consecutiveFailures + 1 : 0;
    let reason: string | undefined;
    if (s.restricted && outcome.kind === "failed") {
      reason = `WhatsApp is restricting this account (${outcome.reason}); wait before resuming`;
    } else if (this.consecutiveFailures >= FAILURE_BURST) {
      reason = `${FAILURE_BURST} sends in a row failed (last: ${outcome.kind === "failed" ? outcome.reason : "no ack from WhatsApp"})`;
    }
    if (!reason) return false;
    this.consecutiveFailures = 0;
    this.deps.log.warn({ sessionId: this.deps.sessionId, reason }, "pausing the account on its blasts");
    this.deps.onRestricted(reason);
    await this.pauseAccount(reason);
    return true;
  }

  /** Pauses this account on every blast it is in; the others in each pool carry on. */
  async pauseAccount(reason: string): Promise<void> {
    const { sessionId } = this.deps;
    const paused: string[] = [];
    for (const blast of await this.deps.projection.activeBlasts(sessionId)) {
      if (blast.accountPaused !== undefined) continue;
      const state = await this.deps.projection.state(blast.blastId);
      const events = decide({ type: "pause_account", sessionId, reason, now: new Date() }, state);
      if (events.length === 0) continue;
      await appendEvents(this.deps.nats.js, events);
      paused.push(blast.blastId);
    }
    await this.untilProjected(paused);
    // Another account of a pool may have paused at the same moment, on a state without this one's
    // pause: with both in the state now, the blast stops if no account is left.
    for (const blastId of paused) {
      const state = await this.deps.projection.state(blastId);
      if (state.status === "none") continue;
      await appendEvents(
        this.deps.nats.js,
        decide({ type: "pause_if_pool_stopped", now: new Date() }, state),
      );
    }
  }

  /**
   * The worker reads blast standing from the projection, a moment behind the log: without waiting,
   * the next step could still see this account in rotation and send once more from it.
   */
  private async untilProjected(blastIds: readonly string[]): Promise<void> {
    const deadline = Date.now() + PROJECTION_WAIT_MS;
    const waiting = new Set(blastIds);
    while (waiting.size > 0 && Date.now() < deadline) {
      const standing = new Map(
        (await this.deps.projection.activeBlasts(this.deps.sessionId)).map((b) => [b.blastId, b]),
      );
      for (const blastId of waiting) {
        const blast = standing.get(blastId);
        // Gone from the account's blasts (finished), or out of its rotation: done waiting.
        if (!blast || blast.accountPaused !== undefined || isTerminal(blast.status)) waiting.delete(blastId);
      }
      if (waiting.size > 0) await this.sleep(50);
    }
  }
}

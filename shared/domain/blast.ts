// A blast's life as a Decider: decide(command, state) -> events, evolve(state, event) -> state.
// Pure and synchronous: the adapters load state, call decide, and append the events to the log.
import type { PacingOverrides } from "./pacing.ts";
import type { PlannedRecipient } from "./recipients.ts";

export type BlastStatus = "running" | "paused" | "cancelled" | "completed";

export interface RecipientRef {
  readonly idx: number;
  readonly phone: string;
  readonly name?: string;
}

export type BlastEvent =
  | {
      type: "blast.created";
      data: {
        blastId: string;
        sessionId: string;
        campaignId?: string;
        template: string;
        total: number;
        rejected: number;
        duplicates: number;
        createdAt: string;
        /** Pacing settings for this blast only, over the session's. */
        pacing?: PacingOverrides;
      };
    }
  | { type: "blast.recipients_added"; data: { blastId: string; recipients: RecipientRef[] } }
  | {
      type: "recipient.sent";
      data: { blastId: string; idx: number; phone: string; messageId: string; at: string };
    }
  | {
      type: "recipient.failed";
      data: { blastId: string; idx: number; phone: string; reason: string; at: string };
    }
  | { type: "recipient.in_doubt"; data: { blastId: string; idx: number; phone: string; at: string } }
  | { type: "recipient.delivered"; data: { blastId: string; idx: number; phone: string; at: string } }
  | { type: "recipient.read"; data: { blastId: string; idx: number; phone: string; at: string } }
  | { type: "blast.paused"; data: { blastId: string; reason: string; at: string } }
  | { type: "blast.resumed"; data: { blastId: string; at: string } }
  | { type: "blast.cancelled"; data: { blastId: string; at: string } }
  | { type: "blast.completed"; data: { blastId: string; at: string } };

export type BlastEventType = BlastEvent["type"];

export type RecipientOutcome =
  { kind: "sent"; messageId: string } | { kind: "failed"; reason: string } | { kind: "in_doubt" };

export type BlastCommand =
  | {
      type: "create";
      blastId: string;
      sessionId: string;
      campaignId?: string;
      template: string;
      recipients: readonly PlannedRecipient[];
      rejected: number;
      duplicates: number;
      pacing?: PacingOverrides;
      now: Date;
    }
  | { type: "pause"; reason?: string; now: Date }
  | { type: "resume"; now: Date }
  | { type: "cancel"; now: Date }
  | { type: "record_outcome"; idx: number; phone: string; outcome: RecipientOutcome; now: Date }
  | { type: "record_receipt"; idx: number; phone: string; receipt: "delivered" | "read"; now: Date }
  | { type: "complete"; now: Date };

export interface BlastCounts {
  readonly total: number;
  readonly sent: number;
  readonly failed: number;
  readonly inDoubt: number;
  /** Receipts from recipients' phones (the recorder logs "delivered" before "read" for each). */
  readonly delivered: number;
  readonly read: number;
}

export type BlastState =
  | { readonly status: "none" }
  | ({ readonly status: BlastStatus; readonly blastId: string; readonly sessionId: string } & BlastCounts);

export const initialBlastState: BlastState = { status: "none" };

export type BlastErrorCode = "not_found" | "conflict" | "invalid";

export class BlastError extends Error {
  constructor(
    readonly code: BlastErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Recipients per `blast.recipients_added` event: keeps each event far below NATS' 1 MB payload limit. */
export const RECIPIENTS_PER_EVENT = 1000;

export function settledCount(counts: BlastCounts): number {
  return counts.sent + counts.failed + counts.inDoubt;
}

export function isTerminal(status: BlastState["status"]): boolean {
  return status === "cancelled" || status === "completed";
}

export function decide(command: BlastCommand, state: BlastState): BlastEvent[] {
  const at = command.now.toISOString();
  if (command.type === "create") {
    if (state.status !== "none") throw new BlastError("conflict", `blast ${command.blastId} already exists`);
    if (command.recipients.length === 0) throw new BlastError("invalid", "the blast has no valid recipients");
    const { blastId } = command;
    const events: BlastEvent[] = [
      {
        type: "blast.created",
        data: {
          blastId,
          sessionId: command.sessionId,
          ...(command.campaignId ? { campaignId: command.campaignId } : {}),
          template: command.template,
          total: command.recipients.length,
          rejected: command.rejected,
          duplicates: command.duplicates,
          createdAt: at,
          ...(command.pacing && Object.keys(command.pacing).length > 0 ? { pacing: command.pacing } : {}),
        },
      },
    ];
    for (let start = 0; start < command.recipients.length; start += RECIPIENTS_PER_EVENT) {
      const recipients = command.recipients
        .slice(start, start + RECIPIENTS_PER_EVENT)
        .map(({ idx, phone, name }) => (name ? { idx, phone, name } : { idx, phone }));
      events.push({ type: "blast.recipients_added", data: { blastId, recipients } });
    }
    return events;
  }
  if (state.status === "none") throw new BlastError("not_found", "blast not found");
  const { blastId } = state;
  switch (command.type) {
    case "pause":
      if (state.status !== "running")
        throw new BlastError("conflict", `cannot pause a ${state.status} blast`);
      return [{ type: "blast.paused", data: { blastId, reason: command.reason ?? "paused by user", at } }];
    case "resume":
      if (state.status !== "paused")
        throw new BlastError("conflict", `cannot resume a ${state.status} blast`);
      return [{ type: "blast.resumed", data: { blastId, at } }];
    case "cancel":
      if (isTerminal(state.status)) throw new BlastError("conflict", `cannot cancel a ${state.status} blast`);
      return [{ type: "blast.cancelled", data: { blastId, at } }];
    case "record_outcome": {
      if (command.idx < 0 || command.idx >= state.total) {
        throw new BlastError("invalid", `recipient ${command.idx} is not part of blast ${blastId}`);
      }
      const { idx, phone, outcome } = command;
      if (outcome.kind === "sent") {
        return [{ type: "recipient.sent", data: { blastId, idx, phone, messageId: outcome.messageId, at } }];
      }
      if (outcome.kind === "failed") {
        return [{ type: "recipient.failed", data: { blastId, idx, phone, reason: outcome.reason, at } }];
      }
      return [{ type: "recipient.in_doubt", data: { blastId, idx, phone, at } }];
    }
    case "record_receipt": {
      if (command.idx < 0 || command.idx >= state.total) {
        throw new BlastError("invalid", `recipient ${command.idx} is not part of blast ${blastId}`);
      }
      const data = { blastId, idx: command.idx, phone: command.phone, at };
      return [
        command.receipt === "read" ? { type: "recipient.read", data } : { type: "recipient.delivered", data },
      ];
    }
    case "complete":
      if (isTerminal(state.status)) return [];
      if (settledCount(state) < state.total) {
        throw new BlastError(
          "conflict",
          `blast ${blastId} still has ${state.total - settledCount(state)} pending`,
        );
      }
      return [{ type: "blast.completed", data: { blastId, at } }];
  }
}

/**
 * Counts assume each recipient's outcome appears once; the log guarantees that within its dedupe
 * window and the Redis projection guards it per recipient beyond that.
 */
export function evolve(state: BlastState, event: BlastEvent): BlastState {
  if (event.type === "blast.created") {
    const { blastId, sessionId, total } = event.data;
    return {
      status: "running",
      blastId,
      sessionId,
      total,
      sent: 0,
      failed: 0,
      inDoubt: 0,
      delivered: 0,
      read: 0,
    };
  }
  if (state.status === "none") return state;
  switch (event.type) {
    case "blast.recipients_added":
      return state;
    case "recipient.sent":
      return { ...state, sent: state.sent + 1 };
    case "recipient.failed":
      return { ...state, failed: state.failed + 1 };
    case "recipient.in_doubt":
      return { ...state, inDoubt: state.inDoubt + 1 };
    case "recipient.delivered":
      return { ...state, delivered: state.delivered + 1 };
    case "recipient.read":
      return { ...state, read: state.read + 1 };
    case "blast.paused":
      return state.status === "running" ? { ...state, status: "paused" } : state;
    case "blast.resumed":
      return state.status === "paused" ? { ...state, status: "running" } : state;
    case "blast.cancelled":
    case "blast.completed":
      // Terminal states absorb later lifecycle facts: two commands decided on the same state
      // (a cancel racing the completion) leave the first one standing.
      if (isTerminal(state.status)) return state;
      return { ...state, status: event.type === "blast.cancelled" ? "cancelled" : "completed" };
  }
}

export function foldBlast(events: Iterable<BlastEvent>, state: BlastState = initialBlastState): BlastState {
  let current = state;
  for (const event of events) current = evolve(current, event);
  return current;
}

/** What a watcher sees: pending is what is still to be attempted (0 once cancelled). */
export interface BlastProgress extends BlastCounts {
  readonly blastId: string;
  readonly status: BlastStatus;
  readonly pending: number;
}

export function progressOf(state: Exclude<BlastState, { status: "none" }>): BlastProgress {
  const remaining = Math.max(0, state.total - settledCount(state));
  return {
    blastId: state.blastId,
    status: state.status,
    total: state.total,
    sent: state.sent,
    failed: state.failed,
    inDoubt: state.inDoubt,
    delivered: state.delivered,
    read: state.read,
    pending: state.status === "cancelled" ? 0 : remaining,
  };
}

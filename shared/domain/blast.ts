// A blast's life as a Decider: decide(command, state) -> events, evolve(state, event) -> state.
// Pure and synchronous: the adapters load state, call decide, and append the events to the log.
// A blast is sent by a pool of accounts (sessions); each account can be paused on its own (WhatsApp
// restricted it, it was logged out) and the blast pauses only when no account in the pool can send.
import type { BlastEvent, RecipientRef, SettledOutcome } from "../messages/blastEvents.ts";
import { captionProblem, type MediaRef } from "./media.ts";
import type { PacingOverrides } from "./pacing.ts";
import type { PlannedRecipient } from "./recipients.ts";
import { validateFrequencyCap, type FrequencyCap } from "./sendLimits.ts";

export type { BlastEvent, BlastEventType, RecipientRef, SettledOutcome } from "../messages/blastEvents.ts";

/** `scheduled` and `draft`: created, recipients kept, nothing queued or sent until it is started. */
export type BlastStatus = "scheduled" | "draft" | "running" | "paused" | "cancelled" | "completed";

export type RecipientOutcome =
  { kind: "sent"; messageId: string } | { kind: "failed"; reason: string } | { kind: "in_doubt" };

export type BlastCommand =
  /**
   * Records up to RECIPIENTS_PER_EVENT planned recipients of a blast being imported. An import
   * appends these as it reads, then `create` once every recipient is durable: until then the
   * blast does not exist, and nothing of it is sent.
   */
  | { type: "add_recipients"; blastId: string; recipients: readonly PlannedRecipient[] }
  | {
      type: "create";
      blastId: string;
      sessionIds: readonly string[];
      campaignId?: string;
      template: string;
      /** Recipients added (idx 0 to total - 1). */
      total: number;
      rejected: number;
      duplicates: number;
      pacing?: PacingOverrides;
      /** The blast's own frequency cap, or null to send without one; absent: the deployment's. */
      frequencyCap?: FrequencyCap | null;
      /** The attachment (a media library file); the rendered message is its caption. */
      media?: MediaRef;
      /** The message variants it rotates, when given as a list (`template` is the first). */
      variants?: ReadonlyArray<{ text: string; weight: number }>;
      /** Waits until then: scheduled. */
      scheduledFor?: Date;
      /** The zone the time was given in, kept to show it the same way. */
      timeZone?: string;
      /** Saved to be started or scheduled later. */
      draft?: boolean;
      now: Date;
    }
  /** Changes a blast not yet started: the plan given replaces the one it had, whole. */
  | ({ type: "edit"; now: Date } & BlastPlanChange)
  /** Queues a scheduled blast (its time came) or a draft (a person started it). */
  | { type: "start"; now: Date }
  | { type: "pause"; reason?: string; now: Date }
  /** Without `sessionId` the whole blast resumes, every paused account with it. */
  | { type: "resume"; sessionId?: string; now: Date }
  | { type: "pause_account"; sessionId: string; reason: string; now: Date }
  /**
   * Pauses a running blast none of whose accounts may send. Two accounts paused at once, each
   * deciding on a state without the other's pause, both leave the blast running; a worker asks
   * again once its pause is in the state it reads.
   */
  | { type: "pause_if_pool_stopped"; now: Date }
  | { type: "cancel"; now: Date }
  | { type: "record_outcomes"; sessionId: string; outcomes: readonly SettledOutcome[]; now: Date }
  | { type: "record_receipt"; idx: number; phone: string; receipt: "delivered" | "read"; now: Date }
  /**
   * A recipient answered the blast on `sessionId` (`messageId`: WhatsApp's id of the reply). The
   * text is cut to REPLY_TEXT_MAX; only the recipient's first reply counts.
   */
  | {
      type: "record_reply";
      idx: number;
      phone: string;
      sessionId: string;
      messageId: string;
      text: string;
      now: Date;
    }
  | { type: "complete"; now: Date };

/** What an edit of a blast not yet started sets: what it sends, from which accounts, and when. */
export interface BlastPlanChange {
  readonly sessionIds: readonly string[];
  readonly template: string;
  readonly variants?: ReadonlyArray<{ text: string; weight: number }>;
  readonly media?: MediaRef;
  readonly pacing?: PacingOverrides;
  readonly frequencyCap?: FrequencyCap | null;
  /** Absent: a draft. */
  readonly scheduledFor?: Date;
  readonly timeZone?: string;
}

export interface OutcomeCounts {
  readonly sent: number;
  readonly failed: number;
  readonly inDoubt: number;
}

export interface BlastCounts extends OutcomeCounts {
  readonly total: number;
  /** Receipts from recipients' phones (the recorder logs "delivered" before "read" for each). */
  readonly delivered: number;
  readonly read: number;
  /** Recipients who replied: a second reply from the same recipient counts nothing. */
  readonly replied: number;
}

/**
 * Which recipients already have an outcome, a receipt or a reply. Kept when a state is folded
 * from the log so that a fact appended twice counts once, as the projection's bitmaps do; a state
 * loaded from the projection carries the counts only.
 */
export interface RecipientMarks {
  readonly settled: ReadonlySet<number>;
  readonly delivered: ReadonlySet<number>;
  readonly read: ReadonlySet<number>;
  readonly replied: ReadonlySet<number>;
}

export interface ActiveBlastState extends BlastCounts {
  readonly status: BlastStatus;
  readonly blastId: string;
  /** The pool, in the order given. */
  readonly sessionIds: readonly string[];
  /** Accounts of the pool that take no work from this blast, with the reason. */
  readonly pausedAccounts: Readonly<Record<string, string>>;
  /** The blast is paused because no account in its pool could send. */
  readonly pausedByPool: boolean;
  /** Outcomes per account of the pool. */
  readonly bySession: Readonly<Record<string, OutcomeCounts>>;
  /** When a scheduled blast starts (ISO, UTC); kept after it started. */
  readonly scheduledFor?: string;
  readonly marks?: RecipientMarks;
}

export type BlastState = { readonly status: "none" } | ActiveBlastState;

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

/** A reply's text as the log keeps it: enough to read, bounded so a pasted essay stays small. */
export const REPLY_TEXT_MAX = 1000;

/** `text` cut to `max` UTF-16 units, never between the two halves of a surrogate pair (an emoji). */
function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

export function settledCount(counts: BlastCounts): number {
  return counts.sent + counts.failed + counts.inDoubt;
}

export function isTerminal(status: BlastState["status"]): boolean {
  return status === "cancelled" || status === "completed";
}

/** Scheduled or a draft: nothing of it is queued, and it can still be edited. */
export function isNotStarted(status: BlastState["status"]): boolean {
  return status === "scheduled" || status === "draft";
}

/** The pool an event or a stored blast names: blasts from before pools name one account. */
export function poolOf(data: { sessionIds?: readonly string[]; sessionId?: string }): string[] {
  if (data.sessionIds && data.sessionIds.length > 0) return [...data.sessionIds];
  return data.sessionId ? [data.sessionId] : [];
}

/** Accounts of the pool that may take this blast's work now. */
export function sendingAccounts(state: ActiveBlastState): string[] {
  return state.sessionIds.filter((id) => state.pausedAccounts[id] === undefined);
}

function decideAddRecipients(
  command: Extract<BlastCommand, { type: "add_recipients" }>,
  state: BlastState,
): BlastEvent[] {
  if (state.status !== "none") {
    throw new BlastError("conflict", `blast ${command.blastId} exists: its recipients are fixed`);
  }
  if (command.recipients.length === 0) return [];
  if (command.recipients.length > RECIPIENTS_PER_EVENT) {
    throw new BlastError("invalid", `at most ${RECIPIENTS_PER_EVENT} recipients per event`);
  }
  const recipients = command.recipients.map(({ idx, phone, name, variant }): RecipientRef => ({
    idx,
    phone,
    ...(name ? { name } : {}),
    ...(variant !== undefined ? { variant } : {}),
  }));
  return [{ type: "blast.recipients_added", data: { blastId: command.blastId, recipients } }];
}

/** The checks a blast's plan passes, at its creation and at every edit before it starts. */
function checkPlan(plan: Omit<BlastPlanChange, "timeZone">, now: Date): void {
  if (plan.sessionIds.length === 0) throw new BlastError("invalid", "the pool has no account");
  if (new Set(plan.sessionIds).size !== plan.sessionIds.length) {
    throw new BlastError("invalid", "an account is listed twice in the pool");
  }
  const capProblems = plan.frequencyCap ? validateFrequencyCap(plan.frequencyCap) : [];
  if (capProblems.length > 0) throw new BlastError("invalid", capProblems.join("; "));
  const caption = captionProblem(plan.media?.kind, plan.template);
  if (caption) throw new BlastError("invalid", caption);
  if (plan.scheduledFor && plan.scheduledFor.getTime() <= now.getTime()) {
    throw new BlastError("invalid", `${plan.scheduledFor.toISOString()} has passed: schedule a later time`);
  }
}

function decideCreate(command: Extract<BlastCommand, { type: "create" }>, state: BlastState): BlastEvent[] {
  if (state.status !== "none") throw new BlastError("conflict", `blast ${command.blastId} already exists`);
  if (command.total === 0) throw new BlastError("invalid", "the blast has no valid recipients");
  if (command.draft && command.scheduledFor) {
    throw new BlastError("invalid", "a draft has no time: give draft or a time to send at, not both");
  }
  checkPlan(command, command.now);
  return [
    {
      type: "blast.created",
      data: {
        blastId: command.blastId,
        sessionIds: [...command.sessionIds],
        ...(command.campaignId ? { campaignId: command.campaignId } : {}),
        template: command.template,
        total: command.total,
        rejected: command.rejected,
        duplicates: command.duplicates,
        createdAt: command.now.toISOString(),
        ...(command.pacing && Object.keys(command.pacing).length > 0 ? { pacing: command.pacing } : {}),
        ...(command.frequencyCap !== undefined ? { frequencyCap: command.frequencyCap } : {}),
        ...(command.media ? { media: { ...command.media } } : {}),
        ...(command.variants
          ? { variants: command.variants.map(({ text, weight }) => ({ text, weight })) }
          : {}),
        ...(command.scheduledFor ? { scheduledFor: command.scheduledFor.toISOString() } : {}),
        ...(command.timeZone ? { timeZone: command.timeZone } : {}),
        ...(command.draft ? { draft: true } : {}),
      },
    },
  ];
}

function decideEdit(command: Extract<BlastCommand, { type: "edit" }>, state: ActiveBlastState): BlastEvent[] {
  if (!isNotStarted(state.status)) {
    throw new BlastError(
      "conflict",
      `blast ${state.blastId} is ${state.status}: only a blast not yet started can be edited`,
    );
  }
  checkPlan(command, command.now);
  const { sessionIds, template, variants, media, pacing, frequencyCap, scheduledFor, timeZone } = command;
  return [
    {
      type: "blast.edited",
      data: {
        blastId: state.blastId,
        at: command.now.toISOString(),
        sessionIds: [...sessionIds],
        template,
        ...(variants ? { variants: variants.map(({ text, weight }) => ({ text, weight })) } : {}),
        ...(media ? { media: { ...media } } : {}),
        ...(pacing && Object.keys(pacing).length > 0 ? { pacing } : {}),
        ...(frequencyCap !== undefined ? { frequencyCap } : {}),
        ...(scheduledFor ? { scheduledFor: scheduledFor.toISOString() } : {}),
        ...(timeZone ? { timeZone } : {}),
      },
    },
  ];
}

function inPool(state: ActiveBlastState, sessionId: string): void {
  if (!state.sessionIds.includes(sessionId)) {
    throw new BlastError("invalid", `account ${sessionId} is not in the pool of blast ${state.blastId}`);
  }
}

function decideResume(
  command: Extract<BlastCommand, { type: "resume" }>,
  state: ActiveBlastState,
  at: string,
): BlastEvent[] {
  const { blastId } = state;
  if (isTerminal(state.status) || isNotStarted(state.status)) {
    throw new BlastError("conflict", `cannot resume a ${state.status} blast`);
  }
  const resumeAccount = (sessionId: string): BlastEvent => ({
    type: "blast.account_resumed",
    data: { blastId, sessionId, at },
  });
  if (command.sessionId !== undefined) {
    const { sessionId } = command;
    inPool(state, sessionId);
    if (state.pausedAccounts[sessionId] === undefined) {
      throw new BlastError("conflict", `account ${sessionId} is not paused on blast ${blastId}`);
    }
    const events = [resumeAccount(sessionId)];
    // The pool stopped the blast; an account back in it starts it again. A person's pause stays.
    if (state.status === "paused" && state.pausedByPool)
      events.push({ type: "blast.resumed", data: { blastId, at } });
    return events;
  }
  const accounts = state.sessionIds.filter((id) => state.pausedAccounts[id] !== undefined).map(resumeAccount);
  if (state.status === "paused") return [{ type: "blast.resumed", data: { blastId, at } }, ...accounts];
  if (accounts.length === 0) throw new BlastError("conflict", `cannot resume a ${state.status} blast`);
  return accounts;
}

function decidePauseAccount(
  command: Extract<BlastCommand, { type: "pause_account" }>,
  state: ActiveBlastState,
  at: string,
): BlastEvent[] {
  const { blastId } = state;
  const { sessionId, reason } = command;
  inPool(state, sessionId);
  // Nothing left to protect, or already out of the pool's rotation: a no-op, so a worker can
  // pause its account on every blast it knows without checking each first.
  if (
    isTerminal(state.status) ||
    isNotStarted(state.status) ||
    state.pausedAccounts[sessionId] !== undefined
  ) {
    return [];
  }
  const events: BlastEvent[] = [{ type: "blast.account_paused", data: { blastId, sessionId, reason, at } }];
  const after = { ...state, pausedAccounts: { ...state.pausedAccounts, [sessionId]: reason } };
  return [...events, ...pauseIfPoolStopped(after, at)];
}

/** The blast paused by its pool, when it runs and no account of the pool may send; else nothing. */
function pauseIfPoolStopped(state: ActiveBlastState, at: string): BlastEvent[] {
  if (state.status !== "running" || sendingAccounts(state).length > 0) return [];
  const why = state.sessionIds.map((id) => `${id}: ${state.pausedAccounts[id] ?? ""}`).join("; ");
  return [
    {
      type: "blast.paused",
      data: { blastId: state.blastId, reason: `no account in the pool can send (${why})`, at, byPool: true },
    },
  ];
}

export function decide(command: BlastCommand, state: BlastState): BlastEvent[] {
  if (command.type === "create") return decideCreate(command, state);
  if (command.type === "add_recipients") return decideAddRecipients(command, state);
  const at = command.now.toISOString();
  if (state.status === "none") throw new BlastError("not_found", "blast not found");
  const { blastId } = state;
  const known = (idx: number) => {
    if (idx < 0 || idx >= state.total) {
      throw new BlastError("invalid", `recipient ${idx} is not part of blast ${blastId}`);
    }
  };
  switch (command.type) {
    case "edit":
      return decideEdit(command, state);
    case "start":
      if (!isNotStarted(state.status)) {
        throw new BlastError("conflict", `blast ${blastId} is ${state.status}: it cannot be started`);
      }
      return [{ type: "blast.started", data: { blastId, at } }];
    case "pause":
      if (state.status !== "running")
        throw new BlastError("conflict", `cannot pause a ${state.status} blast`);
      return [{ type: "blast.paused", data: { blastId, reason: command.reason ?? "paused by user", at } }];
    case "resume":
      return decideResume(command, state, at);
    case "pause_account":
      return decidePauseAccount(command, state, at);
    case "pause_if_pool_stopped":
      return pauseIfPoolStopped(state, at);
    case "cancel":
      if (isTerminal(state.status)) throw new BlastError("conflict", `cannot cancel a ${state.status} blast`);
      return [{ type: "blast.cancelled", data: { blastId, at } }];
    case "record_outcomes": {
      // An outcome is a fact about a send that happened: it is logged after a cancel too.
      if (command.outcomes.length === 0) throw new BlastError("invalid", "no outcomes to record");
      for (const outcome of command.outcomes) known(outcome.idx);
      return [
        {
          type: "recipients.settled",
          data: { blastId, sessionId: command.sessionId, at, outcomes: [...command.outcomes] },
        },
      ];
    }
    case "record_receipt": {
      known(command.idx);
      const data = { blastId, idx: command.idx, phone: command.phone, at };
      return [
        command.receipt === "read" ? { type: "recipient.read", data } : { type: "recipient.delivered", data },
      ];
    }
    case "record_reply": {
      // A reply is a fact whatever the blast's status: people answer after it completed or was
      // cancelled too. Whether it is the first is the fold's to say (marks, the projection's bit).
      known(command.idx);
      const { idx, phone, sessionId, messageId } = command;
      return [
        {
          type: "recipient.replied",
          data: {
            blastId,
            idx,
            phone,
            sessionId,
            messageId,
            text: cutText(command.text, REPLY_TEXT_MAX),
            at,
          },
        },
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

/** The outcome of a recipient as `recipients.settled` carries it. */
export function settledOutcome(idx: number, phone: string, outcome: RecipientOutcome): SettledOutcome {
  if (outcome.kind === "sent") return { idx, phone, kind: "sent", messageId: outcome.messageId };
  if (outcome.kind === "failed") return { idx, phone, kind: "failed", reason: outcome.reason };
  return { idx, phone, kind: "in_doubt" };
}

const countField = { sent: "sent", failed: "failed", in_doubt: "inDoubt" } as const;

/** Adds outcomes to the counts, skipping recipients the marks say have settled already. */
function settle(
  state: ActiveBlastState,
  sessionId: string,
  outcomes: ReadonlyArray<{ idx: number; kind: SettledOutcome["kind"] }>,
): ActiveBlastState {
  const settled = state.marks ? new Set(state.marks.settled) : undefined;
  const counts = { sent: state.sent, failed: state.failed, inDoubt: state.inDoubt };
  const account = { ...(state.bySession[sessionId] ?? { sent: 0, failed: 0, inDoubt: 0 }) };
  for (const { idx, kind } of outcomes) {
    if (settled) {
      if (settled.has(idx)) continue;
      settled.add(idx);
    }
    counts[countField[kind]]++;
    account[countField[kind]]++;
  }
  return {
    ...state,
    ...counts,
    bySession: { ...state.bySession, [sessionId]: account },
    ...(state.marks && settled ? { marks: { ...state.marks, settled } } : {}),
  };
}

/** Counts the recipient's first receipt of a kind, or first reply; a repeat changes nothing. */
function markOnce(
  state: ActiveBlastState,
  idx: number,
  kind: "delivered" | "read" | "replied",
): ActiveBlastState {
  if (!state.marks) return { ...state, [kind]: state[kind] + 1 };
  if (state.marks[kind].has(idx)) return state;
  return {
    ...state,
    [kind]: state[kind] + 1,
    marks: { ...state.marks, [kind]: new Set(state.marks[kind]).add(idx) },
  };
}

/**
 * One fold of the log. The projection's Lua (shared/redis/projection.ts) and the results fold
 * (services/gateway/blasts/blastResults.ts) apply the same rules; a property test feeds all three
 * the same random logs and compares.
 */
export function evolve(state: BlastState, event: BlastEvent): BlastState {
  if (event.type === "blast.created") {
    if (state.status !== "none") return state;
    const { scheduledFor, draft } = event.data;
    return {
      status: scheduledFor ? "scheduled" : draft ? "draft" : "running",
      ...(scheduledFor ? { scheduledFor } : {}),
      blastId: event.data.blastId,
      sessionIds: poolOf(event.data),
      pausedAccounts: {},
      pausedByPool: false,
      bySession: {},
      total: event.data.total,
      sent: 0,
      failed: 0,
      inDoubt: 0,
      delivered: 0,
      read: 0,
      replied: 0,
      marks: { settled: new Set(), delivered: new Set(), read: new Set(), replied: new Set() },
    };
  }
  if (state.status === "none") return state;
  // Outcomes logged before pools belong to the blast's one account.
  const home = state.sessionIds[0] ?? "";
  switch (event.type) {
    case "blast.recipients_added":
      return state;
    case "blast.edited": {
      if (!isNotStarted(state.status)) return state;
      const { scheduledFor: _was, ...rest } = state;
      const { scheduledFor } = event.data;
      return {
        ...rest,
        status: scheduledFor ? "scheduled" : "draft",
        sessionIds: [...event.data.sessionIds],
        ...(scheduledFor ? { scheduledFor } : {}),
      };
    }
    case "blast.started":
      return isNotStarted(state.status) ? { ...state, status: "running" } : state;
    case "recipients.settled":
      return settle(state, event.data.sessionId, event.data.outcomes);
    case "recipient.sent":
      return settle(state, home, [{ idx: event.data.idx, kind: "sent" }]);
    case "recipient.failed":
      return settle(state, home, [{ idx: event.data.idx, kind: "failed" }]);
    case "recipient.in_doubt":
      return settle(state, home, [{ idx: event.data.idx, kind: "in_doubt" }]);
    case "recipient.delivered":
      return markOnce(state, event.data.idx, "delivered");
    case "recipient.read":
      return markOnce(state, event.data.idx, "read");
    case "recipient.replied":
      return markOnce(state, event.data.idx, "replied");
    case "blast.paused":
      return state.status === "running"
        ? { ...state, status: "paused", pausedByPool: event.data.byPool === true }
        : state;
    case "blast.resumed":
      return state.status === "paused" ? { ...state, status: "running", pausedByPool: false } : state;
    case "blast.account_paused":
      if (isTerminal(state.status) || isNotStarted(state.status)) return state;
      return {
        ...state,
        pausedAccounts: { ...state.pausedAccounts, [event.data.sessionId]: event.data.reason },
      };
    case "blast.account_resumed": {
      if (isTerminal(state.status) || isNotStarted(state.status)) return state;
      const { [event.data.sessionId]: _resumed, ...others } = state.pausedAccounts;
      return { ...state, pausedAccounts: others };
    }
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

export interface AccountProgress extends OutcomeCounts {
  /** Why this account takes no work from the blast, when it does not. */
  readonly paused?: string;
}

/** What a watcher sees: pending is what is still to be attempted (0 once cancelled). */
export interface BlastProgress extends BlastCounts {
  readonly blastId: string;
  readonly status: BlastStatus;
  readonly pending: number;
  readonly sessionIds: string[];
  readonly bySession: Readonly<Record<string, AccountProgress>>;
  /** When a scheduled blast starts (ISO, UTC). */
  readonly scheduledFor?: string;
}

export function progressOf(state: ActiveBlastState): BlastProgress {
  const remaining = Math.max(0, state.total - settledCount(state));
  const bySession: Record<string, AccountProgress> = {};
  for (const sessionId of state.sessionIds) {
    const counts = state.bySession[sessionId] ?? { sent: 0, failed: 0, inDoubt: 0 };
    const paused = state.pausedAccounts[sessionId];
    bySession[sessionId] = paused === undefined ? { ...counts } : { ...counts, paused };
  }
  return {
    blastId: state.blastId,
    status: state.status,
    total: state.total,
    sent: state.sent,
    failed: state.failed,
    inDoubt: state.inDoubt,
    delivered: state.delivered,
    read: state.read,
    replied: state.replied,
    pending: state.status === "cancelled" ? 0 : remaining,
    sessionIds: [...state.sessionIds],
    bySession,
    ...(state.scheduledFor ? { scheduledFor: state.scheduledFor } : {}),
  };
}

// Turns blast requests into events and send work. Everything that can refuse a request before
// its first row (accounts, template, pacing, frequency cap, the sources' headers) is checked
// before anything is published; rows are then planned and queued a batch at a time, and the blast
// exists only once every recipient is durable.
import type { CountryCode } from "libphonenumber-js";
import {
  BlastError,
  decide,
  initialBlastState,
  isNotStarted,
  evolve,
  progressOf,
  type BlastCommand,
  type BlastProgress,
} from "../../../shared/domain/blast.ts";
import { newId } from "../../../shared/domain/ids.ts";
import { validatePacing, type PacingOverrides } from "../../../shared/domain/pacing.ts";
import { validateFrequencyCap, type FrequencyCap } from "../../../shared/domain/sendLimits.ts";
import { RecipientPlanner, templateProblem } from "../../../shared/domain/recipientPlanner.ts";
import type { PlannedRecipient, Recipient, RejectedRow } from "../../../shared/domain/recipients.ts";
import { parseTemplatePiece, TemplateError } from "../../../shared/domain/templates.ts";
import { captionProblem, type MediaRef } from "../../../shared/domain/media.ts";
import {
  parseMessage,
  parseVariants,
  plainMessage,
  VariantTally,
  type MessageVariants,
  type VariantInput,
  type VariantShare,
} from "../../../shared/domain/variants.ts";
import { ImportError } from "../../../shared/import/recipientsFile.ts";
import { EventLoopShare } from "../../../shared/process/eventLoopShare.ts";
import { isNotFound } from "../../../shared/nats/connection.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { clearSchedule, setSchedule } from "../../../shared/nats/scheduleTimer.ts";
import { SEND_WORK, sendWorkConsumer, subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import type { UploadedFile } from "../http/uploads.ts";
import { recordMediaUse } from "../media/mediaCommands.ts";
import { keptRecipientsOf } from "./keptRecipients.ts";
import { RecipientQueue } from "./recipientQueue.ts";
import { importLimits, openSources } from "./recipientSources.ts";

export interface CreateBlastInput {
  /** The pool: the accounts that share the blast's sending. */
  readonly sessionIds: readonly string[];
  /** The template; with `variants`, the first variant's (what a blast's summary shows). */
  readonly message: string;
  /** Texts to rotate among the recipients instead of the one `message`. */
  readonly variants?: readonly VariantInput[];
  readonly campaignId?: string;
  readonly recipients?: ReadonlyArray<Record<string, unknown>>;
  readonly file?: UploadedFile;
  readonly pacing?: PacingOverrides;
  /** The blast's own frequency cap, or null to send it without one; absent: the deployment's. */
  readonly frequencyCap?: FrequencyCap | null;
  /** The client's name for this import: its progress goes to `/?importId=` while it runs. */
  readonly importId?: string;
  /** The attachment (a media library file); `message` is its caption, "" for none. */
  readonly media?: MediaRef;
  /** Waits until then, its recipients kept; nothing is queued before. */
  readonly scheduledFor?: Date;
  /** The zone the time was given in, kept to show it the same way. */
  readonly timeZone?: string;
  /** Saved to be started or scheduled later. */
  readonly draft?: boolean;
}

export interface CreateBlastResult {
  readonly blastId: string;
  readonly status: "running" | "scheduled" | "draft";
  /** When a scheduled blast starts (ISO, UTC). */
  readonly scheduledFor?: string;
  readonly total: number;
  readonly duplicates: number;
  readonly rejected: { count: number; sample: RejectedRow[] };
}

const REJECTED_SAMPLE = 20;

/** What a blast would send, read from its sources: the count, the first messages, the rejects. */
export interface BlastPlan {
  readonly total: number;
  readonly duplicates: number;
  readonly rejected: { count: number; sample: RejectedRow[] };
  readonly messages: PlannedRecipient[];
  /** Recipients per variant with a sample of each, when the message has variants or spintax. */
  readonly variants?: VariantShare[];
}

interface ImportedRecipients {
  readonly total: number;
  readonly duplicates: number;
  readonly rejected: { count: number; sample: RejectedRow[] };
}

/** How far an import has got, for a progress bar while its request runs. */
export interface ImportProgress {
  readonly type: "import_progress";
  readonly importId: string;
  readonly phase: "reading" | "done" | "failed";
  /** Rows read from every source so far. */
  readonly rows: number;
  /** Recipients planned so far (queued, for a blast being started). */
  readonly recipients: number;
  readonly rejected: number;
  readonly duplicates: number;
  /** Why it failed, when it did. */
  readonly error?: string;
}

/** Longest an import works before it lets other requests and sockets run. */
const HOLD_LOOP_MS = 10;

/** Progress is told at most this often while rows are read, and once more at the end. */
const PROGRESS_EVERY_MS = 250;

function progressReporter(deps: GatewayDeps, importId: string | undefined) {
  let last = 0;
  return (planner: RecipientPlanner, rows: number, phase: ImportProgress["phase"], error?: string) => {
    if (importId === undefined) return;
    const now = Date.now();
    if (phase === "reading" && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const progress: ImportProgress = {
      type: "import_progress",
      importId,
      phase,
      rows,
      recipients: planner.total,
      rejected: planner.rejected,
      duplicates: planner.duplicates,
      ...(error !== undefined ? { error } : {}),
    };
    deps.nats.nc.publish(subjects.importProgress(importId), JSON.stringify(progress));
  };
}

/**
 * Reads the sources batch by batch through the planner and hands each planned batch to `take`:
 * nothing holds the whole list. Everything that can refuse the blast before its first row
 * (accounts, template, pacing, frequency cap, the sources' headers) is checked first.
 */
async function importRecipients(
  deps: GatewayDeps,
  input: CreateBlastInput,
  sampleSize: number,
  take: (recipients: PlannedRecipient[], rows: Recipient[]) => Promise<void>,
  /** Stops reading once the caller has what it needs (the rows after it are neither read nor checked). */
  enough: () => boolean = () => false,
): Promise<ImportedRecipients> {
  await checkPool(deps, input.sessionIds);
  const caption = captionProblem(input.media?.kind, input.message);
  if (caption) throw new HttpError(400, caption);
  const template = messageOf(input);
  const pacingProblems = validatePacing(input.pacing ?? {});
  if (pacingProblems.length > 0) throw new HttpError(400, `invalid pacing: ${pacingProblems.join("; ")}`);
  const capProblems = input.frequencyCap ? validateFrequencyCap(input.frequencyCap) : [];
  if (capProblems.length > 0) throw new HttpError(400, `invalid frequency cap: ${capProblems.join("; ")}`);
  const { columns, batches } = await openSources(deps, input, importLimits(deps.config));
  const problem = templateProblem(template, columns);
  if (problem) throw new HttpError(400, problem);
  const planner = new RecipientPlanner(template, deps.config.DEFAULT_COUNTRY as CountryCode);
  const report = progressReporter(deps, input.importId);
  const sample: RejectedRow[] = [];
  let read = 0;
  const share = new EventLoopShare(HOLD_LOOP_MS);
  try {
    for await (const rows of batches) {
      read += rows.length;
      const normalized = planner.normalize(rows);
      // One lookup a batch: a number on the suppression list is a rejected row, never queued.
      const suppressed = await deps.suppression.suppressedAmong(normalized.recipients.map((r) => r.phone));
      const batch = planner.render(normalized, suppressed);
      for (const row of batch.rejected) if (sample.length < sampleSize) sample.push(row);
      if (batch.recipients.length > 0) await take(batch.recipients, batch.rows);
      report(planner, read, "reading");
      if (enough()) break;
      await share.yieldIfDue();
    }
  } catch (err) {
    report(planner, read, "failed", err instanceof Error ? err.message : String(err));
    throw err;
  }
  report(planner, read, "done");
  return {
    total: planner.total,
    duplicates: planner.duplicates,
    rejected: { count: planner.rejected, sample },
  };
}

/**
 * Every check that can refuse a blast, and its first rendered messages; publishes nothing, so the
 * console's preview and the real start cannot disagree about who gets what.
 */
export async function planBlast(deps: GatewayDeps, input: CreateBlastInput): Promise<BlastPlan> {
  const messages: PlannedRecipient[] = [];
  const message = messageOf(input);
  const tally = new VariantTally(message);
  const imported = await importRecipients(deps, input, PREVIEW_REJECTED, async (recipients) => {
    for (const r of recipients) {
      if (messages.length < PREVIEW_MESSAGES) messages.push(r);
      tally.add(r.variant, r.text);
    }
  });
  const varies = message.listed || message.variants.some((v) => v.spun.groups > 0);
  return { ...imported, messages, ...(varies ? { variants: tally.entries(PREVIEW_VARIANTS) } : {}) };
}

/**
 * The blast's first message as it would be sent (variant and all), after every check that can
 * refuse the blast before its rows; the sources are read only as far as the first valid recipient.
 */
export async function firstMessage(
  deps: GatewayDeps,
  input: CreateBlastInput,
): Promise<PlannedRecipient | undefined> {
  let first: PlannedRecipient | undefined;
  await importRecipients(
    deps,
    input,
    0,
    async (recipients) => {
      first ??= recipients[0];
    },
    () => first !== undefined,
  );
  return first;
}

/** The message to render: the variants when given, else the one template (spintax or not). */
export function messageOf(input: Pick<CreateBlastInput, "message" | "variants" | "media">): MessageVariants {
  // An attachment may go without a caption: every recipient's text is then "".
  if (input.media && !input.variants && input.message === "") return plainMessage(parseTemplatePiece("", 0));
  return input.variants ? parseVariants(input.variants) : parseMessage(input.message);
}

/** Most accounts one blast may be sent from. */
export const MAX_POOL = 100;
export const PREVIEW_MESSAGES = 5;
export const PREVIEW_REJECTED = 100;
/** Most variants a preview lists (spintax can make many combinations): the largest shares. */
export const PREVIEW_VARIANTS = 100;

export async function checkPool(deps: GatewayDeps, sessionIds: readonly string[]): Promise<void> {
  if (sessionIds.length === 0) throw new HttpError(400, "the pool is empty: give sessionId or sessionIds");
  if (sessionIds.length > MAX_POOL) throw new HttpError(400, `a pool has at most ${MAX_POOL} accounts`);
  const twice = sessionIds.filter((id, i) => sessionIds.indexOf(id) !== i);
  if (twice.length > 0) throw new HttpError(400, `account ${twice[0]} is listed twice in the pool`);
  const known = await Promise.all(sessionIds.map((id) => deps.sessions.exists(id)));
  const unknown = sessionIds.filter((_, i) => !known[i]);
  if (unknown.length === 0) return;
  // One account named on its own is a resource that is missing; in a pool it is a bad list.
  if (sessionIds.length === 1) {
    throw new HttpError(404, `session ${unknown[0]} not found; add it with POST /api/sessions`);
  }
  throw new HttpError(
    400,
    `unknown account(s) in the pool: ${unknown.join(", ")}; add them with POST /api/sessions`,
  );
}

/**
 * Imports the recipients and queues them as they are planned: each chunk's recipients are
 * appended to the log and their send work published (awaited, so reading waits for NATS), and the
 * blast is created once all are durable. Until then no worker takes any of it; a failure halfway
 * purges the work published so far, so nothing of a refused blast is ever sent. A blast that waits
 * (a time to send at, a draft) keeps its rows instead, and queues them when it starts.
 */
export async function createBlast(
  deps: GatewayDeps,
  input: CreateBlastInput,
  log?: WithdrawLog,
): Promise<CreateBlastResult> {
  if (input.scheduledFor || input.draft) return createWaitingBlast(deps, input);
  const blastId = newId("b");
  const queue = new RecipientQueue(deps, blastId);
  let imported: ImportedRecipients;
  try {
    imported = await importRecipients(deps, input, REJECTED_SAMPLE, (recipients) => queue.add(recipients));
    await queue.finish();
  } catch (err) {
    if (queue.started) await withdrawOrRetry(deps, blastId, log);
    throw importFailure(err);
  } finally {
    queue.close();
  }
  if (imported.total === 0) {
    throw new HttpError(400, "the blast has no valid recipients", { rejected: imported.rejected });
  }
  try {
    await appendCreated(deps, blastId, input, imported);
  } catch (err) {
    await withdrawOrRetry(deps, blastId, log);
    throw new HttpError(503, `could not queue the blast: ${(err as Error).message}`);
  }
  return { blastId, status: "running", ...imported };
}

/** A refusal as it is (a bad row, a bad file), or NATS failing under the import as a 503. */
function importFailure(err: unknown): Error {
  if (err instanceof HttpError || err instanceof ImportError || err instanceof TemplateError) return err;
  return new HttpError(503, `could not queue the blast: ${(err as Error).message}`);
}

/** Appends `blast.created` once every recipient is durable (queued, or kept for a blast that waits). */
async function appendCreated(
  deps: GatewayDeps,
  blastId: string,
  input: CreateBlastInput,
  imported: ImportedRecipients,
): Promise<void> {
  const command: BlastCommand = {
    type: "create",
    blastId,
    sessionIds: input.sessionIds,
    ...(input.campaignId ? { campaignId: input.campaignId } : {}),
    template: input.message,
    total: imported.total,
    rejected: imported.rejected.count,
    duplicates: imported.duplicates,
    ...(input.pacing ? { pacing: input.pacing } : {}),
    ...(input.frequencyCap !== undefined ? { frequencyCap: input.frequencyCap } : {}),
    ...(input.variants ? { variants: input.variants.map(({ text, weight = 1 }) => ({ text, weight })) } : {}),
    ...(input.media ? { media: input.media } : {}),
    ...(input.scheduledFor ? { scheduledFor: input.scheduledFor } : {}),
    ...(input.timeZone ? { timeZone: input.timeZone } : {}),
    ...(input.draft ? { draft: true } : {}),
    now: new Date(),
  };
  // Checked before anything is written: a refused plan leaves no media use and no schedule.
  const events = decide(command, initialBlastState);
  // Before the blast exists: the file cannot be deleted from under it.
  if (input.media) await recordMediaUse(deps, input.media.mediaId, blastId);
  // Before the blast exists too: a gateway that dies in between leaves a schedule that finds no
  // blast and does nothing, never a scheduled blast that nothing will start.
  if (input.scheduledFor) await setSchedule(deps.nats, blastId, input.scheduledFor);
  await appendEvents(deps.nats.js, events);
}

/**
 * A scheduled blast or a draft: every check a blast passes now, its recipients planned and kept
 * as rows (a campaign of its own) so that an edit of its message renders them again; nothing is
 * queued until it starts (services/gateway/blasts/blastStart.ts).
 */
async function createWaitingBlast(deps: GatewayDeps, input: CreateBlastInput): Promise<CreateBlastResult> {
  const blastId = newId("b");
  const createdAt = new Date().toISOString();
  const kept = keptRecipientsOf(deps).begin({ campaignId: blastId, name: "", createdAt });
  let imported: ImportedRecipients;
  try {
    imported = await importRecipients(deps, input, REJECTED_SAMPLE, (_recipients, rows) => kept.append(rows));
  } catch (err) {
    await kept.abort();
    throw importFailure(err);
  }
  if (imported.total === 0) {
    await kept.abort();
    throw new HttpError(400, "the blast has no valid recipients", { rejected: imported.rejected });
  }
  try {
    await kept.commit();
    await appendCreated(deps, blastId, input, imported);
  } catch (err) {
    await keptRecipientsOf(deps)
      .delete(blastId)
      .catch(() => undefined);
    if (err instanceof BlastError) throw err;
    throw new HttpError(503, `could not save the blast: ${(err as Error).message}`);
  }
  return {
    blastId,
    status: input.scheduledFor ? "scheduled" : "draft",
    ...(input.scheduledFor ? { scheduledFor: input.scheduledFor.toISOString() } : {}),
    ...imported,
  };
}

/** How long a gateway keeps trying to withdraw a failed import while NATS is away. */
const WITHDRAW_RETRY_FOR_MS = 30 * 60_000;

/**
 * Withdraws now, or, when NATS is the reason the import failed and cannot take the withdrawal
 * either, keeps trying in the background (backing off to 30 s) until it can: work queued before
 * the outage must not sit in SEND_WORK for good. The request's answer does not wait for it.
 */
async function withdrawOrRetry(deps: GatewayDeps, blastId: string, log?: WithdrawLog): Promise<void> {
  try {
    await withdraw(deps, blastId);
    return;
  } catch (err) {
    log?.warn({ err, blastId }, "could not withdraw a failed import yet; retrying in the background");
  }
  const giveUpAt = Date.now() + WITHDRAW_RETRY_FOR_MS;
  void (async () => {
    for (let delay = 1000; Date.now() < giveUpAt; delay = Math.min(delay * 2, 30_000)) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      try {
        await withdraw(deps, blastId);
        log?.info({ blastId }, "failed import withdrawn");
        return;
      } catch {
        // Still away: the next try will tell.
      }
    }
    log?.error({ blastId }, "gave up withdrawing a failed import: purge send.*.<blastId> by hand");
  })();
}

/** Where a withdrawal that has to wait reports. */
export interface WithdrawLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * A blast that could not be queued whole is withdrawn: its work is purged, and a cancel is
 * logged for the case it was created, so no half of it is sent unnoticed.
 */
async function withdraw(deps: GatewayDeps, blastId: string): Promise<void> {
  await dropWork(deps, blastId);
  await appendEvents(deps.nats.js, [
    { type: "blast.cancelled", data: { blastId, at: new Date().toISOString() } },
  ]);
}

export async function dropWork(deps: GatewayDeps, blastId: string): Promise<void> {
  await deps.nats.jsm.streams.purge(SEND_WORK, { filter: subjects.blastWork(blastId) });
  await deps.nats.jsm.consumers.delete(SEND_WORK, sendWorkConsumer(blastId)).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

export type BlastChange = "pause" | "resume" | "cancel";

/**
 * Pause, resume or cancel a blast; `sessionId` resumes one account of the pool (and the blast, if
 * it had stopped because no account could send).
 */
export async function changeBlast(
  deps: GatewayDeps,
  blastId: string,
  change: BlastChange,
  sessionId?: string,
): Promise<BlastProgress> {
  const state = await deps.projection.state(blastId);
  if (state.status === "none") throw new BlastError("not_found", `blast ${blastId} not found`);
  const now = new Date();
  const command: BlastCommand =
    change === "resume"
      ? { type: "resume", now, ...(sessionId ? { sessionId } : {}) }
      : { type: change, now };
  const events = decide(command, state);
  await appendEvents(deps.nats.js, events);
  if (change === "cancel" && isNotStarted(state.status)) {
    // Nothing of it was queued: its schedule and kept rows go instead.
    await clearSchedule(deps.nats, blastId);
    await keptRecipientsOf(deps).delete(blastId);
  } else if (change === "cancel") await dropWork(deps, blastId);
  const next = events.reduce(evolve, state);
  if (next.status === "none") throw new BlastError("not_found", `blast ${blastId} not found`);
  return progressOf(next);
}

/** Puts an account back into the rotation of every blast it was paused on; returns those blasts. */
export async function resumeAccount(deps: GatewayDeps, sessionId: string): Promise<string[]> {
  const resumed: string[] = [];
  for (const blast of await deps.projection.activeBlasts(sessionId)) {
    if (blast.accountPaused === undefined) continue;
    const state = await deps.projection.state(blast.blastId);
    await appendEvents(deps.nats.js, decide({ type: "resume", sessionId, now: new Date() }, state));
    resumed.push(blast.blastId);
  }
  return resumed;
}

// Turns blast requests into events and send work. Everything that can reject a request
// (session, campaign, file, template, phones) is checked before the first publish, so a rejected
// request leaves nothing behind.
import type { CountryCode } from "libphonenumber-js";
import {
  BlastError,
  decide,
  evolve,
  progressOf,
  type BlastCommand,
  type BlastProgress,
} from "../../../shared/domain/blast.ts";
import { newId } from "../../../shared/domain/ids.ts";
import {
  normalizeRows,
  planRecipients,
  type InputRow,
  type PlannedRecipient,
  type RejectedRow,
} from "../../../shared/domain/recipients.ts";
import { parseTemplate } from "../../../shared/domain/templates.ts";
import { validatePacing, type PacingOverrides } from "../../../shared/domain/pacing.ts";
import { readRecipientsFile } from "../../../shared/import/recipientsFile.ts";
import { encodeSendWork } from "../../../shared/messages/sendWork.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { SEND_WORK, eventMsgId, sendWorkConsumer, subjects } from "../../../shared/nats/topology.ts";
import { isNotFound } from "../../../shared/nats/connection.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import type { UploadedFile } from "../http/uploads.ts";
import { rowsFromRecords } from "../../../shared/import/recipientRecords.ts";

export interface CreateBlastInput {
  /** The pool: the accounts that share the blast's sending. */
  readonly sessionIds: readonly string[];
  readonly message: string;
  readonly campaignId?: string;
  readonly recipients?: ReadonlyArray<Record<string, unknown>>;
  readonly file?: UploadedFile;
  readonly pacing?: PacingOverrides;
}

export interface CreateBlastResult {
  readonly blastId: string;
  readonly status: "running";
  readonly total: number;
  readonly duplicates: number;
  readonly rejected: { count: number; sample: RejectedRow[] };
}

const REJECTED_SAMPLE = 20;
const PUBLISH_WINDOW = 1000;

export async function gatherRows(
  deps: GatewayDeps,
  input: { campaignId?: string; recipients?: ReadonlyArray<Record<string, unknown>>; file?: UploadedFile },
): Promise<InputRow[]> {
  // Sources are concatenated, never spread into push(): a million-row file would overflow the stack.
  let rows: InputRow[] = [];
  if (input.campaignId !== undefined) {
    if (!(await deps.campaigns.get(input.campaignId))) {
      throw new HttpError(404, `campaign ${input.campaignId} not found`);
    }
    rows = rows.concat(await deps.campaigns.rows(input.campaignId));
  }
  if (input.recipients) rows = rows.concat(rowsFromRecords(input.recipients, "body"));
  if (input.file) {
    rows = rows.concat(
      readRecipientsFile(input.file.filename, input.file.data, "file", {
        maxRows: deps.config.MAX_ROWS,
        maxExpandedBytes: deps.config.MAX_XLSX_EXPANDED_BYTES,
      }),
    );
  }
  if (input.campaignId === undefined && !input.recipients && !input.file) {
    throw new HttpError(400, "give the recipients: a campaignId, a recipientsFile, or both");
  }
  return rows;
}

/** A blast checked and rendered but not started: what POST /api/blasts would queue. */
export interface BlastPlan {
  readonly recipients: PlannedRecipient[];
  readonly rejected: RejectedRow[];
  readonly duplicates: number;
}

/**
 * Every check that can refuse a blast, and the rendered messages; publishes nothing, so the
 * console's preview and the real start cannot disagree about who gets what.
 */
export async function planBlast(deps: GatewayDeps, input: CreateBlastInput): Promise<BlastPlan> {
  await checkPool(deps, input.sessionIds);
  const template = parseTemplate(input.message);
  const pacingProblems = validatePacing(input.pacing ?? {});
  if (pacingProblems.length > 0) throw new HttpError(400, `invalid pacing: ${pacingProblems.join("; ")}`);
  const rows = await gatherRows(deps, input);
  const normalized = normalizeRows(rows, deps.config.DEFAULT_COUNTRY as CountryCode);
  const plan = planRecipients(template, normalized);
  if (!plan.ok) throw new HttpError(400, plan.error);
  return { recipients: plan.recipients, rejected: plan.rejected, duplicates: plan.duplicates };
}

/** Most accounts one blast may be sent from. */
export const MAX_POOL = 100;

async function checkPool(deps: GatewayDeps, sessionIds: readonly string[]): Promise<void> {
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

export async function createBlast(deps: GatewayDeps, input: CreateBlastInput): Promise<CreateBlastResult> {
  const plan = await planBlast(deps, input);
  const rejected = { count: plan.rejected.length, sample: plan.rejected.slice(0, REJECTED_SAMPLE) };
  if (plan.recipients.length === 0) {
    throw new HttpError(400, "the blast has no valid recipients", { rejected });
  }
  const blastId = newId("b");
  const command: BlastCommand = {
    type: "create",
    blastId,
    sessionIds: input.sessionIds,
    ...(input.campaignId ? { campaignId: input.campaignId } : {}),
    template: input.message,
    recipients: plan.recipients,
    rejected: plan.rejected.length,
    duplicates: plan.duplicates,
    ...(input.pacing ? { pacing: input.pacing } : {}),
    now: new Date(),
  };
  const events = decide(command, { status: "none" });
  try {
    await appendEvents(deps.nats.js, events);
    await publishWork(deps, blastId, plan.recipients);
  } catch (err) {
    await withdraw(deps, blastId).catch(() => undefined);
    throw new HttpError(503, `could not queue the blast: ${(err as Error).message}`);
  }
  return { blastId, status: "running", total: plan.recipients.length, duplicates: plan.duplicates, rejected };
}

async function publishWork(
  deps: GatewayDeps,
  blastId: string,
  recipients: readonly PlannedRecipient[],
): Promise<void> {
  const subject = subjects.sendWork(blastId);
  let window: Promise<unknown>[] = [];
  for (const r of recipients) {
    const work = encodeSendWork({ blastId, idx: r.idx, phone: r.phone, text: r.text });
    window.push(deps.nats.js.publish(subject, work, { msgID: eventMsgId.work(blastId, r.idx) }));
    if (window.length >= PUBLISH_WINDOW) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
}

/** A blast that could not be queued whole is cancelled, so no half of it is sent unnoticed. */
async function withdraw(deps: GatewayDeps, blastId: string): Promise<void> {
  await appendEvents(deps.nats.js, [
    { type: "blast.cancelled", data: { blastId, at: new Date().toISOString() } },
  ]);
  await dropWork(deps, blastId);
}

async function dropWork(deps: GatewayDeps, blastId: string): Promise<void> {
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
  if (change === "cancel") await dropWork(deps, blastId);
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

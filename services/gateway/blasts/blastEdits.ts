// Changing a blast before it starts: editing its plan, starting it now, cancelling it. A blast that
// waits is only ever changed through its plan subject (blast.<id>.plan) with the sequence it was
// read at, so an edit and the start (or two edits) never both land. The schedule is moved in the
// order that leaves a crash harmless: the timer (blastStart.ts) checks the plan before it starts.
import { decide, foldBlast, isNotStarted, type ActiveBlastState } from "../../../shared/domain/blast.ts";
import { planOf, type BlastPlan } from "../../../shared/domain/blastPlan.ts";
import type { MediaRef } from "../../../shared/domain/media.ts";
import { validatePacing, type PacingOverrides } from "../../../shared/domain/pacing.ts";
import { renderRecipient, templateProblem } from "../../../shared/domain/recipientPlanner.ts";
import type { FrequencyCap } from "../../../shared/domain/sendLimits.ts";
import type { MessageVariants, VariantInput } from "../../../shared/domain/variants.ts";
import {
  appendPlanEvents,
  PlanChangedError,
  readBlastPlan,
  type StoredBlastPlan,
} from "../../../shared/nats/blastPlanLog.ts";
import { clearSchedule, setSchedule } from "../../../shared/nats/scheduleTimer.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { blastMediaOf, recordMediaUse } from "../media/mediaCommands.ts";
import { checkPool, messageOf } from "./blastCommands.ts";
import { keptRecipientsOf } from "./keptRecipients.ts";

export interface BlastEditInput {
  readonly sessionIds?: readonly string[];
  readonly message?: string;
  readonly variants?: readonly VariantInput[];
  /** A media library file, or null to send without an attachment. */
  readonly mediaId?: string | null;
  readonly pacing?: PacingOverrides;
  /** null: without a cap. */
  readonly frequencyCap?: FrequencyCap | null;
  readonly scheduledFor?: Date;
  readonly timeZone?: string;
  /** Unschedule: keep it as a draft. */
  readonly draft?: boolean;
}

/** If a start that was asked for dies before the timer took it, the timer still starts it this much later. */
const START_SAFETY_NET_MS = 30_000;

interface WaitingBlast {
  readonly stored: StoredBlastPlan;
  readonly state: ActiveBlastState;
  readonly plan: BlastPlan;
}

async function readWaiting(deps: GatewayDeps, blastId: string): Promise<WaitingBlast> {
  // The projection answers at once for a blast long started, without reading its log.
  const projected = await deps.projection.state(blastId);
  if (projected.status === "none") throw new HttpError(404, `blast ${blastId} not found`);
  const stored =
    projected.status === "draft" || projected.status === "scheduled"
      ? await readBlastPlan(deps.nats, blastId)
      : undefined;
  const state = stored ? foldBlast(stored.events) : projected;
  const plan = stored ? planOf(stored.events) : undefined;
  if (!stored || !plan || state.status === "none" || !isNotStarted(state.status)) {
    throw new HttpError(
      409,
      `blast ${blastId} is ${state.status}: only a scheduled blast or a draft can be changed`,
    );
  }
  return { stored, state, plan };
}

/** Puts the schedule back to what the plan says, after an edit that lost a race moved it. */
async function restoreSchedule(deps: GatewayDeps, blastId: string): Promise<void> {
  const stored = await readBlastPlan(deps.nats, blastId);
  const state = stored ? foldBlast(stored.events) : undefined;
  const plan = stored ? planOf(stored.events) : undefined;
  if (state?.status === "scheduled" && plan?.scheduledFor) {
    await setSchedule(deps.nats, blastId, new Date(plan.scheduledFor));
  } else if (state?.status === "draft") {
    await clearSchedule(deps.nats, blastId);
  }
}

function conflictOf(err: unknown): unknown {
  return err instanceof PlanChangedError ? new HttpError(409, `${err.message}: read it again`) : err;
}

/**
 * Every kept row must render with the new message: a column no row has, or an empty cell a new
 * placeholder needs, is refused now rather than failed at the start.
 */
async function checkKeptRender(deps: GatewayDeps, blastId: string, message: MessageVariants): Promise<void> {
  const kept = keptRecipientsOf(deps);
  const summary = await kept.get(blastId);
  if (!summary) throw new HttpError(409, `blast ${blastId} has no kept recipients to render`);
  const problem = templateProblem(message, summary.columns);
  if (problem) throw new HttpError(400, problem);
  let failures = 0;
  let first: string | undefined;
  let idx = 0;
  for await (const rows of kept.rowBatches(blastId, 500)) {
    for (const row of rows) {
      const rendered = renderRecipient(message, idx++, row.values);
      if (rendered.ok) continue;
      failures++;
      first ??= `${rendered.phone}: ${rendered.reason}`;
    }
  }
  if (failures > 0) {
    throw new HttpError(
      400,
      `the message cannot be sent to ${failures} of the blast's recipients (${first})`,
    );
  }
}

/**
 * Applies an edit to a blast not yet started: the plan given replaces what it changes. Returns
 * when the edit was logged (its `at`), which the projection shows as the blast's `updatedAt`.
 */
export async function editBlast(deps: GatewayDeps, blastId: string, change: BlastEditInput): Promise<string> {
  const { stored, state, plan } = await readWaiting(deps, blastId);
  if (change.message !== undefined && change.variants !== undefined) {
    throw new HttpError(400, "give message (one template) or variants (several), not both");
  }
  if (change.draft && change.scheduledFor)
    throw new HttpError(400, "a draft has no time: give draft or sendAt, not both");
  const variants = change.variants
    ? change.variants.map(({ text, weight = 1 }) => ({ text, weight }))
    : change.message !== undefined
      ? undefined
      : plan.variants;
  const template = change.variants?.[0]?.text ?? change.message ?? plan.template;
  let media: MediaRef | undefined = plan.media;
  if (change.mediaId === null) media = undefined;
  else if (change.mediaId !== undefined) media = await blastMediaOf(deps, change.mediaId, undefined, false);
  const sessionIds = change.sessionIds ?? plan.sessionIds;
  if (change.sessionIds) await checkPool(deps, change.sessionIds);
  const pacing = change.pacing ?? plan.pacing;
  const pacingProblems = validatePacing(pacing ?? {});
  if (pacingProblems.length > 0) throw new HttpError(400, `invalid pacing: ${pacingProblems.join("; ")}`);
  const frequencyCap = change.frequencyCap !== undefined ? change.frequencyCap : plan.frequencyCap;
  const schedule: { scheduledFor?: Date; timeZone?: string } = change.draft
    ? {}
    : change.scheduledFor
      ? { scheduledFor: change.scheduledFor, ...(change.timeZone ? { timeZone: change.timeZone } : {}) }
      : plan.scheduledFor
        ? { scheduledFor: new Date(plan.scheduledFor), ...(plan.timeZone ? { timeZone: plan.timeZone } : {}) }
        : {};
  const messageChanged =
    change.message !== undefined || change.variants !== undefined || change.mediaId !== undefined;
  if (messageChanged) {
    await checkKeptRender(
      deps,
      blastId,
      messageOf({ message: template, ...(variants ? { variants } : {}), ...(media ? { media } : {}) }),
    );
  }
  const events = decide(
    {
      type: "edit",
      now: new Date(),
      sessionIds,
      template,
      ...(variants ? { variants } : {}),
      ...(media ? { media } : {}),
      ...(pacing ? { pacing } : {}),
      ...(frequencyCap !== undefined ? { frequencyCap } : {}),
      ...schedule,
    },
    state,
  );
  if (media && media.mediaId !== plan.media?.mediaId) await recordMediaUse(deps, media.mediaId, blastId);
  // A later time is set before the edit is logged, an unscheduling after: whichever step a crash
  // skips, the timer finds a schedule no earlier than the plan's and checks the plan when it fires.
  if (schedule.scheduledFor) await setSchedule(deps.nats, blastId, schedule.scheduledFor);
  try {
    await appendPlanEvents(deps.nats, events, stored.planSeq);
  } catch (err) {
    if (err instanceof PlanChangedError && schedule.scheduledFor) await restoreSchedule(deps, blastId);
    throw conflictOf(err);
  }
  if (!schedule.scheduledFor) await clearSchedule(deps.nats, blastId);
  return events[0]?.type === "blast.edited" ? events[0].data.at : new Date().toISOString();
}

/**
 * Starts a scheduled blast or a draft now. The start is logged here; the timer queues its
 * recipients, at once (a schedule due now), or after the safety net if this gateway dies first.
 */
export async function startBlastNow(deps: GatewayDeps, blastId: string): Promise<void> {
  const { stored, state } = await readWaiting(deps, blastId);
  const events = decide({ type: "start", now: new Date() }, state);
  await setSchedule(deps.nats, blastId, new Date(Date.now() + START_SAFETY_NET_MS));
  try {
    await appendPlanEvents(deps.nats, events, stored.planSeq);
  } catch (err) {
    if (err instanceof PlanChangedError) await restoreSchedule(deps, blastId);
    throw conflictOf(err);
  }
  await setSchedule(deps.nats, blastId, new Date());
}

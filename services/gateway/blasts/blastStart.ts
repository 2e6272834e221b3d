// Starting a blast that waited (scheduled, or a draft a person started): the schedule timer calls
// `startDueBlast` when its time comes. It appends `blast.started` (once: the plan subject must be
// as read), then renders the kept rows with the plan as it now stands and queues them as a blast
// sent at once is queued. Every step may run again (a gateway that dies before the timer's ack
// hands the schedule to another): the start is appended once, and recipients queued twice are
// dropped by their message ids or settled once by the claim.
import {
  decide,
  type ActiveBlastState,
  foldBlast,
  isNotStarted,
  isTerminal,
  RECIPIENTS_PER_EVENT,
  settledOutcome,
} from "../../../shared/domain/blast.ts";
import { planOf, type BlastPlan } from "../../../shared/domain/blastPlan.ts";
import { renderRecipient } from "../../../shared/domain/recipientPlanner.ts";
import type { PlannedRecipient } from "../../../shared/domain/recipients.ts";
import type { SettledOutcome } from "../../../shared/messages/blastEvents.ts";
import { appendPlanEvents, readBlastPlan } from "../../../shared/nats/blastPlanLog.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { setSchedule } from "../../../shared/nats/scheduleTimer.ts";
import { EventLoopShare } from "../../../shared/process/eventLoopShare.ts";
import type { GatewayDeps } from "../deps.ts";
import { dropWork, messageOf } from "./blastCommands.ts";
import { keptRecipientsOf } from "./keptRecipients.ts";
import { RecipientQueue } from "./recipientQueue.ts";

/** A schedule that fires this much before its blast's time (clocks differ a little) still starts it. */
const EARLY_TOLERANCE_MS = 1000;
const KEPT_BATCH = 250;
const HOLD_LOOP_MS = 10;

export interface StartLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** The schedule timer's `onDue` for a blast: idempotent, and safe to call at any time. */
export async function startDueBlast(deps: GatewayDeps, blastId: string, log: StartLog): Promise<void> {
  const stored = await readBlastPlan(deps.nats, blastId);
  // The schedule was set before the blast was created, and the creation failed: nothing to start.
  if (!stored) return;
  const state = foldBlast(stored.events);
  const plan = planOf(stored.events);
  if (state.status === "none" || !plan || isTerminal(state.status) || state.status === "draft") return;
  if (state.status === "scheduled") {
    const due = Date.parse(plan.scheduledFor ?? "");
    // An edit moved it later and its gateway died before moving the schedule: move it now.
    if (due - Date.now() > EARLY_TOLERANCE_MS) {
      await setSchedule(deps.nats, blastId, new Date(due));
      return;
    }
  }
  if (isNotStarted(state.status)) {
    await appendPlanEvents(deps.nats, decide({ type: "start", now: new Date() }, state), stored.planSeq);
    log.info({ blastId, scheduledFor: plan.scheduledFor }, "blast started");
  }
  await queueKeptRecipients(deps, plan, state, log);
  // Cancelled while its recipients were being queued: what was queued after the cancel's purge goes too.
  if ((await deps.projection.state(blastId)).status === "cancelled") await dropWork(deps, blastId);
}

/** Renders every kept row at its index with the plan and queues it; then the rows go. */
async function queueKeptRecipients(
  deps: GatewayDeps,
  plan: BlastPlan,
  state: ActiveBlastState,
  log: StartLog,
): Promise<void> {
  const { blastId } = plan;
  const kept = keptRecipientsOf(deps);
  const message = messageOf({ message: plan.template, ...optionalPlan(plan) });
  const queue = new RecipientQueue(deps, blastId);
  const failed: SettledOutcome[] = [];
  const share = new EventLoopShare(HOLD_LOOP_MS);
  let idx = 0;
  try {
    for await (const rows of kept.rowBatches(blastId, KEPT_BATCH)) {
      const planned: PlannedRecipient[] = [];
      for (const row of rows) {
        const rendered = renderRecipient(message, idx, row.values);
        if (rendered.ok) planned.push(rendered.recipient);
        // An edit checks every kept row renders; a row that still does not is failed, not skipped.
        else failed.push(settledOutcome(idx, rendered.phone, { kind: "failed", reason: rendered.reason }));
        idx++;
      }
      await queue.add(planned);
      await share.yieldIfDue();
    }
    await queue.finish();
  } finally {
    queue.close();
  }
  // None left: they were queued by an earlier try of this start, whose ack was lost.
  if (idx === 0) return;
  if (idx !== state.total) {
    log.warn({ blastId, kept: idx, total: state.total }, "kept recipients and the blast's total differ");
  }
  // Settled by no account's send: put on the pool's first, as a failure it had to record.
  const sessionId = plan.sessionIds[0] ?? "";
  for (let i = 0; i < failed.length; i += RECIPIENTS_PER_EVENT) {
    const outcomes = failed.slice(i, i + RECIPIENTS_PER_EVENT);
    await appendEvents(
      deps.nats.js,
      decide({ type: "record_outcomes", sessionId, outcomes, now: new Date() }, state),
    );
  }
  await kept.delete(blastId);
}

function optionalPlan(plan: BlastPlan) {
  return {
    ...(plan.variants ? { variants: plan.variants } : {}),
    ...(plan.media ? { media: plan.media } : {}),
  };
}

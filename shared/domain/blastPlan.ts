// What a blast sends and when, as its log says: the plan it was created with, replaced whole by
// each edit made before it started. Statuses and counts are `evolve`'s (blast.ts); this fold is
// the plan's only, so a started blast queues what its last edit said.
import type { BlastEvent } from "../messages/blastEvents.ts";
import type { BlastPlanChange } from "./blast.ts";

/** The plan a blast change sets, as the log stores it (times as ISO strings), with what no edit changes. */
export interface BlastPlan extends Omit<BlastPlanChange, "scheduledFor"> {
  readonly blastId: string;
  readonly campaignId?: string;
  /** ISO, UTC; absent: sent at once or a draft. */
  readonly scheduledFor?: string;
}

/** The plan as the last edit before the start left it; undefined before `blast.created`. */
export function planOf(events: Iterable<BlastEvent>): BlastPlan | undefined {
  let plan: BlastPlan | undefined;
  let open = false;
  for (const event of events) {
    switch (event.type) {
      case "blast.created": {
        if (plan) break;
        const {
          blastId,
          campaignId,
          template,
          variants,
          media,
          pacing,
          frequencyCap,
          scheduledFor,
          timeZone,
        } = event.data;
        const sessionIds = event.data.sessionIds ?? (event.data.sessionId ? [event.data.sessionId] : []);
        plan = {
          blastId,
          sessionIds,
          template,
          ...(campaignId ? { campaignId } : {}),
          ...(variants ? { variants } : {}),
          ...(media ? { media } : {}),
          ...(pacing ? { pacing } : {}),
          ...(frequencyCap !== undefined ? { frequencyCap } : {}),
          ...(scheduledFor ? { scheduledFor } : {}),
          ...(timeZone ? { timeZone } : {}),
        };
        open = scheduledFor !== undefined || event.data.draft === true;
        break;
      }
      case "blast.edited": {
        if (!plan || !open) break;
        const { at: _at, ...edited } = event.data;
        plan = { ...edited, ...(plan.campaignId ? { campaignId: plan.campaignId } : {}) };
        break;
      }
      case "blast.started":
      case "blast.cancelled":
      case "blast.completed":
        open = false;
        break;
      default:
        break;
    }
  }
  return plan;
}

// The per-recipient limits the send claim enforces besides consent: how often one number may get a
// campaign message across every blast (the frequency cap), and how many messages an account may
// send in a calendar month to people who have never written to it (the unreplied budget: WhatsApp
// caps such "new chat" messages per account and month, at a threshold it does not publish). Pure:
// what each limit is for one blast on one account, from the deployment's, the account's and the
// blast's settings; the claim script in shared/redis/idempotency.ts applies them.

/** At most `max` campaign messages to one number in any trailing `periodHours`, over every blast. */
export interface FrequencyCap {
  readonly max: number;
  readonly periodHours: number;
}

/** Past a month a "frequency" is a consent question; sends are remembered this long for the caps. */
export const MAX_FREQUENCY_PERIOD_HOURS = 31 * 24;
export const MAX_FREQUENCY_CAP = 1000;
export const MAX_UNREPLIED_BUDGET = 1_000_000;

/** Human-readable problems with a cap; empty when it is usable. */
export function validateFrequencyCap(cap: FrequencyCap): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(cap.max) || cap.max < 1 || cap.max > MAX_FREQUENCY_CAP)
    problems.push(`frequencyCap.max must be a whole number from 1 to ${MAX_FREQUENCY_CAP}`);
  if (
    !Number.isInteger(cap.periodHours) ||
    cap.periodHours < 1 ||
    cap.periodHours > MAX_FREQUENCY_PERIOD_HOURS
  )
    problems.push(`frequencyCap.periodHours must be a whole number from 1 to ${MAX_FREQUENCY_PERIOD_HOURS}`);
  return problems;
}

export function validateUnrepliedBudget(perMonth: number): string[] {
  return Number.isInteger(perMonth) && perMonth >= 0 && perMonth <= MAX_UNREPLIED_BUDGET
    ? []
    : [`perMonth must be a whole number from 0 to ${MAX_UNREPLIED_BUDGET} (0: no budget)`];
}

export interface SendLimitDefaults {
  /** The deployment's cap; null: none unless a blast sets one. */
  readonly frequencyCap: FrequencyCap | null;
  /** Messages a month each account may send people who have not replied to it; 0: no budget. */
  readonly unrepliedBudgetPerMonth: number;
}

/** What the claim enforces for one blast's recipients on one account. */
export interface SendLimits {
  /** The cap this blast's recipients are held to; null: none. */
  readonly frequencyCap: FrequencyCap | null;
  /**
   * This blast's sends go in the per-number record the caps count. True whenever a cap is in use
   * (the deployment's, even if this blast turned it off for itself: its messages still reached
   * people), so a later capped blast sees them.
   */
  readonly countFrequency: boolean;
  /** This month's budget of messages to people who have not replied to the account; 0: none. */
  readonly unrepliedBudget: number;
}

/**
 * The deployment's defaults, then the account's own budget, then the blast's own cap: a blast may
 * set a cap of its own, or `null` to send without one (a reminder people asked for).
 */
export function sendLimitsFor(
  defaults: SendLimitDefaults,
  account: { readonly unrepliedBudgetPerMonth?: number },
  blast: { readonly frequencyCap?: FrequencyCap | null },
): SendLimits {
  const frequencyCap = blast.frequencyCap === undefined ? defaults.frequencyCap : blast.frequencyCap;
  return {
    frequencyCap,
    countFrequency: frequencyCap !== null || defaults.frequencyCap !== null,
    unrepliedBudget: account.unrepliedBudgetPerMonth ?? defaults.unrepliedBudgetPerMonth,
  };
}

/** The calendar month (UTC) the unreplied count of a send at `at` belongs to: `YYYY-MM`. */
export function unrepliedMonthOf(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

/** Why an account stopped taking recipients, in words its owner can act on. */
export function unrepliedBudgetReason(budget: number, month: string): string {
  return (
    `monthly budget of ${budget} messages to people who have not replied reached (${month}, UTC); ` +
    "it resumes by itself next month or once its budget is raised"
  );
}

const BUDGET_REASON =
  /^monthly budget of \d+ messages to people who have not replied reached \((\d{4}-\d{2}), UTC\)/;

/** Whether an account's pause is its unreplied budget's. */
export function isBudgetPause(reason: string): boolean {
  return BUDGET_REASON.test(reason);
}

/**
 * Whether an account paused with `reason` may take recipients again: the pause was the unreplied
 * budget's, and since then the month has turned, or the budget was raised above what it sent or
 * taken away. Any other pause (a restriction, a person's) is never lifted here.
 */
export function budgetPauseOver(
  reason: string,
  now: { readonly month: string; readonly sends: number; readonly budget: number },
): boolean {
  const paused = BUDGET_REASON.exec(reason);
  if (!paused) return false;
  if (paused[1] !== now.month) return true;
  return now.budget === 0 || now.sends < now.budget;
}

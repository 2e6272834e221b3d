// When a failed webhook delivery is tried again. Exponential, so a receiver that is down is not
// hammered; with jitter, so the deliveries of many endpoints that failed together (a shared
// receiver restarting) do not all come back at the same instant. Never less than half the
// exponential step, so a flapping receiver still gets room.

export interface RetryPolicy {
  /** Attempts in all, the first included; after the last failure the delivery is dead. */
  readonly maxAttempts: number;
  /** The wait after the first failure (before jitter). */
  readonly baseDelayMs: number;
  /** No wait is longer than this (before jitter). */
  readonly maxDelayMs: number;
}

export type RetryStep = { readonly kind: "retry"; readonly delayMs: number } | { readonly kind: "dead" };

/** The wait after the `attempt`-th failed attempt (1-based): in [step/2, step], step = base·2^(attempt-1) capped. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 52);
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const jitter = Math.min(Math.max(random(), 0), 1);
  return Math.round(step / 2 + (jitter * step) / 2);
}

/** What to do after the `attempt`-th attempt failed. */
export function afterFailure(attempt: number, policy: RetryPolicy, random?: () => number): RetryStep {
  if (attempt >= policy.maxAttempts) return { kind: "dead" };
  return { kind: "retry", delayMs: retryDelayMs(attempt, policy, random) };
}

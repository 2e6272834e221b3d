// Human pacing for one WhatsApp account: when may its next message go? Pure: the clock, the send
// history and randomness are parameters, so every rule is tested on a fake clock.

export interface SendingWindow {
  /** Local hours [startHour, endHour) in `timeZone`; 22-6 wraps midnight; equal hours mean all day. */
  readonly startHour: number;
  readonly endHour: number;
  readonly timeZone: string;
}

/**
 * A new account's ramp: `firstDay` messages in the trailing 24 hours on its first day of sending,
 * `growth` times more each following day (2 doubles it), until the ramp reaches `perDay`. Days are
 * counted in whole 24-hour periods from the account's first send, wherever it was sent from.
 */
export interface WarmupRamp {
  readonly firstDay: number;
  readonly growth: number;
}

export interface PacingPolicy {
  /** A uniformly random wait in [minDelayMs, maxDelayMs] after each message. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Most messages in any trailing minute / hour / day; 0 turns that cap off. */
  readonly perMinute: number;
  readonly perHour: number;
  readonly perDay: number;
  /** Show "typing…" before each message, for a time that grows with its length. */
  readonly typing: boolean;
  /** Ask WhatsApp whether a number exists before sending (cached); unknown numbers fail unsent. */
  readonly checkNumbers: boolean;
  readonly window: SendingWindow | null;
  /** null: no ramp, the account may use its whole `perDay` from its first send. */
  readonly warmup: WarmupRamp | null;
}

/**
 * Conservative for an account that already chats normally: a message every 4-12 s (~7/min at
 * most with the jitter), at most 8 a minute, 200 an hour and 1,000 a day. New accounts should go
 * lower; bursts and round-the-clock sending are what gets accounts banned.
 */
export const defaultPacing: PacingPolicy = {
  minDelayMs: 4000,
  maxDelayMs: 12000,
  perMinute: 8,
  perHour: 200,
  perDay: 1000,
  typing: true,
  checkNumbers: true,
  window: null,
  warmup: null,
};

export type PacingOverrides = Partial<PacingPolicy>;

function definedFields(override: PacingOverrides): PacingOverrides {
  return Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined));
}

/** The stricter of two ramps: never more on any day than either allows. */
function stricterRamp(a: WarmupRamp | null, b: WarmupRamp | null | undefined): WarmupRamp | null {
  if (!b) return a;
  if (!a) return b;
  return { firstDay: Math.min(a.firstDay, b.firstDay), growth: Math.min(a.growth, b.growth) };
}

/**
 * The policy for one send: the deployment's `base`, then the account's `own` settings (which may
 * set anything, the warm-up included: an account known to be old can turn it off), then any
 * `narrower` settings (a blast's). Those replace the other fields too, but can only make the
 * account's warm-up stricter: a blast that could lift it would undo the point of the ramp.
 */
export function mergePacing(
  base: PacingPolicy,
  own?: PacingOverrides,
  ...narrower: Array<PacingOverrides | undefined>
): PacingPolicy {
  let merged: PacingPolicy = own ? { ...base, ...definedFields(own) } : base;
  for (const override of narrower) {
    if (!override) continue;
    merged = { ...merged, ...definedFields(override), warmup: stricterRamp(merged.warmup, override.warmup) };
  }
  return merged;
}

/** More than 10x a day is no ramp at all. */
const MAX_GROWTH = 10;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Human-readable problems with a policy; empty when it is usable. */
export function validatePacing(p: PacingOverrides): string[] {
  const problems: string[] = [];
  for (const key of ["minDelayMs", "maxDelayMs", "perMinute", "perHour", "perDay"] as const) {
    const value = p[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0))
      problems.push(`${key} must be a whole number >= 0`);
  }
  if (p.minDelayMs !== undefined && p.maxDelayMs !== undefined && p.minDelayMs > p.maxDelayMs) {
    problems.push("minDelayMs must not exceed maxDelayMs");
  }
  if (p.window) {
    const { startHour, endHour, timeZone } = p.window;
    for (const [name, hour] of [
      ["startHour", startHour],
      ["endHour", endHour],
    ] as const) {
      if (!Number.isInteger(hour) || hour < 0 || hour > 23)
        problems.push(`window.${name} must be an hour 0-23`);
    }
    if (!isTimeZone(timeZone)) problems.push(`window.timeZone "${timeZone}" is not a known time zone`);
  }
  if (p.warmup) {
    const { firstDay, growth } = p.warmup;
    if (!Number.isInteger(firstDay) || firstDay < 1)
      problems.push("warmup.firstDay must be a whole number >= 1");
    if (!Number.isFinite(growth) || growth < 1 || growth > MAX_GROWTH)
      problems.push(`warmup.growth must be a number from 1 to ${MAX_GROWTH}`);
  }
  return problems;
}

/** A uniformly jittered delay in [min, max]. */
/**
 * Nothing holds this account's messages apart or counts them: no delay, no cap, no ramp, no
 * window. Its send history need not be read (or kept) to pace it.
 */
export function isUnlimited(policy: PacingPolicy): boolean {
  return (
    policy.minDelayMs === 0 &&
    policy.maxDelayMs === 0 &&
    policy.perMinute === 0 &&
    policy.perHour === 0 &&
    policy.perDay === 0 &&
    policy.warmup === null &&
    policy.window === null
  );
}

export function nextSendDelay(
  policy: Pick<PacingPolicy, "minDelayMs" | "maxDelayMs">,
  random: () => number,
): number {
  const span = Math.max(0, policy.maxDelayMs - policy.minDelayMs);
  return Math.round(policy.minDelayMs + span * random());
}

/** How long to show "typing…": about 40 ms a character, between 1 and 5 seconds, jittered. */
export function typingDurationMs(policy: PacingPolicy, textLength: number, random: () => number): number {
  if (!policy.typing) return 0;
  const base = Math.min(5000, Math.max(1000, textLength * 40));
  return Math.round(base * (0.8 + 0.4 * random()));
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function pruneSends(recentSends: readonly number[], now: number): number[] {
  return recentSends.filter((t) => t > now - DAY && t <= now).sort((a, b) => a - b);
}

function localHour(at: number, timeZone: string): number {
  const hour = new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", hourCycle: "h23" }).format(at);
  return Number(hour) % 24;
}

function inWindow(window: SendingWindow, at: number): boolean {
  const { startHour, endHour } = window;
  if (startHour === endHour) return true;
  const hour = localHour(at, window.timeZone);
  return startHour < endHour ? hour >= startHour && hour < endHour : hour >= startHour || hour < endHour;
}

/** The first whole minute at or after `at` that falls inside the window. */
function nextWindowStart(window: SendingWindow, at: number): number {
  let t = Math.ceil(at / MINUTE) * MINUTE;
  // Step by hours to the right hour, then by minutes to its start: correct across DST shifts.
  for (let i = 0; i < 48 && !inWindow(window, t); i++) t += HOUR;
  while (inWindow(window, t - MINUTE) && t - MINUTE >= at) t -= MINUTE;
  return t;
}

export interface WarmupToday {
  /** 1 from the first send (or before any) until 24 hours after it, then 2, and so on. */
  readonly day: number;
  /** Most messages in the trailing 24 hours today: the ramp's figure, at most `perDay`. */
  readonly cap: number;
  /** When the next day, and its larger cap, begins; undefined before the first send. */
  readonly nextDayAt?: number;
  /** The ramp has reached `perDay`: from now on only the ordinary caps apply. */
  readonly complete: boolean;
}

/**
 * Today's warm-up cap for an account that first sent at `firstSendAt` (undefined: never yet, so
 * its first day is still to come); null when the policy has no warm-up.
 */
export function warmupToday(
  policy: Pick<PacingPolicy, "warmup" | "perDay">,
  firstSendAt: number | undefined,
  now: number,
): WarmupToday | null {
  const ramp = policy.warmup;
  if (!ramp) return null;
  const started = firstSendAt !== undefined && firstSendAt <= now;
  const day = started ? Math.floor((now - firstSendAt) / DAY) + 1 : 1;
  // Past a few dozen days the figure overflows any count of messages; keep it a whole number.
  const rampCap = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(ramp.firstDay * ramp.growth ** (day - 1)));
  const complete = policy.perDay > 0 && rampCap >= policy.perDay;
  return {
    day,
    cap: complete ? policy.perDay : rampCap,
    ...(started ? { nextDayAt: firstSendAt + day * DAY } : {}),
    complete,
  };
}

export type PaceReason = "pace" | "minute_cap" | "hour_cap" | "day_cap" | "warmup" | "window";

/**
 * The earliest time the next message may go: after the jittered delay since the last send, with no
 * cap exceeded in its trailing window (the warm-up's included), inside the sending window.
 */
export function nextSendTime(
  policy: PacingPolicy,
  recentSends: readonly number[],
  now: number,
  random: () => number,
  firstSendAt?: number,
): { at: number; reason: PaceReason } {
  const sends = pruneSends(recentSends, now);
  const last = sends.at(-1);
  let at = Math.max(now, last === undefined ? now : last + nextSendDelay(policy, random));
  let reason: PaceReason = "pace";
  const caps: Array<[number, number, PaceReason]> = [
    [policy.perMinute, MINUTE, "minute_cap"],
    [policy.perHour, HOUR, "hour_cap"],
    [policy.perDay, DAY, "day_cap"],
  ];
  for (let round = 0; round < 10; round++) {
    let moved = false;
    for (const [cap, span, capReason] of caps) {
      if (cap <= 0) continue;
      const inSpan = sends.filter((t) => t > at - span);
      if (inSpan.length >= cap) {
        // Wait until enough of the oldest sends in the span have left it.
        const freeAt = (inSpan[inSpan.length - cap] ?? at) + span;
        if (freeAt > at) {
          at = freeAt;
          reason = capReason;
          moved = true;
        }
      }
    }
    const warmup = warmupToday(policy, firstSendAt, at);
    if (warmup && !warmup.complete) {
      const inDay = sends.filter((t) => t > at - DAY);
      if (inDay.length >= warmup.cap) {
        // Free again when old sends leave the trailing day, or when the next day raises the cap.
        const freeAt = Math.min((inDay[inDay.length - warmup.cap] ?? at) + DAY, warmup.nextDayAt ?? Infinity);
        if (freeAt > at) {
          at = freeAt;
          reason = "warmup";
          moved = true;
        }
      }
    }
    if (policy.window && !inWindow(policy.window, at)) {
      at = nextWindowStart(policy.window, at);
      reason = "window";
      moved = true;
    }
    if (!moved) break;
  }
  return { at, reason };
}

/**
 * How many messages may go right now, back to back: what is left under each cap (the warm-up's
 * included) in its trailing window. 0 outside the sending window or before the minimum delay since
 * the last send has passed; at most 1 when messages must be spaced by a delay; Infinity when no
 * cap applies and there is no delay.
 */
export function sendAllowance(
  policy: PacingPolicy,
  recentSends: readonly number[],
  now: number,
  firstSendAt?: number,
): number {
  if (policy.window && !inWindow(policy.window, now)) return 0;
  const sends = pruneSends(recentSends, now);
  const last = sends.at(-1);
  if (last !== undefined && now < last + policy.minDelayMs) return 0;
  const warmup = warmupToday(policy, firstSendAt, now);
  const caps: Array<[number, number]> = [
    [policy.perMinute, MINUTE],
    [policy.perHour, HOUR],
    [policy.perDay, DAY],
    [warmup && !warmup.complete ? warmup.cap : 0, DAY],
  ];
  let allowed = Infinity;
  for (const [cap, span] of caps) {
    if (cap <= 0) continue;
    const inSpan = sends.filter((t) => t > now - span).length;
    allowed = Math.min(allowed, Math.max(0, cap - inSpan));
  }
  return policy.minDelayMs > 0 || policy.maxDelayMs > 0 ? Math.min(allowed, 1) : allowed;
}

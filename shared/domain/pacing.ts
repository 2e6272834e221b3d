// Human pacing for one WhatsApp account: when may its next message go? Pure: the clock, the send
// history and randomness are parameters, so every rule is tested on a fake clock.

export interface SendingWindow {
  /** Local hours [startHour, endHour) in `timeZone`; 22-6 wraps midnight; equal hours mean all day. */
  readonly startHour: number;
  readonly endHour: number;
  readonly timeZone: string;
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
};

export type PacingOverrides = Partial<PacingPolicy>;

export function mergePacing(
  base: PacingPolicy,
  ...overrides: Array<PacingOverrides | undefined>
): PacingPolicy {
  let merged = base;
  for (const override of overrides) {
    if (!override) continue;
    const defined = Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined));
    merged = { ...merged, ...defined };
  }
  return merged;
}

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
  return problems;
}

/** A uniformly jittered delay in [min, max]. */
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

export type PaceReason = "pace" | "minute_cap" | "hour_cap" | "day_cap" | "window";

/**
 * The earliest time the next message may go: after the jittered delay since the last send, with no
 * cap exceeded in its trailing window, inside the sending window.
 */
export function nextSendTime(
  policy: PacingPolicy,
  recentSends: readonly number[],
  now: number,
  random: () => number,
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
    if (policy.window && !inWindow(policy.window, at)) {
      at = nextWindowStart(policy.window, at);
      reason = "window";
      moved = true;
    }
    if (!moved) break;
  }
  return { at, reason };
}

// Pacing on a fake clock: times are plain numbers, randomness is injected.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  defaultPacing,
  mergePacing,
  nextSendDelay,
  nextSendTime,
  sendAllowance,
  typingDurationMs,
  validatePacing,
  warmupToday,
  type PacingPolicy,
} from "../../../shared/domain/pacing.ts";

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0); // 10:00 UTC, 17:00 in Jakarta
const S = 1000;
const open: PacingPolicy = {
  ...defaultPacing,
  minDelayMs: 4 * S,
  maxDelayMs: 12 * S,
  perMinute: 0,
  perHour: 0,
  perDay: 0,
};
const fixed = (r: number) => () => r;
const H = 3600 * S;
const DAY = 24 * H;

describe("pacing", () => {
  it("jitters the delay between min and max", () => {
    assert.equal(nextSendDelay(open, fixed(0)), 4 * S);
    assert.equal(nextSendDelay(open, fixed(1)), 12 * S);
    assert.equal(nextSendDelay(open, fixed(0.5)), 8 * S);
    assert.equal(nextSendDelay({ minDelayMs: 5, maxDelayMs: 5 }, fixed(0.9)), 5);
  });

  it("sends at once with no history, and after the jittered delay since the last send", () => {
    assert.deepEqual(nextSendTime(open, [], T0, fixed(0.5)), { at: T0, reason: "pace" });
    assert.deepEqual(nextSendTime(open, [T0 - 2 * S], T0, fixed(0.5)), { at: T0 + 6 * S, reason: "pace" });
    assert.deepEqual(nextSendTime(open, [T0 - 60 * S], T0, fixed(0.5)), { at: T0, reason: "pace" });
  });

  it("holds the per-minute, per-hour and per-day caps over trailing windows", () => {
    const minute = { ...open, minDelayMs: 0, maxDelayMs: 0, perMinute: 3 };
    const sends = [T0, T0 + S, T0 + 2 * S];
    assert.deepEqual(nextSendTime(minute, sends, T0 + 3 * S, fixed(0)), {
      at: T0 + 60 * S,
      reason: "minute_cap",
    });

    const hour = { ...open, minDelayMs: 0, maxDelayMs: 0, perHour: 2 };
    assert.deepEqual(nextSendTime(hour, [T0 - 30 * 60 * S, T0 - 10 * 60 * S], T0, fixed(0)), {
      at: T0 + 30 * 60 * S,
      reason: "hour_cap",
    });

    const day = { ...open, minDelayMs: 0, maxDelayMs: 0, perDay: 1 };
    assert.deepEqual(nextSendTime(day, [T0 - 3600 * S], T0, fixed(0)), {
      at: T0 + 23 * 3600 * S,
      reason: "day_cap",
    });
    assert.deepEqual(nextSendTime(day, [T0 - 25 * 3600 * S], T0, fixed(0)), { at: T0, reason: "pace" });
  });

  it("waits for the sending window, in the window's time zone, also across midnight", () => {
    const office = { ...open, window: { startHour: 9, endHour: 17, timeZone: "UTC" } };
    assert.deepEqual(nextSendTime(office, [], T0, fixed(0)), { at: T0, reason: "pace" });
    const evening = T0 + 8 * 3600 * S; // 18:00 UTC
    assert.deepEqual(nextSendTime(office, [], evening, fixed(0)), {
      at: Date.UTC(2026, 10, 25, 9),
      reason: "window",
    });

    const jakartaMorning = { ...open, window: { startHour: 8, endHour: 12, timeZone: "Asia/Jakarta" } };
    // 17:00 in Jakarta: next 08:00 Jakarta is 01:00 UTC the next day.
    assert.deepEqual(nextSendTime(jakartaMorning, [], T0, fixed(0)), {
      at: Date.UTC(2026, 10, 25, 1),
      reason: "window",
    });

    const night = { ...open, window: { startHour: 22, endHour: 6, timeZone: "UTC" } };
    assert.equal(nextSendTime(night, [], Date.UTC(2026, 10, 24, 23, 30), fixed(0)).reason, "pace");
    assert.equal(nextSendTime(night, [], Date.UTC(2026, 10, 25, 3), fixed(0)).reason, "pace");
    assert.deepEqual(nextSendTime(night, [], T0, fixed(0)), {
      at: Date.UTC(2026, 10, 24, 22),
      reason: "window",
    });

    const always = { ...open, window: { startHour: 5, endHour: 5, timeZone: "UTC" } };
    assert.equal(nextSendTime(always, [], T0, fixed(0)).at, T0);
  });

  it("applies a cap and then the window when both bind", () => {
    const policy = {
      ...open,
      minDelayMs: 0,
      maxDelayMs: 0,
      perMinute: 1,
      window: { startHour: 9, endHour: 10, timeZone: "UTC" },
    };
    const lateSend = Date.UTC(2026, 10, 24, 9, 59, 30);
    assert.deepEqual(nextSendTime(policy, [lateSend], lateSend + S, fixed(0)), {
      at: Date.UTC(2026, 10, 25, 9),
      reason: "window",
    });
  });

  it("types for longer on longer messages, within bounds, and not at all when off", () => {
    assert.equal(typingDurationMs(open, 10, fixed(0.5)), 1000);
    assert.equal(typingDurationMs(open, 50, fixed(0.5)), 2000);
    assert.equal(typingDurationMs(open, 5000, fixed(0.5)), 5000);
    assert.equal(typingDurationMs({ ...open, typing: false }, 50, fixed(0.5)), 0);
  });

  it("merges overrides field by field and validates them", () => {
    const merged = mergePacing(defaultPacing, { perDay: 50 }, { minDelayMs: 1000, perDay: undefined });
    assert.equal(merged.perDay, 50);
    assert.equal(merged.minDelayMs, 1000);
    assert.equal(merged.maxDelayMs, defaultPacing.maxDelayMs);
    assert.deepEqual(validatePacing({ minDelayMs: 5000, maxDelayMs: 1000 }), [
      "minDelayMs must not exceed maxDelayMs",
    ]);
    assert.deepEqual(validatePacing({ perHour: -1 }), ["perHour must be a whole number >= 0"]);
    assert.deepEqual(validatePacing({ window: { startHour: 25, endHour: 3, timeZone: "Mars/Base" } }), [
      "window.startHour must be an hour 0-23",
      'window.timeZone "Mars/Base" is not a known time zone',
    ]);
    assert.deepEqual(validatePacing(defaultPacing), []);
  });

  it("counts warm-up days from the first send and doubles the cap each day up to perDay", () => {
    const ramp = { perDay: 200, warmup: { firstDay: 20, growth: 2 } };
    assert.equal(warmupToday({ ...ramp, warmup: null }, T0, T0), null, "no ramp, no warm-up");
    // Before the first send the account is on day 1, and its days have not started counting.
    assert.deepEqual(warmupToday(ramp, undefined, T0), { day: 1, cap: 20, complete: false });
    const days = [0, 1, 2, 3, 4, 5].map((d) => warmupToday(ramp, T0, T0 + d * DAY + 12 * H));
    assert.deepEqual(
      days.map((d) => [d?.day, d?.cap, d?.complete]),
      [
        [1, 20, false],
        [2, 40, false],
        [3, 80, false],
        [4, 160, false],
        [5, 200, true],
        [6, 200, true],
      ],
    );
    assert.equal(days[1]?.nextDayAt, T0 + 2 * DAY);
    // Day 2 begins exactly 24 hours after the first send, not at midnight.
    assert.equal(warmupToday(ramp, T0, T0 + DAY - 1)?.day, 1);
    assert.equal(warmupToday(ramp, T0, T0 + DAY)?.day, 2);
    // A first send "in the future" (clocks of two senders apart) is day 1, not day 0.
    assert.equal(warmupToday(ramp, T0 + H, T0)?.day, 1);
    // Slower ramps round down; with no daily cap the ramp never completes but stays a whole number.
    const slow = { perDay: 0, warmup: { firstDay: 10, growth: 1.5 } };
    assert.deepEqual(
      [0, 1, 2, 3].map((d) => warmupToday(slow, T0, T0 + d * DAY)?.cap),
      [10, 15, 22, 33],
    );
    const far = warmupToday(slow, T0, T0 + 5000 * DAY);
    assert.equal(far?.cap, Number.MAX_SAFE_INTEGER);
    assert.equal(far?.complete, false);
  });

  it("holds the warm-up cap over the trailing day, until old sends leave it or the next day raises it", () => {
    const policy = {
      ...open,
      minDelayMs: 0,
      maxDelayMs: 0,
      perDay: 500,
      warmup: { firstDay: 20, growth: 2 },
    };
    const dayOne = Array.from({ length: 20 }, (_, i) => T0 + i * 60 * S);
    // The first day's 20 are spent: nothing more until day 2 begins, 24 hours after the first send.
    assert.deepEqual(nextSendTime(policy, dayOne, T0 + 2 * H, fixed(0), T0), {
      at: T0 + DAY,
      reason: "warmup",
    });
    assert.deepEqual(nextSendTime(policy, dayOne.slice(0, 19), T0 + 2 * H, fixed(0), T0), {
      at: T0 + 2 * H,
      reason: "pace",
    });
    // Day 2 allows 40 in any 24 hours: 20 late on day 1 and 20 early on day 2 fill it, and the
    // next goes when the oldest of them is 24 hours old, before day 3 would raise the cap.
    const late = Array.from({ length: 20 }, (_, i) => T0 + 23 * H + i * S);
    const early = Array.from({ length: 20 }, (_, i) => T0 + 25 * H + i * S);
    assert.deepEqual(nextSendTime(policy, [...late, ...early], T0 + 26 * H, fixed(0), T0), {
      at: T0 + 47 * H,
      reason: "warmup",
    });
    // Once the ramp reaches perDay, only perDay applies (and names itself).
    const done = { ...policy, perDay: 30 };
    const thirty = Array.from({ length: 30 }, (_, i) => T0 + 4 * DAY + i * S);
    assert.deepEqual(nextSendTime(done, thirty, T0 + 4 * DAY + H, fixed(0), T0), {
      at: T0 + 5 * DAY,
      reason: "day_cap",
    });
  });

  it("says how many may go at once under every cap, the warm-up included", () => {
    const fast = { ...open, minDelayMs: 0, maxDelayMs: 0 };
    assert.equal(sendAllowance(fast, [T0 - S], T0), Infinity, "no cap and no delay: no limit");
    const caps = { ...fast, perMinute: 8, perHour: 100, perDay: 1000 };
    assert.equal(sendAllowance(caps, [T0 - 2 * S, T0 - S, T0 - 2 * 60 * S], T0), 6);
    assert.equal(sendAllowance({ ...caps, perHour: 4 }, [T0 - 2 * S, T0 - S, T0 - 2 * 60 * S], T0), 1);
    const warm = { ...caps, warmup: { firstDay: 20, growth: 2 }, perMinute: 0 };
    const five = Array.from({ length: 5 }, (_, i) => T0 - H + i * S);
    assert.equal(sendAllowance(warm, five, T0, T0 - H), 15);
    assert.equal(sendAllowance(warm, five, T0 + DAY - H - 1, T0 - H), 15, "still day 1");
    assert.equal(
      sendAllowance(warm, [], T0 + DAY, T0 - H),
      40,
      "day 2, the day-1 sends have left the window",
    );
    // Spaced messages go one at a time, and none before the shortest delay since the last.
    assert.equal(sendAllowance(open, [], T0), 1);
    assert.equal(sendAllowance(open, [T0 - 3 * S], T0), 0);
    assert.equal(sendAllowance(open, [T0 - 4 * S], T0), 1);
    // Outside the sending window nothing may go.
    const office = { ...fast, window: { startHour: 9, endHour: 10, timeZone: "UTC" } };
    assert.equal(sendAllowance(office, [], T0), 0);
  });

  it("lets the account set or drop the warm-up, and a blast only make it stricter", () => {
    const deployment = { ...defaultPacing, warmup: { firstDay: 20, growth: 2 } };
    assert.deepEqual(mergePacing(deployment).warmup, { firstDay: 20, growth: 2 });
    // The account's own settings may raise, lower or drop the deployment's ramp.
    assert.deepEqual(mergePacing(deployment, { warmup: { firstDay: 50, growth: 3 } }).warmup, {
      firstDay: 50,
      growth: 3,
    });
    assert.equal(mergePacing(deployment, { warmup: null }).warmup, null);
    // A blast cannot raise it, drop it, or leave it as it is by saying nothing about it...
    const account = { warmup: { firstDay: 20, growth: 2 } };
    assert.deepEqual(mergePacing(defaultPacing, account, { warmup: { firstDay: 1000, growth: 10 } }).warmup, {
      firstDay: 20,
      growth: 2,
    });
    assert.deepEqual(mergePacing(defaultPacing, account, { warmup: null }).warmup, {
      firstDay: 20,
      growth: 2,
    });
    assert.deepEqual(mergePacing(defaultPacing, account, { perDay: 5000 }).warmup, {
      firstDay: 20,
      growth: 2,
    });
    // ...and raising perDay does not lift today's ramp either.
    const raised = mergePacing(defaultPacing, { ...account, perDay: 1000 }, { perDay: 5000 });
    assert.equal(warmupToday(raised, T0, T0 + 2 * DAY)?.cap, 80);
    // ...but it may make it stricter, field by field.
    assert.deepEqual(mergePacing(defaultPacing, account, { warmup: { firstDay: 5, growth: 3 } }).warmup, {
      firstDay: 5,
      growth: 2,
    });
    assert.deepEqual(validatePacing({ warmup: { firstDay: 0, growth: 0.5 } }), [
      "warmup.firstDay must be a whole number >= 1",
      "warmup.growth must be a number from 1 to 10",
    ]);
    assert.deepEqual(validatePacing({ warmup: { firstDay: 20, growth: 1.5 } }), []);
    assert.deepEqual(validatePacing({ warmup: null }), []);
  });
});

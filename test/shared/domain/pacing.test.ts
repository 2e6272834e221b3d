// Pacing on a fake clock: times are plain numbers, randomness is injected.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  defaultPacing,
  mergePacing,
  nextSendDelay,
  nextSendTime,
  typingDurationMs,
  validatePacing,
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
});

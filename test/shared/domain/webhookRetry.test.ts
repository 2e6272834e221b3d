import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { afterFailure, retryDelayMs, type RetryPolicy } from "../../../shared/domain/webhookRetry.ts";

const policy: RetryPolicy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 60_000 };

describe("webhook retry backoff", () => {
  it("doubles from the base and stops at the max, jittered between half and all of the step", () => {
    assert.equal(
      retryDelayMs(1, policy, () => 0),
      500,
    );
    assert.equal(
      retryDelayMs(1, policy, () => 1),
      1000,
    );
    assert.equal(
      retryDelayMs(2, policy, () => 1),
      2000,
    );
    assert.equal(
      retryDelayMs(4, policy, () => 0.5),
      6000,
    );
    assert.equal(
      retryDelayMs(7, policy, () => 1),
      60_000,
      "64 s capped at 60 s",
    );
    assert.equal(
      retryDelayMs(1000, policy, () => 1),
      60_000,
      "no overflow for absurd attempts",
    );
  });

  it("stays within [step/2, step] for any attempt and any random value", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
          const delay = retryDelayMs(attempt, policy, () => r);
          return Number.isFinite(delay) && delay >= Math.floor(step / 2) && delay <= step;
        },
      ),
    );
  });

  it("spreads retries that failed together", () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(5, policy)));
    assert.ok(delays.size > 10, `only ${delays.size} distinct delays`);
  });

  it("gives up after the last attempt", () => {
    assert.deepEqual(
      afterFailure(7, policy, () => 1),
      { kind: "retry", delayMs: 60_000 },
    );
    assert.deepEqual(afterFailure(8, policy), { kind: "dead" });
    assert.deepEqual(afterFailure(1, { ...policy, maxAttempts: 1 }), { kind: "dead" });
  });
});

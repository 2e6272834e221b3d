// The pacer against a real redis-server on an injected clock: a new account sending as fast as its
// pacing lets it, day after day, never goes over the warm-up's cap or perDay in any 24 hours, also
// when another sender (a new pacer) takes the session over mid-ramp; and `allowance` and
// `recordSends` agree with what `nextSlot` enforces.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { SendPacer } from "../../../services/sender/sendPacer.ts";
import { defaultPacing, warmupToday, type PacingPolicy } from "../../../shared/domain/pacing.ts";
import { connectRedis } from "../../../shared/redis/connection.ts";
import { appKeys } from "../../../shared/redis/keys.ts";
import { SessionRegistry } from "../../../shared/redis/sessions.ts";
import { startRedis, type ManagedServer } from "../../harness/servers.ts";

const T0 = Date.UTC(2026, 10, 24, 8, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A new account: a message a minute at most, 100 a day, warming up from 20 on its first day. */
const rampPolicy: PacingPolicy = {
  ...defaultPacing,
  minDelayMs: MINUTE,
  maxDelayMs: MINUTE,
  perMinute: 0,
  perHour: 0,
  perDay: 100,
  warmup: { firstDay: 20, growth: 2 },
};

describe("SendPacer", () => {
  let server: ManagedServer;
  let redis: Redis;
  let testCount = 0;

  before(async () => {
    server = await startRedis();
    redis = connectRedis(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.dispose();
  });

  /** A clock the test moves, and a fresh key prefix. */
  function setup() {
    const clock = { now: T0 };
    const prefix = `sp${++testCount}:`;
    const pacer = () =>
      new SendPacer(
        redis,
        prefix,
        () => clock.now,
        () => 0.5,
      );
    return { clock, prefix, pacer };
  }

  it("holds the warm-up ramp and perDay across six days, and across a move to another sender", async () => {
    const { clock, pacer } = setup();
    let current = pacer();
    let moved = false;
    const sent: number[] = [];
    // Sends whenever the pacer allows, as a worker with endless work would.
    while (clock.now < T0 + 6 * DAY) {
      if (!moved && clock.now >= T0 + 2.5 * DAY) {
        // Halfway through day 3 the session moves to another sender: a pacer with no memory.
        current = pacer();
        moved = true;
      }
      const slot = await current.nextSlot("acct", rampPolicy);
      assert.ok(slot.at >= clock.now, "a slot is never in the past");
      clock.now = slot.at;
      if (clock.now >= T0 + 6 * DAY) break;
      await current.recordSend("acct");
      sent.push(clock.now);
    }
    const first = sent[0] ?? NaN;
    assert.equal(first, T0, "the first message goes at once");
    const perDay = [0, 1, 2, 3, 4, 5].map(
      (d) => sent.filter((t) => t >= first + d * DAY && t < first + (d + 1) * DAY).length,
    );
    assert.deepEqual(perDay, [20, 40, 80, 100, 100, 100], "20, then doubling, up to perDay");
    for (const [i, at] of sent.entries()) {
      const inLastDay = sent.slice(0, i + 1).filter((t) => t > at - DAY).length;
      const cap = warmupToday(rampPolicy, first, at)?.cap ?? Infinity;
      assert.ok(inLastDay <= cap, `send ${i} at +${(at - first) / HOUR} h: ${inLastDay} in 24 h, cap ${cap}`);
      if (i > 0) assert.ok(at - (sent[i - 1] ?? 0) >= MINUTE, "the pace delay held");
    }
  });

  it("says how many may go at once and records a batch in one step", async () => {
    const { clock, prefix, pacer } = setup();
    const fast: PacingPolicy = { ...rampPolicy, minDelayMs: 0, maxDelayMs: 0 };
    const p = pacer();
    assert.equal(await p.allowance("acct", fast), 20, "day 1 of the ramp");
    assert.equal(
      await p.allowance("acct", { ...fast, warmup: null, perDay: 0 }),
      Infinity,
      "nothing limits a fast account with no caps",
    );
    await p.recordSends("acct", 15);
    assert.equal(await redis.zcard(appKeys(prefix).pace("acct")), 15, "fifteen sends, all counted");
    assert.equal(await p.allowance("acct", fast), 5);
    clock.now += HOUR;
    await p.recordSends("acct", 5);
    assert.equal(
      Number(await redis.get(appKeys(prefix).firstSend("acct"))),
      T0,
      "the first send stays the first",
    );
    assert.equal(await p.allowance("acct", fast), 0);
    assert.deepEqual(await p.nextSlot("acct", fast), { at: T0 + DAY, reason: "warmup" });
    clock.now = T0 + DAY;
    assert.equal(await p.allowance("acct", fast), 35, "day 2: 40, less the 5 still in the last 24 hours");
    await p.recordSends("acct", 0);
    assert.equal(await redis.zcard(appKeys(prefix).pace("acct")), 20, "recording nothing records nothing");
    // With a delay between messages, one at a time.
    assert.equal(await p.allowance("acct", { ...fast, minDelayMs: 1000, maxDelayMs: 2000 }), 1);
  });

  it("starts the ramp over from the next send after a restart", async () => {
    const { clock, prefix, pacer } = setup();
    const p = pacer();
    const registry = new SessionRegistry(redis, prefix);
    await p.recordSend("acct");
    clock.now += 3 * DAY;
    assert.equal((await registry.sending("acct", clock.now)).firstSendAt, T0);
    await registry.restartWarmup("acct");
    assert.deepEqual(await registry.sending("acct", clock.now), { sentLastDay: 0 });
    await p.recordSend("acct");
    assert.deepEqual(await registry.sending("acct", clock.now), { sentLastDay: 1, firstSendAt: clock.now });
    assert.equal(
      await p.allowance("acct", { ...rampPolicy, minDelayMs: 0, maxDelayMs: 0 }),
      19,
      "day 1 again",
    );
  });

  it("an unlimited account is never held back and keeps no history, only its first send", async () => {
    const { clock, prefix, pacer } = setup();
    const unlimited: PacingPolicy = {
      ...defaultPacing,
      minDelayMs: 0,
      maxDelayMs: 0,
      perMinute: 0,
      perHour: 0,
      perDay: 0,
      typing: false,
      warmup: null,
      window: null,
    };
    const p = pacer();
    for (let batch = 0; batch < 5; batch++) await p.recordSends("fast", 100, unlimited);
    assert.equal(await p.allowance("fast", unlimited), Infinity);
    assert.deepEqual(await p.nextSlot("fast", unlimited), { at: clock.now, reason: "unlimited" });
    const keys = appKeys(prefix);
    assert.equal(await redis.exists(keys.pace("fast")), 0, "no set of a day of sends");
    assert.equal(await redis.get(keys.firstSend("fast")), String(T0));
    // The same account with a cap counts what it sends from then on.
    const capped: PacingPolicy = { ...unlimited, perDay: 10 };
    await p.recordSends("fast", 4, capped);
    assert.equal(await p.allowance("fast", capped), 6);
  });
});

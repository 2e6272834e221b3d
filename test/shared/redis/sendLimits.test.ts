// The frequency cap and the unreplied budget inside the send claim's single round trip, against a
// real redis-server: a number's sends count over every blast and within the cap's period only, a
// released claim is taken back out of both counts, the suppression list still wins, and an account
// over its budget claims no recipient who never wrote to it while those who did stay reachable.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  FREQUENCY_CAPPED,
  IdempotencyRecords,
  OPTED_OUT,
  type ClaimChecks,
} from "../../../shared/redis/idempotency.ts";
import { appKeys } from "../../../shared/redis/keys.ts";
import { SuppressionList } from "../../../shared/redis/suppression.ts";
import { redisForSuite } from "../../harness/servers.ts";

const HOUR = 3600_000;
const T0 = Date.parse("2026-11-10T12:00:00.000Z");
const ANA = "+12025550100";
const BOB = "+12025550101";
const CEC = "+12025550102";
const DAN = "+12025550103";

const request = (blastId: string, idx: number, phone: string) => ({
  idx,
  phone,
  messageId: `m-${blastId}-${idx}`,
});
const capped = { kind: "settled", outcome: { kind: "failed", reason: FREQUENCY_CAPPED } } as const;
const claimed = { kind: "claimed" } as const;
const overBudget = { kind: "over_budget" } as const;

describe("frequency cap and unreplied budget in the send claim", () => {
  const redis = redisForSuite();
  let testCount = 0;

  const fresh = () => {
    const prefix = `lim${++testCount}:`;
    const records = new IdempotencyRecords(redis(), prefix);
    return {
      keys: appKeys(prefix),
      records,
      suppression: new SuppressionList(redis(), prefix),
      claim: (blastId: string, requests: ReturnType<typeof request>[], at: number, checks: ClaimChecks) =>
        records.claimAll(blastId, requests, "sender-a", at, checks),
    };
  };
  const capOf = (max: number, periodHours: number): ClaimChecks => ({
    frequency: { cap: { max, periodHours } },
  });

  it("caps a number across blasts, settling the recipient over it frequency_capped without a mapping", async () => {
    const { claim, keys, records } = fresh();
    const twoADay = capOf(2, 24);
    assert.deepEqual(await claim("b1", [request("b1", 0, ANA), request("b1", 1, BOB)], T0, twoADay), [
      claimed,
      claimed,
    ]);
    await records.settleAll("b1", [{ idx: 0, outcome: { kind: "sent", messageId: "m-b1-0" } }], T0);
    assert.deepEqual(await claim("b2", [request("b2", 0, ANA)], T0 + HOUR, twoADay), [claimed]);
    // Ana got two in the last day; Bob one; Cec none.
    assert.deepEqual(
      await claim(
        "b3",
        [request("b3", 0, ANA), request("b3", 1, BOB), request("b3", 2, CEC)],
        T0 + 2 * HOUR,
        twoADay,
      ),
      [capped, claimed, claimed],
    );
    assert.deepEqual(JSON.parse((await redis().hget(keys.idempotency("b3"), "0")) ?? "null"), {
      state: "settled",
      outcome: { kind: "failed", reason: FREQUENCY_CAPPED },
      at: T0 + 2 * HOUR,
    });
    assert.equal(await redis().exists(keys.sentMessage("m-b3-0")), 0, "no receipt mapping for a capped one");
    assert.deepEqual(
      await redis().zrange(keys.numberSends(ANA), 0, -1),
      ["b1:0", "b2:0"],
      "a capped send is not one",
    );
    // Once settled, the record is the answer: the cap does not move it.
    assert.deepEqual(await claim("b3", [request("b3", 0, ANA)], T0 + 30 * HOUR, twoADay), [capped]);
    // A recipient met again (a redelivery) is its own record, never counted twice.
    assert.deepEqual(await claim("b3", [request("b3", 1, BOB)], T0 + 2 * HOUR, twoADay), [
      { kind: "in_flight", owner: "sender-a", since: T0 + 2 * HOUR },
    ]);
    assert.equal(await redis().zcard(keys.numberSends(BOB)), 2);
  });

  it("counts only the cap's period, and forgets sends older than the longest period a cap may have", async () => {
    const { claim, keys } = fresh();
    assert.deepEqual(await claim("b1", [request("b1", 0, ANA)], T0, capOf(1, 1)), [claimed]);
    assert.deepEqual(await claim("b2", [request("b2", 0, ANA)], T0 + 30 * 60_000, capOf(1, 1)), [capped]);
    assert.deepEqual(await claim("b3", [request("b3", 0, ANA)], T0 + HOUR + 1, capOf(1, 1)), [claimed]);
    // The same two sends are over a weekly cap of two...
    assert.deepEqual(await claim("b4", [request("b4", 0, ANA)], T0 + 2 * HOUR, capOf(2, 168)), [capped]);
    // ...and gone from the record 31 days on, when nothing could count them any more.
    assert.deepEqual(
      await claim("b5", [request("b5", 0, ANA)], T0 + 31 * 24 * HOUR + 2 * HOUR, capOf(1, 744)),
      [claimed],
    );
    assert.deepEqual(await redis().zrange(keys.numberSends(ANA), 0, -1), ["b5:0"]);
    assert.ok(
      (await redis().pttl(keys.numberSends(ANA))) > 30 * 24 * HOUR,
      "the record expires after its last send",
    );
  });

  it("keeps the record without refusing when a blast sends without a cap, and keeps none when nothing caps", async () => {
    const { claim, keys } = fresh();
    const recordOnly: ClaimChecks = { frequency: { cap: null } };
    assert.deepEqual(await claim("b1", [request("b1", 0, ANA)], T0, recordOnly), [claimed]);
    assert.deepEqual(await claim("b2", [request("b2", 0, ANA)], T0 + 1, recordOnly), [claimed]);
    assert.deepEqual(await claim("b3", [request("b3", 0, ANA)], T0 + 2, capOf(2, 24)), [capped]);
    assert.deepEqual(await claim("b4", [request("b4", 0, BOB)], T0, {}), [claimed]);
    assert.equal(await redis().exists(keys.numberSends(BOB)), 0);
  });

  it("lets an opt-out win over the cap", async () => {
    const { claim, suppression } = fresh();
    assert.deepEqual(await claim("b1", [request("b1", 0, ANA)], T0, capOf(1, 24)), [claimed]);
    await suppression.addUnlisted([
      { phone: ANA, source: "api", reason: "asked", at: new Date(T0).toISOString() },
    ]);
    assert.deepEqual(await claim("b2", [request("b2", 0, ANA)], T0 + 1, capOf(1, 24)), [
      { kind: "settled", outcome: { kind: "failed", reason: OPTED_OUT } },
    ]);
  });

  it("counts recipients who never wrote to the account, and claims none of them past its budget", async () => {
    const { claim, keys } = fresh();
    const budgetOfTwo: ClaimChecks = { unreplied: { sessionId: "s1", budget: 2 } };
    await redis().sadd(keys.repliedTo("s1"), DAN);
    const claims = await claim(
      "b1",
      [request("b1", 0, ANA), request("b1", 1, DAN), request("b1", 2, BOB), request("b1", 3, CEC)],
      T0,
      budgetOfTwo,
    );
    assert.deepEqual(claims, [claimed, claimed, claimed, overBudget]);
    const count = keys.unrepliedSends("s1", "2026-11");
    assert.equal(await redis().get(count), "2", "Ana and Bob; Dan wrote to the account");
    assert.ok((await redis().ttl(count)) > 35 * 24 * 3600);
    assert.equal(
      await redis().hexists(keys.idempotency("b1"), "3"),
      0,
      "no record: another account may claim Cec",
    );
    assert.equal(await redis().exists(keys.sentMessage("m-b1-3")), 0);
    // Over budget, a number that wrote to the account is still claimed; another account is not held back.
    assert.deepEqual(await claim("b2", [request("b2", 0, DAN), request("b2", 1, CEC)], T0 + 1, budgetOfTwo), [
      claimed,
      overBudget,
    ]);
    assert.deepEqual(
      await claim("b2", [request("b2", 1, CEC)], T0 + 2, { unreplied: { sessionId: "s2", budget: 2 } }),
      [claimed],
    );
    // Without a budget it still counts; a new month starts from nothing.
    assert.deepEqual(
      await claim("b3", [request("b3", 0, CEC)], T0 + 3, { unreplied: { sessionId: "s1", budget: 0 } }),
      [claimed],
    );
    assert.equal(await redis().get(count), "3");
    const december = Date.parse("2026-12-01T00:00:00.000Z");
    assert.deepEqual(await claim("b4", [request("b4", 0, CEC)], december, budgetOfTwo), [claimed]);
    assert.equal(await redis().get(keys.unrepliedSends("s1", "2026-12")), "1");
  });

  it("takes a released claim back out of the number's sends and the month's count, and leaves settled ones", async () => {
    const { claim, keys, records } = fresh();
    await redis().sadd(keys.repliedTo("s1"), DAN);
    const checks: ClaimChecks = { ...capOf(1, 24), unreplied: { sessionId: "s1", budget: 2 } };
    assert.deepEqual(
      await claim("b1", [request("b1", 0, ANA), request("b1", 1, BOB), request("b1", 2, DAN)], T0, checks),
      [claimed, claimed, claimed],
    );
    await records.settleAll("b1", [{ idx: 1, outcome: { kind: "sent", messageId: "m-b1-1" } }], T0);
    const count = keys.unrepliedSends("s1", "2026-11");
    assert.equal(await redis().get(count), "2");
    // WhatsApp refused Ana's and Dan's sends (463): nothing reached them. Bob's was sent.
    await records.releaseAll(
      "b1",
      [
        { idx: 0, phone: ANA },
        { idx: 1, phone: BOB },
        { idx: 2, phone: DAN },
      ],
      { sessionId: "s1", claimedAt: T0 },
    );
    assert.equal(await redis().get(count), "1", "Ana's count is back; Dan never counted; Bob's stays");
    assert.equal(await redis().exists(keys.numberSends(ANA)), 0);
    assert.deepEqual(await redis().zrange(keys.numberSends(BOB), 0, -1), ["b1:1"]);
    assert.deepEqual(await redis().hkeys(keys.idempotency("b1")), ["1"]);
    // Another account sends Ana, under the cap and counted on its own month.
    assert.deepEqual(
      await claim("b1", [request("b1", 0, ANA)], T0 + 1, {
        ...capOf(1, 24),
        unreplied: { sessionId: "s2", budget: 1 },
      }),
      [claimed],
    );
    assert.deepEqual(await claim("b2", [request("b2", 0, BOB)], T0 + 2, checks), [capped]);
  });
});

// The suppression list and the send claim that checks it, against a real redis-server: a number
// listed before its turn is settled `opted_out` in the claim's own step (no claim, no receipt
// mapping), while a recipient that already has a record keeps it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdempotencyRecords, OPTED_OUT } from "../../../shared/redis/idempotency.ts";
import { appKeys } from "../../../shared/redis/keys.ts";
import { SuppressionList, type SuppressionEntry } from "../../../shared/redis/suppression.ts";
import { redisForSuite } from "../../harness/servers.ts";

const entry = (phone: string, at: string, reason = "asked"): SuppressionEntry => ({
  phone,
  source: "api",
  reason,
  at,
});

describe("suppression list", () => {
  const redis = redisForSuite();
  let testCount = 0;

  const fresh = () => {
    const prefix = `sup${++testCount}:`;
    return {
      prefix,
      keys: appKeys(prefix),
      list: new SuppressionList(redis(), prefix),
      records: new IdempotencyRecords(redis(), prefix),
    };
  };

  it("adds only unlisted numbers, keeping a listed number's entry, and pages newest first", async () => {
    const { list } = fresh();
    const added = await list.addUnlisted([
      entry("+12025550100", "2026-01-01T00:00:00.000Z"),
      entry("+12025550101", "2026-01-02T00:00:00.000Z"),
    ]);
    assert.deepEqual(added, ["+12025550100", "+12025550101"]);
    const again = await list.addUnlisted([
      entry("+12025550101", "2026-01-03T00:00:00.000Z", "another list"),
      entry("+12025550102", "2026-01-03T00:00:00.000Z", "another list"),
    ]);
    assert.deepEqual(again, ["+12025550102"]);
    assert.equal((await list.get("+12025550101"))?.reason, "asked", "the first entry stays");
    assert.equal(await list.count(), 3);
    assert.deepEqual(
      (await list.page(0, 2)).map((e) => e.phone),
      ["+12025550102", "+12025550101"],
    );
    const pages: string[][] = [];
    for await (const page of list.all(2)) pages.push(page.map((e) => e.phone));
    assert.deepEqual(pages, [["+12025550102", "+12025550101"], ["+12025550100"]]);
    assert.deepEqual([...(await list.suppressedAmong(["+12025550100", "+12025550199"]))], ["+12025550100"]);
    // `add` refreshes an entry, and still says which numbers are new.
    assert.deepEqual(
      await list.add([
        entry("+12025550100", "2026-01-04T00:00:00.000Z", "refreshed"),
        entry("+12025550103", "2026-01-04T00:00:00.000Z"),
      ]),
      ["+12025550103"],
    );
    assert.equal((await list.get("+12025550100"))?.reason, "refreshed");
  });

  it("removes listed numbers from the entries and the index, and says which were listed", async () => {
    const { list, keys } = fresh();
    await list.addUnlisted([entry("+12025550100", "2026-01-01T00:00:00.000Z")]);
    assert.deepEqual(await list.remove(["+12025550100", "+12025550100", "+12025550199"]), ["+12025550100"]);
    assert.equal(await list.get("+12025550100"), undefined);
    assert.equal(await list.count(), 0);
    assert.equal(await redis().zcard(keys.suppressionIndex), 0);
    assert.deepEqual(await list.remove(["+12025550100"]), []);
  });

  it("settles a listed number opted_out in the claim, and leaves recipients with records alone", async () => {
    const { list, records, keys } = fresh();
    const blastId = "b1";
    const job = (idx: number, phone: string) => ({ idx, phone, messageId: `m-${blastId}-${idx}` });
    // Recipient 0 was claimed, and recipient 1 sent, before their numbers opted out.
    assert.deepEqual(await records.claimAll(blastId, [job(0, "+12025550100")], "sender-a", 1000), [
      { kind: "claimed" },
    ]);
    await records.claimAll(blastId, [job(1, "+12025550101")], "sender-a", 1000);
    await records.settleAll(blastId, [{ idx: 1, outcome: { kind: "sent", messageId: "m-b1-1" } }], 1500);
    await list.addUnlisted(
      ["+12025550100", "+12025550101", "+12025550102"].map((p) => entry(p, "2026-01-01T00:00:00.000Z")),
    );

    const claims = await records.claimAll(
      blastId,
      [job(0, "+12025550100"), job(1, "+12025550101"), job(2, "+12025550102"), job(3, "+12025550103")],
      "sender-b",
      2000,
    );
    assert.deepEqual(claims, [
      { kind: "in_flight", owner: "sender-a", since: 1000 },
      { kind: "settled", outcome: { kind: "sent", messageId: "m-b1-1" } },
      { kind: "settled", outcome: { kind: "failed", reason: OPTED_OUT } },
      { kind: "claimed" },
    ]);
    assert.deepEqual(JSON.parse((await redis().hget(keys.idempotency(blastId), "2")) ?? "null"), {
      state: "settled",
      outcome: { kind: "failed", reason: "opted_out" },
      at: 2000,
    });
    assert.equal(
      await redis().exists(keys.sentMessage("m-b1-2")),
      0,
      "no receipt mapping for an opted-out one",
    );
    assert.deepEqual(await redis().hgetall(keys.sentMessage("m-b1-3")), {
      blastId,
      idx: "3",
      phone: "+12025550103",
    });

    // Once settled, the record is the answer, even after the number is taken off the list.
    await list.remove(["+12025550102"]);
    assert.deepEqual(await records.claimAll(blastId, [job(2, "+12025550102")], "sender-c", 3000), [
      { kind: "settled", outcome: { kind: "failed", reason: OPTED_OUT } },
    ]);
  });
});

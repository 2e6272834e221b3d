// The campaign store against a real redis-server: a campaign saved a batch at a time is stored
// compactly and read back a page at a time; nothing of a draft is visible before its commit, or
// left after an abort or a refused commit; and campaigns saved in the old format (a JSON object
// per row) still read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InputRow, Recipient } from "../../../shared/domain/recipients.ts";
import { CampaignStore } from "../../../shared/redis/campaigns.ts";
import { appKeys } from "../../../shared/redis/keys.ts";
import { redisForSuite } from "../../harness/servers.ts";

const CREATED_AT = "2026-03-01T10:00:00.000Z";

function recipient(row: number, values: Record<string, string>): Recipient {
  return { source: "file", row, phone: values.phone ?? "", values };
}

async function allBatches(batches: AsyncIterable<InputRow[]>): Promise<InputRow[][]> {
  const all: InputRow[][] = [];
  for await (const batch of batches) all.push(batch);
  return all;
}

describe("campaign store", () => {
  const redis = redisForSuite();
  let suites = 0;
  const fresh = () => {
    const prefix = `cs${++suites}:`;
    return { prefix, keys: appKeys(prefix), store: new CampaignStore(redis(), prefix) };
  };
  const keysUnder = async (prefix: string) => (await redis().keys(`${prefix}*`)).sort();

  it("stores each row once as its cells, the columns once, and reads them back keyed by column", async () => {
    const { prefix, keys, store } = fresh();
    const draft = store.begin({ campaignId: "spring", name: "Spring", createdAt: CREATED_AT });
    await draft.append([
      recipient(2, { phone: "+12025550100", name: "Ana", city: "" }),
      recipient(3, { phone: "+12025550101", name: "", city: "Lima" }),
    ]);
    // A JSON body gives each row its own keys: a column first met later gets the next position.
    await draft.append([recipient(4, { phone: "+12025550102", tier: "gold" })]);

    assert.equal(await store.get("spring"), undefined, "nothing visible before the commit");
    assert.deepEqual(await redis().zrange(keys.campaigns, 0, -1), []);

    const saved = await draft.commit();
    assert.deepEqual(saved, {
      campaignId: "spring",
      name: "Spring",
      total: 3,
      columns: ["city", "name", "phone", "tier"],
      createdAt: CREATED_AT,
    });
    assert.deepEqual(await store.get("spring"), saved);
    assert.deepEqual(await redis().lrange(keys.campaignRecipients("spring"), 0, -1), [
      '["+12025550100","Ana"]',
      '["+12025550101","","Lima"]',
      '["+12025550102","","","gold"]',
    ]);
    assert.deepEqual(JSON.parse((await redis().hget(keys.campaign("spring"), "columns")) ?? ""), [
      "phone",
      "name",
      "city",
      "tier",
    ]);
    assert.equal(await redis().ttl(keys.campaignRecipients("spring")), -1, "a saved campaign never expires");
    assert.deepEqual(
      await keysUnder(prefix),
      [keys.campaigns, keys.campaign("spring"), keys.campaignRecipients("spring")].sort(),
    );

    assert.deepEqual(await store.recipients("spring", 1, 10), [
      { phone: "+12025550101", name: "", city: "Lima", tier: "" },
      { phone: "+12025550102", name: "", city: "", tier: "gold" },
    ]);
    assert.deepEqual(await allBatches(store.rowBatches("spring", 2)), [
      [
        { source: "campaign", row: 1, values: { phone: "+12025550100", name: "Ana", city: "", tier: "" } },
        { source: "campaign", row: 2, values: { phone: "+12025550101", name: "", city: "Lima", tier: "" } },
      ],
      [{ source: "campaign", row: 3, values: { phone: "+12025550102", name: "", city: "", tier: "gold" } }],
    ]);

    assert.equal(await store.delete("spring"), true);
    assert.deepEqual(await keysUnder(prefix), []);
  });

  it("reads a campaign of many pages a page at a time, in order, and stops at its end", async () => {
    const { store } = fresh();
    const draft = store.begin({ campaignId: "big", name: "Big", createdAt: CREATED_AT });
    for (let start = 0; start < 2500; start += 1000) {
      const batch = [];
      for (let i = start; i < Math.min(start + 1000, 2500); i++) {
        batch.push(recipient(i + 2, { phone: `+1212555${String(i).padStart(4, "0")}`, name: `P${i}` }));
      }
      await draft.append(batch);
    }
    assert.equal((await draft.commit())?.total, 2500);
    const batches = await allBatches(store.rowBatches("big", 1000));
    assert.deepEqual(
      batches.map((b) => b.length),
      [1000, 1000, 500],
    );
    const rows = batches.flat();
    assert.deepEqual(
      rows.map((r) => r.row),
      Array.from({ length: 2500 }, (_, i) => i + 1),
    );
    assert.deepEqual(rows[2499]?.values, { phone: "+12125552499", name: "P2499" });
    // An exact multiple of the page: the last read finds nothing and ends.
    assert.equal((await allBatches(store.rowBatches("big", 500))).length, 5);
    assert.deepEqual(await allBatches(store.rowBatches("missing", 100)), []);
  });

  it("keeps a draft out of sight with a TTL, and an abort leaves nothing", async () => {
    const { prefix, store } = fresh();
    const draft = store.begin({ campaignId: "gone", name: "Gone", createdAt: CREATED_AT });
    await draft.append([recipient(2, { phone: "+12025550100" })]);
    const [draftKey, ...others] = await keysUnder(prefix);
    assert.deepEqual(others, [], "only the draft exists");
    assert.ok(draftKey?.includes(":draft:"), draftKey);
    const ttl = await redis().ttl(draftKey ?? "");
    assert.ok(ttl > 3500 && ttl <= 3600, `draft TTL ${ttl}`);
    assert.equal(await store.get("gone"), undefined);
    await draft.abort();
    assert.deepEqual(await keysUnder(prefix), []);
    await assert.rejects(draft.append([recipient(3, { phone: "+12025550101" })]), /aborted/);
  });

  it("refuses the commit of an id taken meanwhile, dropping its draft and keeping the first campaign", async () => {
    const { prefix, keys, store } = fresh();
    const first = store.begin({ campaignId: "vip", name: "First", createdAt: CREATED_AT });
    const second = store.begin({ campaignId: "vip", name: "Second", createdAt: CREATED_AT });
    await first.append([recipient(2, { phone: "+12025550100" })]);
    await second.append([recipient(2, { phone: "+12025550199" }), recipient(3, { phone: "+12025550198" })]);
    assert.equal((await first.commit())?.name, "First");
    assert.equal(await second.commit(), undefined);
    assert.deepEqual(await store.get("vip"), {
      campaignId: "vip",
      name: "First",
      total: 1,
      columns: ["phone"],
      createdAt: CREATED_AT,
    });
    assert.deepEqual(await store.recipients("vip", 0, 10), [{ phone: "+12025550100" }]);
    assert.deepEqual(
      await keysUnder(prefix),
      [keys.campaigns, keys.campaign("vip"), keys.campaignRecipients("vip")].sort(),
    );
  });

  it("still reads campaigns saved with a JSON object per row, and each row in either format", async () => {
    const { keys, store } = fresh();
    // As the store wrote them before rows became arrays: sorted columns, objects with their keys.
    await redis().hset(keys.campaign("old"), {
      campaignId: "old",
      name: "Old",
      total: "3",
      columns: JSON.stringify(["city", "name", "phone"]),
      createdAt: CREATED_AT,
    });
    await redis().rpush(
      keys.campaignRecipients("old"),
      JSON.stringify({ phone: "+12025550100", name: "Ana", city: "Paris" }),
      JSON.stringify({ phone: "+12025550101", name: "Bob" }),
      // Cells in the order of the stored columns.
      JSON.stringify(["Lima", "Cy", "+12025550102"]),
    );
    await redis().zadd(keys.campaigns, Date.parse(CREATED_AT), "old");

    assert.deepEqual((await store.list(0, 10)).items, [
      { campaignId: "old", name: "Old", total: 3, columns: ["city", "name", "phone"], createdAt: CREATED_AT },
    ]);
    assert.deepEqual(await store.recipients("old", 0, 10), [
      { phone: "+12025550100", name: "Ana", city: "Paris" },
      { phone: "+12025550101", name: "Bob" },
      { city: "Lima", name: "Cy", phone: "+12025550102" },
    ]);
    assert.deepEqual((await allBatches(store.rowBatches("old", 2))).flat(), [
      { source: "campaign", row: 1, values: { phone: "+12025550100", name: "Ana", city: "Paris" } },
      { source: "campaign", row: 2, values: { phone: "+12025550101", name: "Bob" } },
      { source: "campaign", row: 3, values: { city: "Lima", name: "Cy", phone: "+12025550102" } },
    ]);
  });
});

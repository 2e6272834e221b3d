// Campaigns, sessions, docs and health through app.inject, and the WebSocket's refusals over a
// real socket.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { SEND_WORK, subjects } from "../../../shared/nats/topology.ts";
import { appKeys } from "../../../shared/redis/keys.ts";
import {
  TEST_API_KEY,
  dataKeyCount,
  multipart,
  startGatewayWithServers,
  type GatewayUnderTest,
} from "../../harness/gatewayApp.ts";

/** Rows a file may have here: room for the large campaign, and a file past it to refuse. */
const MAX_ROWS = 40_000;
const keys = appKeys("wa:");

interface CreatedCampaign {
  campaignId: string;
  total: number;
  columns: string[];
  duplicates: number;
  rejected: { count: number; sample: Array<{ source: string; row: number; phone: string; reason: string }> };
}

interface BlastPreview {
  total: number;
  duplicates: number;
  rejected: { count: number };
  messages: Array<{ phone: string; text: string }>;
}

/** The number of the n-th person in these files: +1 212 2xx xxxx. */
const number = (n: number) => `+1212${200 + Math.floor(n / 10_000)}${String(n % 10_000).padStart(4, "0")}`;
/** The same number as a person types it: (212) 2xx-xxxx. */
const typed = (n: number) => `(212) ${200 + Math.floor(n / 10_000)}-${String(n % 10_000).padStart(4, "0")}`;

describe("campaigns, sessions, docs and health", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers({
      MAX_UPLOAD_BYTES: String(4 * 1024 * 1024),
      MAX_ROWS: String(MAX_ROWS),
    });
  });
  after(async () => {
    await gw?.close();
  });

  it("creates, previews page by page, lists and deletes a campaign", async () => {
    const recipients = Array.from({ length: 25 }, (_, i) => ({
      phone: `+1202555${String(i).padStart(4, "0")}`,
      Name: `N${i}`,
    }));
    recipients.push({ phone: "oops", Name: "bad" });
    const created = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      payload: { campaignId: "spring", name: "Spring", recipients },
    });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json<{ total: number; columns: string[]; rejected: { count: number } }>();
    assert.equal(body.total, 25);
    assert.deepEqual(body.columns, ["name", "phone"]);
    assert.equal(body.rejected.count, 1);

    const dup = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      payload: { campaignId: "spring", name: "x", recipients },
    });
    assert.equal(dup.statusCode, 409);

    const page2 = await gw.inject({
      url: "/api/campaigns/recipients?campaignId=spring&page=2&pageSize=10",
    });
    assert.equal(page2.statusCode, 200);
    const preview = page2.json<{ total: number; items: Array<Record<string, string>> }>();
    assert.equal(preview.total, 25);
    assert.deepEqual(preview.items[0], { phone: "+12025550010", name: "N10" });
    assert.equal(preview.items.length, 10);

    const list = await gw.inject({ url: "/api/campaigns" });
    assert.deepEqual(
      list.json<{ items: Array<{ campaignId: string }> }>().items.map((c) => c.campaignId),
      ["spring"],
    );
    assert.equal((await gw.inject({ url: "/api/campaigns/spring" })).json<{ name: string }>().name, "Spring");
    assert.equal((await gw.inject({ method: "DELETE", url: "/api/campaigns/spring" })).statusCode, 204);
    assert.equal((await gw.inject({ url: "/api/campaigns/spring" })).statusCode, 404);
    assert.equal((await gw.inject({ method: "DELETE", url: "/api/campaigns/spring" })).statusCode, 404);
    assert.equal((await gw.inject({ url: "/api/campaigns/recipients?campaignId=spring" })).statusCode, 404);
    assert.equal((await gw.inject({ url: "/api/campaigns/recipients?campaignId=a*b" })).statusCode, 400);
  });

  it("saves a 30,000-row CSV as a campaign, pages it back, and plans a blast from it and a file", async () => {
    // Every tenth row repeats the row before it, typed another way; rows 500, 1500, ... have no number.
    const lines = ["Phone,Name,City"];
    const kept: Array<Record<string, string>> = [];
    for (let i = 0; i < 30_000; i++) {
      const city = i % 2 === 0 ? "Paris" : "Lima";
      if (i % 1000 === 500) lines.push(`n/a,P${i},${city}`);
      else if (i % 10 === 9) lines.push(`${typed(i - 1)},Again${i},${city}`);
      else {
        lines.push(`${number(i)},P${i},${city}`);
        kept.push({ phone: number(i), name: `P${i}`, city });
      }
    }
    const created = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      ...multipart(
        { campaignId: "big", name: "Big" },
        { field: "recipientsFile", filename: "big.csv", data: lines.join("\r\n") },
      ),
    });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json<CreatedCampaign>();
    assert.equal(body.total, 26_970);
    assert.equal(kept.length, 26_970);
    assert.equal(body.duplicates, 3000);
    assert.equal(body.rejected.count, 30);
    assert.deepEqual(
      body.rejected.sample.map((r) => [r.row, r.phone]),
      // Data rows start on line 2, under the header.
      Array.from({ length: 20 }, (_, k) => [k * 1000 + 502, "n/a"]),
    );
    assert.deepEqual(body.columns, ["city", "name", "phone"]);
    assert.deepEqual(
      (await gw.inject({ url: "/api/campaigns/big" })).json<{ total: number }>().total,
      26_970,
    );

    // Stored compactly: a row is its cells in the order of the columns stored once on the campaign.
    assert.deepEqual(await gw.redis.lrange(keys.campaignRecipients("big"), 0, 0), [
      '["+12122000000","P0","Paris"]',
    ]);
    assert.equal(await gw.redis.llen(keys.campaignRecipients("big")), 26_970);
    assert.deepEqual(await gw.redis.keys(`${keys.campaign("big")}:*`), [keys.campaignRecipients("big")]);

    for (const page of [1, 27, 54]) {
      const res = await gw.inject({
        url: `/api/campaigns/recipients?campaignId=big&page=${page}&pageSize=500`,
      });
      assert.equal(res.statusCode, 200);
      const items = res.json<{ items: Array<Record<string, string>> }>().items;
      assert.deepEqual(items, kept.slice((page - 1) * 500, page * 500), `page ${page}`);
    }

    // 500 people already in the campaign (typed differently: rows 2, 22, 42, ...) and 500 new ones.
    const more = ["phone,name,city"];
    for (let i = 0; i < 1000; i++) {
      more.push(
        i < 500
          ? `${typed(i * 20 + 2)},Other${i},Rome`
          : `+1 213 555 ${String(i).padStart(4, "0")},New${i},Rome`,
      );
    }
    const preview = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      ...multipart(
        { sessionId: "s1", message: "Hi {name} from {city}", campaignId: "big" },
        { field: "recipientsFile", filename: "more.csv", data: more.join("\n") },
      ),
    });
    assert.equal(preview.statusCode, 200, preview.body);
    const plan = preview.json<BlastPreview>();
    assert.equal(plan.total, 26_970 + 500);
    assert.equal(plan.duplicates, 500);
    assert.equal(plan.rejected.count, 0);
    assert.deepEqual(plan.messages[0], {
      idx: 0,
      phone: "+12122000000",
      name: "P0",
      text: "Hi P0 from Paris",
    });
  });

  it("leaves no campaign, rows or draft in Redis when a file is refused halfway", async () => {
    const before = await dataKeyCount(gw.redis);
    const longName = "x".repeat(1001);
    const halfway = ["phone,name"];
    for (let i = 0; i < 25_000; i++) halfway.push(`${number(i)},${i === 20_000 ? longName : `P${i}`}`);
    const tooMany = ["phone,name"];
    for (let i = 0; i <= MAX_ROWS; i++) tooMany.push(`${number(i)},P${i}`);
    for (const [campaignId, lines, message] of [
      ["halfway", halfway, /line 20002, column "name" is longer than 1000 characters/],
      ["toomany", tooMany, new RegExp(`more than ${MAX_ROWS} rows`)],
    ] as const) {
      const res = await gw.inject({
        method: "POST",
        url: "/api/campaigns",
        ...multipart(
          { campaignId, name: campaignId },
          { field: "recipientsFile", filename: `${campaignId}.csv`, data: lines.join("\n") },
        ),
      });
      assert.equal(res.statusCode, 413, res.body);
      assert.match(res.json<{ message: string }>().message, message);
      assert.equal((await gw.inject({ url: `/api/campaigns/${campaignId}` })).statusCode, 404);
      assert.deepEqual(await gw.redis.keys(`${keys.campaign(campaignId)}*`), [], "no hash, list or draft");
      assert.equal(await gw.redis.zscore(keys.campaigns, campaignId), null);
    }
    assert.equal(await dataKeyCount(gw.redis), before, "no Redis key written");
  });

  it("saves nothing for a list without one valid number, and says why", async () => {
    const before = await dataKeyCount(gw.redis);
    const res = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      payload: { campaignId: "empty", name: "Empty", recipients: [{ phone: "n/a" }, { phone: "" }] },
    });
    assert.equal(res.statusCode, 400, res.body);
    const details = res.json<{ details: { rejected: { count: number; sample: Array<{ row: number }> } } }>()
      .details;
    assert.equal(details.rejected.count, 2);
    assert.deepEqual(
      details.rejected.sample.map((r) => r.row),
      [1, 2],
    );
    assert.equal(await dataKeyCount(gw.redis), before);
  });

  it("gives a campaign the columns its saved rows have, so a blast's template is checked against them", async () => {
    const created = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      payload: {
        campaignId: "mixed",
        name: "Mixed",
        recipients: [
          { phone: "+12025550300", name: "Ana" },
          { phone: "not a phone", city: "Nowhere" },
          { phone: "+12025550301", tier: "gold" },
        ],
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json<CreatedCampaign>().columns, ["name", "phone", "tier"]);
    const items = (await gw.inject({ url: "/api/campaigns/recipients?campaignId=mixed" })).json<{
      items: Array<Record<string, string>>;
    }>().items;
    assert.deepEqual(items, [
      { phone: "+12025550300", name: "Ana", tier: "" },
      { phone: "+12025550301", name: "", tier: "gold" },
    ]);
    const preview = (message: string) =>
      gw.inject({
        method: "POST",
        url: "/api/blasts/preview",
        payload: { sessionId: "s1", message, campaignId: "mixed" },
      });
    const refused = await preview("Hi from {city}");
    assert.equal(refused.statusCode, 400);
    assert.match(refused.json<{ message: string }>().message, /\{city\}, which no recipient has/);
    const tiers = await preview("Your tier: {tier}");
    assert.equal(tiers.statusCode, 200, tiers.body);
    assert.deepEqual(
      tiers.json<BlastPreview>().messages.map((m) => m.text),
      ["Your tier: gold"],
    );
  });

  it("still reads and sends a campaign saved with a JSON object per row", async () => {
    await gw.redis.hset(keys.campaign("legacy"), {
      campaignId: "legacy",
      name: "Legacy",
      total: "2",
      columns: JSON.stringify(["city", "name", "phone"]),
      createdAt: "2025-01-01T00:00:00.000Z",
    });
    await gw.redis.rpush(
      keys.campaignRecipients("legacy"),
      JSON.stringify({ phone: "+12025550400", name: "Ana", city: "Paris" }),
      JSON.stringify({ phone: "+12025550401", name: "Bob", city: "Lima" }),
    );
    await gw.redis.zadd(keys.campaigns, Date.parse("2025-01-01T00:00:00.000Z"), "legacy");

    const campaign = await gw.inject({ url: "/api/campaigns/legacy" });
    assert.deepEqual(campaign.json<{ total: number; columns: string[] }>().columns, [
      "city",
      "name",
      "phone",
    ]);
    assert.deepEqual(
      (await gw.inject({ url: "/api/campaigns/recipients?campaignId=legacy&pageSize=1&page=2" })).json<{
        items: unknown[];
      }>().items,
      [{ phone: "+12025550401", name: "Bob", city: "Lima" }],
    );
    const request = {
      sessionId: "s1",
      message: "Hi {name} in {city}",
      campaignId: "legacy",
      recipients: [
        { phone: "202-555-0401", name: "Bobby", city: "Quito" },
        { phone: "+12025550402", name: "Cy", city: "Oslo" },
      ],
    };
    const preview = await gw.inject({ method: "POST", url: "/api/blasts/preview", payload: request });
    assert.equal(preview.statusCode, 200, preview.body);
    assert.deepEqual(
      preview.json<BlastPreview>().messages.map((m) => m.text),
      ["Hi Ana in Paris", "Hi Bob in Lima", "Hi Cy in Oslo"],
    );
    const blast = await gw.inject({ method: "POST", url: "/api/blasts", payload: request });
    assert.equal(blast.statusCode, 202, blast.body);
    const { blastId, total, duplicates } = blast.json<{
      blastId: string;
      total: number;
      duplicates: number;
    }>();
    assert.deepEqual([total, duplicates], [3, 1]);
    const subject = subjects.sendWork(blastId);
    const info = await gw.nats.jsm.streams.info(SEND_WORK, { subjects_filter: subject });
    assert.equal(info.state.subjects?.[subject], 3, "three messages queued");
  });

  it("refuses prototype-polluting keys in JSON recipients", async () => {
    const payload = `{"name":"p","recipients":[{"phone":"+12025550100","__proto__":{"polluted":"yes"},"constructor":"x"}]}`;
    const res = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      payload,
      headers: { "content-type": "application/json" },
    });
    assert.ok(res.statusCode === 201 || res.statusCode === 400, res.body);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    if (res.statusCode === 201) assert.deepEqual(res.json<{ columns: string[] }>().columns, ["phone"]);
  });

  it("adds sessions, refuses duplicates and bad ids, and says when no sender runs one", async () => {
    assert.equal(
      (await gw.inject({ method: "POST", url: "/api/sessions", payload: { sessionId: "support" } }))
        .statusCode,
      201,
    );
    assert.equal(
      (await gw.inject({ method: "POST", url: "/api/sessions", payload: { sessionId: "support" } }))
        .statusCode,
      409,
    );
    assert.equal(
      (await gw.inject({ method: "POST", url: "/api/sessions", payload: { sessionId: "a b" } })).statusCode,
      400,
    );
    const list = await gw.inject({ url: "/api/sessions" });
    assert.deepEqual(
      list.json<Array<{ sessionId: string; status: string }>>().map((s) => [s.sessionId, s.status]),
      [
        ["s1", "idle"],
        ["support", "idle"],
      ],
    );
    const connect = await gw.inject({ method: "POST", url: "/api/sessions/support/connect" });
    assert.equal(connect.statusCode, 503);
    assert.match(connect.json<{ message: string }>().message, /no sender is running session support/);
    assert.equal((await gw.inject({ method: "POST", url: "/api/sessions/ghost/connect" })).statusCode, 404);
  });

  it("documents every API route in OpenAPI and reports readiness", async () => {
    const doc = (await gw.inject({ url: "/api/docs/json" })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const route of [
      "POST /api/blasts",
      "GET /api/blasts",
      "GET /api/blasts/{blastId}",
      "GET /api/blasts/{blastId}/failures",
      "POST /api/blasts/{blastId}/pause",
      "POST /api/blasts/{blastId}/resume",
      "POST /api/blasts/{blastId}/cancel",
      "POST /api/campaigns",
      "GET /api/campaigns",
      "GET /api/campaigns/{campaignId}",
      "DELETE /api/campaigns/{campaignId}",
      "GET /api/campaigns/recipients",
      "GET /api/sessions",
      "POST /api/sessions",
      "POST /api/sessions/{sessionId}/connect",
      "POST /api/sessions/{sessionId}/logout",
    ]) {
      assert.ok(documented.includes(route), `${route} documented`);
    }
    assert.equal((await gw.inject({ url: "/api/docs" })).statusCode < 400, true);
    assert.deepEqual((await gw.inject({ url: "/readyz" })).json(), {
      ok: true,
      nats: true,
      redis: true,
      streams: true,
    });
    const missing = await gw.inject({ url: "/api/nothing" });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: string }>().error, "Not Found");
  });

  it("closes WebSockets that name no valid blast or session, with the reason", async () => {
    const address = await gw.app.listen({ port: 0, host: "127.0.0.1" });
    const first = (query: string) =>
      new Promise<{ message: string; code: number }>((resolve, reject) => {
        const socket = new WebSocket(`${address.replace("http", "ws")}/${query}`, {
          headers: { authorization: `Bearer ${TEST_API_KEY}` },
        });
        let message = "";
        socket.on("message", (m) => (message = String(m)));
        socket.on("close", (code) => resolve({ message, code }));
        socket.on("error", reject);
      });
    for (const [query, text] of [
      ["?blastId=a.b", "invalid blastId"],
      ["?blastId=missing", "blast missing not found"],
      ["?sessionId=*", "invalid sessionId"],
      ["", "connect with ?blastId"],
    ] as const) {
      const { message, code } = await first(query);
      assert.equal(code, 1008);
      assert.match(JSON.parse(message).message as string, new RegExp(text.replace(/[?.*]/g, "\\$&")));
    }
  });
});

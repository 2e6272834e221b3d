// Campaigns, sessions, docs and health through app.inject, and the WebSocket's refusals over a
// real socket.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { TEST_API_KEY, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

describe("campaigns, sessions, docs and health", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
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

// Request budgets per API key, counted in Redis: a client over its budget gets a JSON 429 with
// Retry-After, other keys are unaffected, and a second gateway on the same Redis sees the same
// budget.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { multipart, startGatewayApp, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { startServers, type Servers } from "../../harness/servers.ts";

const KEY_A = "rate-key-a-0123456789abcdef";
const KEY_B = "rate-key-b-0123456789abcdef";
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("rate limits", () => {
  let servers: Servers;
  let gw: GatewayUnderTest;
  let second: GatewayUnderTest;
  const env = {
    API_KEYS: `${KEY_A},${KEY_B}`,
    RATE_LIMIT_PER_MINUTE: "5",
    RATE_LIMIT_UPLOADS_PER_MINUTE: "2",
  };

  before(async () => {
    servers = await startServers();
    gw = await startGatewayApp(servers, env);
    second = await startGatewayApp(servers, env);
  });
  after(async () => {
    await gw?.close();
    await second?.close();
    await servers?.dispose();
  });

  it("answers a burst over the budget with a JSON 429 and Retry-After, per key, shared through Redis", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await gw.app.inject({ url: "/api/sessions", headers: bearer(KEY_A) })).statusCode);
    }
    // The second gateway draws on the same budget: one left, then refused.
    statuses.push((await second.app.inject({ url: "/api/sessions", headers: bearer(KEY_A) })).statusCode);
    const refused = await second.app.inject({ url: "/api/blasts", headers: bearer(KEY_A) });
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.equal(refused.statusCode, 429);
    assert.deepEqual(Object.keys(refused.json<object>()).sort(), ["error", "message", "statusCode"]);
    const body = refused.json<{ statusCode: number; error: string; message: string }>();
    assert.equal(body.statusCode, 429);
    assert.equal(body.error, "Too Many Requests");
    assert.match(body.message, /at most 5 a minute/);
    assert.ok(Number(refused.headers["retry-after"]) > 0, String(refused.headers["retry-after"]));
    assert.equal(refused.headers["x-ratelimit-remaining"], "0");

    assert.equal((await gw.app.inject({ url: "/api/sessions", headers: bearer(KEY_B) })).statusCode, 200);
    assert.equal((await gw.app.inject({ url: "/healthz" })).statusCode, 200, "health is exempt");
    assert.equal((await gw.app.inject({ url: "/readyz" })).statusCode, 200, "readiness is exempt");
  });

  it("counts clients without a valid key by address, whatever key they make up", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await gw.app.inject({
        url: "/api/sessions",
        headers: bearer(`made-up-key-${i}-0123456789`),
        remoteAddress: "203.0.113.7",
      });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    const other = await gw.app.inject({ url: "/api/sessions", remoteAddress: "203.0.113.8" });
    assert.equal(other.statusCode, 401, "another address has its own budget");
  });

  it("gives uploads a stricter budget of their own, and never stores a key in Redis", async () => {
    const preview = () => {
      const form = multipart(
        { sessionId: "s1", message: "hi" },
        { field: "recipientsFile", filename: "a.csv", data: "phone\n+12025550100\n" },
      );
      return second.app.inject({
        method: "POST",
        url: "/api/blasts/preview",
        headers: { ...bearer(KEY_B), ...form.headers },
        payload: form.payload,
      });
    };
    const statuses = [(await preview()).statusCode, (await preview()).statusCode];
    const third = await preview();
    assert.deepEqual(statuses, [200, 200]);
    assert.equal(third.statusCode, 429, third.body);
    assert.match(third.json<{ message: string }>().message, /too many uploads: at most 2 a minute/);

    const keys = await gw.redis.keys("*");
    assert.ok(
      keys.some((k) => k.startsWith("wa:rate:")),
      keys.join(" "),
    );
    for (const key of keys) {
      assert.ok(!key.includes(KEY_A) && !key.includes(KEY_B), key);
      const value = (await gw.redis.type(key)) === "string" ? await gw.redis.get(key) : "";
      assert.ok(!String(value).includes(KEY_A), key);
    }
  });
});

// Every route but health and sign-in needs a valid API key; the console signs in with a cookie
// that also opens WebSockets.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { TEST_API_KEY, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

describe("access control", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  it("refuses every documented route without a key or with a wrong one, with a clear 401", async () => {
    const doc = (await gw.inject("/api/docs/json")).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const routes = Object.entries(doc.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => [m.toUpperCase(), path] as const))
      .filter(([, path]) => !["/healthz", "/readyz", "/auth/sign-in", "/auth/sign-out"].includes(path));
    assert.ok(routes.length >= 18, `${routes.length} routes`);
    for (const [method, path] of routes) {
      const url = path.replace(/\{[^}]+\}/g, "x1");
      for (const headers of [{}, { authorization: "Bearer wrong-key-0123456789" }, { "x-api-key": "nope" }]) {
        const res = await gw.app.inject({ method: method as "GET", url, headers });
        assert.equal(res.statusCode, 401, `${method} ${url} with ${JSON.stringify(headers)}`);
        assert.equal(res.json<{ error: string }>().error, "Unauthorized");
      }
    }
    for (const url of ["/api/docs", "/api/docs/json", "/"]) {
      assert.equal((await gw.app.inject({ url })).statusCode, 401, url);
    }
  });

  it("accepts the key as a bearer token or X-API-Key, and keeps health public", async () => {
    assert.equal(
      (await gw.app.inject({ url: "/api/sessions", headers: { "x-api-key": TEST_API_KEY } })).statusCode,
      200,
    );
    assert.equal((await gw.inject("/api/sessions")).statusCode, 200);
    assert.equal((await gw.app.inject({ url: "/healthz" })).statusCode, 200);
    assert.equal((await gw.app.inject({ url: "/readyz" })).statusCode, 200);
  });

  it("signs the console in with a cookie that opens pages and WebSockets, and signs it out", async () => {
    const bad = await gw.app.inject({ method: "POST", url: "/auth/sign-in", payload: { apiKey: "guess" } });
    assert.equal(bad.statusCode, 401);
    const signIn = await gw.app.inject({
      method: "POST",
      url: "/auth/sign-in",
      payload: { apiKey: TEST_API_KEY },
    });
    assert.equal(signIn.statusCode, 204);
    const setCookie = String(signIn.headers["set-cookie"]);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = setCookie.split(";")[0] ?? "";
    assert.equal((await gw.app.inject({ url: "/api/blasts", headers: { cookie } })).statusCode, 200);

    const address = await gw.app.listen({ port: 0, host: "127.0.0.1" });
    const wsUrl = `${address.replace("http", "ws")}/?sessionId=s1`;
    const first = await new Promise<string>((resolve, reject) => {
      const socket = new WebSocket(wsUrl, { headers: { cookie } });
      socket.once("message", (m) => {
        socket.close();
        resolve(String(m));
      });
      socket.once("error", reject);
    });
    assert.equal(JSON.parse(first).type, "session_status");
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(wsUrl);
      // Listening for the refusal makes the response ours to end, or the server keeps waiting on it.
      socket.once("unexpected-response", (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      socket.once("open", () => resolve(101));
    });
    assert.equal(refused, 401);

    const signOut = await gw.app.inject({ method: "POST", url: "/auth/sign-out", headers: { cookie } });
    assert.match(String(signOut.headers["set-cookie"]), /Max-Age=0/);
  });

  it("sends a browser without a key to the sign-in page", async () => {
    const res = await gw.app.inject({ url: "/api/docs", headers: { accept: "text/html" } });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, "/signin?next=%2Fapi%2Fdocs");
  });
});

// Whatever the gateway logs, at any level, never holds an API key: not from a sign-in body, not
// from a bearer header, an X-API-Key header or the console's cookie.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../shared/log/logger.ts";
import { TEST_API_KEY, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

describe("log redaction", () => {
  let gw: GatewayUnderTest;
  const lines: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    gw = await startGatewayWithServers({}, {}, createLogger("gateway", "trace", sink));
  });
  after(async () => {
    await gw?.close();
  });

  it("logs requests without the key of a sign-in, a bearer header, X-API-Key or the cookie", async () => {
    const signIn = await gw.app.inject({
      method: "POST",
      url: "/auth/sign-in",
      payload: { apiKey: TEST_API_KEY },
    });
    assert.equal(signIn.statusCode, 204);
    const cookie = String(signIn.headers["set-cookie"]).split(";")[0] ?? "";
    assert.equal((await gw.inject("/api/sessions")).statusCode, 200);
    assert.equal(
      (await gw.app.inject({ url: "/api/blasts", headers: { "x-api-key": TEST_API_KEY } })).statusCode,
      200,
    );
    assert.equal((await gw.app.inject({ url: "/api/blasts", headers: { cookie } })).statusCode, 200);
    const wrong = await gw.app.inject({
      method: "POST",
      url: "/auth/sign-in",
      payload: { apiKey: `${TEST_API_KEY}-typo` },
    });
    assert.equal(wrong.statusCode, 401);
    // The app logs each request; a test that sees no lines would prove nothing.
    assert.ok(
      lines.some((line) => line.includes("/api/sessions")),
      "requests are logged",
    );
    assert.ok(
      lines.some((line) => line.includes("/auth/sign-in")),
      "sign-ins are logged",
    );
    for (const line of lines) assert.ok(!line.includes(TEST_API_KEY), line);
  });

  it("censors secrets that code puts in a log line by mistake", () => {
    const captured: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        captured.push(chunk.toString());
        done();
      },
    });
    const log = createLogger("gateway", "info", sink);
    log.info({
      req: {
        headers: {
          authorization: `Bearer ${TEST_API_KEY}`,
          "x-api-key": TEST_API_KEY,
          cookie: `k=${TEST_API_KEY}`,
        },
        body: { apiKey: TEST_API_KEY, password: TEST_API_KEY, token: TEST_API_KEY },
      },
      res: { headers: { "set-cookie": `k=${TEST_API_KEY}` } },
      session: { apiKey: TEST_API_KEY, token: TEST_API_KEY },
    });
    assert.equal(captured.length, 1);
    assert.ok(!captured[0]?.includes(TEST_API_KEY), captured[0]);
    assert.match(captured[0] ?? "", /\[redacted\]/);
  });
});

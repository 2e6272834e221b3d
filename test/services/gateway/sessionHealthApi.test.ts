// Account health through the API (app.inject on real NATS and Redis): the proxy is set when adding
// a session or later, validated with a reason and stored only when valid, and shown masked in
// every answer while no log line ever holds its password; the warm-up is set with the session's
// pacing, shown with the session (day, today's cap, sent today) and can start over; the month's
// messages to people who have not replied are shown against the deployment's or the session's budget.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { SendPacer } from "../../../services/sender/sendPacer.ts";
import { createLogger } from "../../../shared/log/logger.ts";
import { IdempotencyRecords } from "../../../shared/redis/idempotency.ts";
import { SessionRegistry } from "../../../shared/redis/sessions.ts";
import { dataKeyCount, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

const SECRET = "Pr0xy-pw-4d1e";
const PROXY = `socks5://blaster:${SECRET}@203.0.113.7:1080`;
const MASKED = "socks5://blaster:***@203.0.113.7:1080";
const HOUR = 3600_000;

interface SessionView {
  sessionId: string;
  status: string;
  proxy?: string;
  warmup?: {
    day: number;
    todayCap: number;
    sentToday: number;
    complete: boolean;
    startedAt?: string;
    nextDayAt?: string;
  };
  unreplied: { month: string; sent: number; budget: number; ownBudget?: number; reached: boolean };
}

describe("session proxy and warm-up API", () => {
  let gw: GatewayUnderTest;
  let registry: SessionRegistry;
  const lines: string[] = [];
  const bodies: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    // A deployment-wide ramp of 10 on day 1, so a session with no settings of its own shows one.
    gw = await startGatewayWithServers(
      { WARMUP_FIRST_DAY: "10", SEND_PER_DAY: "1000", UNREPLIED_BUDGET_PER_MONTH: "500" },
      {},
      createLogger("gateway", "trace", sink),
    );
    registry = new SessionRegistry(gw.redis, "wa:");
  });
  after(async () => {
    await gw?.close();
    // Whatever the tests did, the password reached neither an answer nor a log line.
    assert.ok(bodies.length > 0 && lines.length > 0);
    for (const body of bodies) assert.ok(!body.includes(SECRET), `an answer holds the password: ${body}`);
    for (const line of lines) assert.ok(!line.includes(SECRET), `a log line holds the password: ${line}`);
  });

  /** app.inject, keeping every answer's body for the final check. */
  async function call(method: "GET" | "POST" | "PUT" | "DELETE", url: string, payload?: object) {
    const res = await gw.inject({ method, url, ...(payload ? { payload } : {}) });
    bodies.push(res.body);
    return res;
  }

  it("adds a session with a proxy and shows it masked in every answer", async () => {
    const created = await call("POST", "/api/sessions", { sessionId: "proxied", proxy: PROXY });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json<SessionView>().proxy, MASKED);
    assert.equal((await call("GET", "/api/sessions/proxied")).json<SessionView>().proxy, MASKED);
    const listed = (await call("GET", "/api/sessions")).json<SessionView[]>();
    assert.equal(listed.find((s) => s.sessionId === "proxied")?.proxy, MASKED);
    assert.equal(await registry.proxy("proxied"), PROXY, "the sender reads the real URL");
    assert.equal((await call("GET", "/api/sessions/ghost")).statusCode, 404);
  });

  it("refuses a bad proxy with the reason, storing nothing", async () => {
    const before = await dataKeyCount(gw.redis);
    const refused: Array<[string, RegExp]> = [
      [`ftp://blaster:${SECRET}@203.0.113.7:21`, /^invalid proxy: scheme "ftp" is not supported/],
      [`blaster:${SECRET}@203.0.113.7`, /^invalid proxy: scheme "blaster" is not supported/],
      [`socks5://blaster:${SECRET}@203.0.113.7:70000`, /^invalid proxy: not a valid URL/],
      [`http://blaster:${SECRET}@203.0.113.7:8080/x`, /^invalid proxy: .*no path/],
    ];
    for (const [proxy, reason] of refused) {
      const res = await call("POST", "/api/sessions", { sessionId: "refused", proxy });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json<{ message: string }>().message, reason);
    }
    assert.equal((await call("POST", "/api/sessions", { sessionId: "refused", proxy: "" })).statusCode, 400);
    assert.equal((await call("GET", "/api/sessions/refused")).statusCode, 404, "no session was added");
    assert.equal(await dataKeyCount(gw.redis), before, "nothing was stored");
  });

  it("sets, keeps on a bad update, and removes a session's proxy", async () => {
    assert.equal((await call("POST", "/api/sessions", { sessionId: "later" })).statusCode, 201);
    assert.equal((await call("GET", "/api/sessions/later")).json<SessionView>().proxy, undefined);
    const set = await call("PUT", "/api/sessions/later/proxy", { proxy: PROXY });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(set.json<SessionView>().proxy, MASKED);
    const bad = await call("PUT", "/api/sessions/later/proxy", { proxy: `gopher://x:${SECRET}@h:70` });
    assert.equal(bad.statusCode, 400);
    assert.equal(await registry.proxy("later"), PROXY, "a refused update leaves the proxy as it was");
    assert.equal((await call("PUT", "/api/sessions/ghost/proxy", { proxy: PROXY })).statusCode, 404);
    assert.equal((await call("DELETE", "/api/sessions/later/proxy")).statusCode, 204);
    assert.equal(await registry.proxy("later"), undefined);
    assert.equal((await call("GET", "/api/sessions/later")).json<SessionView>().proxy, undefined);
  });

  it("shows the warm-up with the session, from the deployment's or the session's own settings", async () => {
    assert.equal((await call("POST", "/api/sessions", { sessionId: "fresh" })).statusCode, 201);
    // The deployment's ramp, before any send: day 1, not started.
    assert.deepEqual((await call("GET", "/api/sessions/fresh")).json<SessionView>().warmup, {
      day: 1,
      todayCap: 10,
      sentToday: 0,
      complete: false,
    });
    const pacing = await call("PUT", "/api/sessions/fresh/pacing", {
      perDay: 100,
      warmup: { firstDay: 20, growth: 2 },
    });
    assert.equal(pacing.statusCode, 200, pacing.body);
    assert.deepEqual((await call("GET", "/api/sessions/fresh/pacing")).json(), {
      perDay: 100,
      warmup: { firstDay: 20, growth: 2 },
    });
    // First sent 30 hours ago (by a sender, through the pacer), and 5 times in the last hour.
    const startedAt = Date.now() - 30 * HOUR;
    await new SendPacer(gw.redis, "wa:", () => startedAt).recordSend("fresh");
    await new SendPacer(gw.redis, "wa:", () => Date.now() - HOUR).recordSends("fresh", 5);
    const day2 = (await call("GET", "/api/sessions/fresh")).json<SessionView>().warmup;
    assert.deepEqual(day2, {
      day: 2,
      todayCap: 40,
      sentToday: 5,
      complete: false,
      startedAt: new Date(startedAt).toISOString(),
      nextDayAt: new Date(startedAt + 48 * HOUR).toISOString(),
    });
    const listed = (await call("GET", "/api/sessions")).json<SessionView[]>();
    assert.deepEqual(listed.find((s) => s.sessionId === "fresh")?.warmup, day2);

    // Restarting: day 1 again from the next send, the last day's sends still counted.
    const restarted = await call("POST", "/api/sessions/fresh/warmup/restart");
    assert.equal(restarted.statusCode, 200, restarted.body);
    assert.deepEqual(restarted.json<SessionView>().warmup, {
      day: 1,
      todayCap: 20,
      sentToday: 5,
      complete: false,
    });
    assert.equal((await call("POST", "/api/sessions/ghost/warmup/restart")).statusCode, 404);

    // An established account turns the deployment's ramp off for itself.
    assert.equal((await call("PUT", "/api/sessions/fresh/pacing", { warmup: null })).statusCode, 200);
    assert.equal((await call("GET", "/api/sessions/fresh")).json<SessionView>().warmup, undefined);
  });

  it("refuses a warm-up that is no ramp", async () => {
    for (const warmup of [
      { firstDay: 0, growth: 2 },
      { firstDay: 20, growth: 0.5 },
      { firstDay: 20, growth: 11 },
      { firstDay: 20 },
      { firstDay: 20, growth: 2, extra: true },
    ]) {
      const res = await call("PUT", "/api/sessions/fresh/pacing", { warmup });
      assert.equal(res.statusCode, 400, JSON.stringify(warmup));
    }
    assert.deepEqual((await call("GET", "/api/sessions/fresh/pacing")).json(), { warmup: null });
  });

  it("shows the month's messages to people who have not replied against the deployment's or the session's budget", async () => {
    assert.equal((await call("POST", "/api/sessions", { sessionId: "budgeted" })).statusCode, 201);
    const month = new Date().toISOString().slice(0, 7);
    const unreplied = async () => (await call("GET", "/api/sessions/budgeted")).json<SessionView>().unreplied;
    assert.deepEqual(await unreplied(), { month, sent: 0, budget: 500, reached: false });
    // Three people who never wrote to the account, claimed by its sender.
    const claims = await new IdempotencyRecords(gw.redis, "wa:").claimAll(
      "b-budget",
      [0, 1, 2].map((idx) => ({ idx, phone: `+1202555030${idx}`, messageId: `m-budget-${idx}` })),
      "sender-a",
      Date.now(),
      { unreplied: { sessionId: "budgeted", budget: 500 } },
    );
    assert.equal(claims.filter((c) => c.kind === "claimed").length, 3);

    const set = await call("PUT", "/api/sessions/budgeted/unreplied-budget", { perMonth: 3 });
    assert.equal(set.statusCode, 200, set.body);
    assert.deepEqual(set.json<SessionView>().unreplied, {
      month,
      sent: 3,
      budget: 3,
      ownBudget: 3,
      reached: true,
    });
    const listed = (await call("GET", "/api/sessions")).json<SessionView[]>();
    assert.equal(listed.find((s) => s.sessionId === "budgeted")?.unreplied.reached, true);
    const off = await call("PUT", "/api/sessions/budgeted/unreplied-budget", { perMonth: 0 });
    assert.deepEqual(off.json<SessionView>().unreplied, {
      month,
      sent: 3,
      budget: 0,
      ownBudget: 0,
      reached: false,
    });
    assert.deepEqual(await registry.sendingSettings("budgeted"), { pacing: {}, unrepliedBudgetPerMonth: 0 });
    const fallback = await call("DELETE", "/api/sessions/budgeted/unreplied-budget");
    assert.deepEqual(fallback.json<SessionView>().unreplied, { month, sent: 3, budget: 500, reached: false });

    for (const payload of [
      { perMonth: -1 },
      { perMonth: 1.5 },
      { perMonth: "ten" },
      { perMonth: 1, extra: 1 },
      {},
    ]) {
      const res = await call("PUT", "/api/sessions/budgeted/unreplied-budget", payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
    assert.equal(
      (await call("PUT", "/api/sessions/ghost/unreplied-budget", { perMonth: 1 })).statusCode,
      404,
    );
    assert.deepEqual(
      await registry.sendingSettings("budgeted"),
      { pacing: {} },
      "a refused update changes nothing",
    );
  });
});

// /metrics is valid Prometheus text, needs the API key like every route, and its figures follow
// what happens: requests, WebSocket clients, queued work, session states, recipients by outcome
// (replies too) and each account's messages this month to people who have not replied.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { IdempotencyRecords } from "../../../shared/redis/idempotency.ts";
import { TEST_API_KEY, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { eventually } from "../../harness/platform.ts";
import { parsePrometheus, type Sample } from "../../harness/prometheusText.ts";

describe("metrics", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  const scrape = async () => {
    const res = await gw.app.inject({
      url: "/metrics",
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(res.body);
  };
  const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      ?.value;

  it("parses as Prometheus text, with process, HTTP, session and queue figures", async () => {
    assert.equal((await gw.app.inject({ url: "/metrics" })).statusCode, 401);
    await gw.inject("/api/sessions");
    const { types, samples } = await scrape();
    assert.equal(types.get("process_cpu_user_seconds_total"), "counter");
    assert.ok(types.has("nodejs_heap_size_used_bytes"));
    assert.equal(types.get("wa_blast_http_request_duration_seconds"), "histogram");
    assert.equal(
      value(samples, "wa_blast_http_request_duration_seconds_count", {
        method: "GET",
        route: "/api/sessions",
        status_code: "200",
      }),
      1,
    );
    assert.equal(value(samples, "wa_blast_sessions", { status: "idle" }), 1);
    assert.equal(value(samples, "wa_blast_sessions", { status: "open" }), 0);
    assert.equal(value(samples, "wa_blast_queue_lag_messages", { session_id: "s1" }), 0);
    assert.equal(value(samples, "wa_blast_websocket_clients"), 0);
    assert.equal(types.get("wa_blast_unreplied_messages"), "gauge");
    assert.equal(value(samples, "wa_blast_unreplied_messages", { session_id: "s1" }), 0);
  });

  it("shows each account's messages this month to people who have not replied", async () => {
    const claimAt = Date.now();
    await new IdempotencyRecords(gw.redis, "wa:").claimAll(
      "b-unreplied",
      [0, 1].map((idx) => ({ idx, phone: `+1202555040${idx}`, messageId: `m-unreplied-${idx}` })),
      "sender-a",
      claimAt,
      { unreplied: { sessionId: "s1", budget: 0 } },
    );
    assert.equal(value((await scrape()).samples, "wa_blast_unreplied_messages", { session_id: "s1" }), 2);
  });

  it("counts WebSocket clients while they are connected", async () => {
    const address = await gw.app.listen({ port: 0, host: "127.0.0.1" });
    const socket = new WebSocket(`${address.replace("http", "ws")}/?sessionId=s1`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    await new Promise((resolve) => socket.once("message", resolve));
    assert.equal(value((await scrape()).samples, "wa_blast_websocket_clients"), 1);
    socket.close();
    await eventually(async () =>
      value((await scrape()).samples, "wa_blast_websocket_clients") === 0 ? true : undefined,
    );
  });

  it("moves queue lag and recipients by outcome as a blast runs", async () => {
    const phones = ["+12025550100", "+12025550101", "+12025550102"];
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", message: "Hi", recipients: phones.map((phone) => ({ phone })) },
    });
    const { blastId } = res.json<{ blastId: string }>();
    let { samples } = await scrape();
    assert.equal(value(samples, "wa_blast_queue_lag_messages", { session_id: "s1" }), 3);
    assert.equal(value(samples, "wa_blast_recipients_total", { session_id: "s1", outcome: "sent" }), 0);

    const at = new Date().toISOString();
    // What the sender appends as it works through the blast.
    const outcomes: BlastEvent[] = [
      { type: "recipient.sent", data: { blastId, idx: 0, phone: phones[0]!, messageId: "m0", at } },
      { type: "recipient.sent", data: { blastId, idx: 1, phone: phones[1]!, messageId: "m1", at } },
      {
        type: "recipient.failed",
        data: { blastId, idx: 2, phone: phones[2]!, reason: "not_on_whatsapp", at },
      },
      { type: "recipient.read", data: { blastId, idx: 0, phone: phones[0]!, at } },
      {
        type: "recipient.replied",
        data: { blastId, idx: 0, phone: phones[0]!, sessionId: "s1", messageId: "in0", text: "yes", at },
      },
    ];
    await appendEvents(gw.nats.js, outcomes);
    await eventually(async () => ((await gw.projection.summary(blastId))?.replied === 1 ? true : undefined));
    ({ samples } = await scrape());
    assert.equal(value(samples, "wa_blast_recipients_total", { session_id: "s1", outcome: "sent" }), 2);
    assert.equal(value(samples, "wa_blast_recipients_total", { session_id: "s1", outcome: "failed" }), 1);
    assert.equal(value(samples, "wa_blast_recipients_total", { session_id: "s1", outcome: "read" }), 1);
    assert.equal(value(samples, "wa_blast_recipients_total", { session_id: "s1", outcome: "replied" }), 1);
    assert.equal(value(samples, "wa_blast_recipients_total", { session_id: "s1", outcome: "in_doubt" }), 0);
  });
});

// The sender's own /metrics: behind the API key, and its counters agree with the blast it sent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startPlatform, type Platform, untilBlastCompleted } from "../harness/platform.ts";
import { parsePrometheus } from "../harness/prometheusText.ts";
import { freePort, startServers, type Servers } from "../harness/servers.ts";

describe("sender metrics", () => {
  let servers: Servers;
  let platform: Platform;
  let metricsUrl: string;

  before(async () => {
    servers = await startServers();
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    platform = await startPlatform(servers, { SIM_FAILURE_RATE: "0.3", SENDER_METRICS_PORT: String(port) });
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
  });

  after(async () => {
    await platform?.stop();
    await servers?.dispose();
  });

  it("refuses a scrape without a valid key", async () => {
    assert.equal((await fetch(metricsUrl)).status, 401);
    assert.equal(
      (await fetch(metricsUrl, { headers: { authorization: "Bearer wrong-key-0123456789" } })).status,
      401,
    );
    assert.equal(
      (await fetch(metricsUrl.replace("/metrics", "/"), { headers: platform.authHeaders })).status,
      404,
    );
  });

  it("counts every settled recipient by outcome, times each send, and reports its sessions", async () => {
    const recipients = Array.from({ length: 40 }, (_, i) => ({ phone: `+1202555${String(3000 + i)}` }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId: "s1", message: "metrics", recipients }),
    });
    const { blastId } = (await res.json()) as { blastId: string };
    const blast = await untilBlastCompleted(platform, blastId, 30_000);
    assert.ok(blast.failed > 0 && blast.sent > 0, JSON.stringify(blast));

    const scrape = await fetch(metricsUrl, { headers: platform.authHeaders });
    assert.equal(scrape.status, 200);
    const { types, samples } = parsePrometheus(await scrape.text());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    assert.equal(types.get("wa_blast_sends_total"), "counter");
    assert.equal(value("wa_blast_sends_total", { session_id: "s1", outcome: "sent" }), blast.sent);
    assert.equal(value("wa_blast_sends_total", { session_id: "s1", outcome: "failed" }), blast.failed);
    assert.equal(value("wa_blast_send_duration_seconds_count", { session_id: "s1" }), 40);
    assert.equal(value("wa_blast_sender_sessions", { status: "open" }), 1);
    assert.ok((value("process_resident_memory_bytes", {}) ?? 0) > 0);
  });
});

// A scheduled blast with the real services: created 20 s ahead, then every gateway, the projector
// and the sender are killed and started again, two gateways (two schedule timers) among them. It
// starts on time, once, and each recipient gets its message once, none before the time.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats } from "../../shared/nats/connection.ts";
import { eventsOf, outbox } from "../harness/inspect.ts";
import { startPlatform, untilBlastCompleted, type Platform } from "../harness/platform.ts";
import { freePort, startServers, type Servers } from "../harness/servers.ts";

const AHEAD_MS = 20_000;
const RECIPIENTS = 40;

describe("a scheduled blast through restarts", () => {
  let servers: Servers;
  let platform: Platform;

  before(async () => {
    servers = await startServers();
    platform = await startPlatform(servers);
  });
  after(async () => {
    await platform?.stop();
    await servers?.dispose();
  });

  it("starts on time, once, with two schedulers, after every service restarted", async () => {
    const secondPort = String(await freePort());
    const first = await platform.start("gateway");
    const second = await platform.start("gateway", { HTTP_PORT: secondPort });
    const projector = await platform.start("projector");
    const sender = await platform.start("sender");

    const sendAt = new Date(Math.ceil((Date.now() + AHEAD_MS) / 1000) * 1000);
    const recipients = Array.from({ length: RECIPIENTS }, (_, i) => ({
      phone: `+1202555${String(2000 + i)}`,
      name: `Guest ${i}`,
    }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        sessionId: "s1",
        message: "Monday sale, {name}",
        recipients,
        sendAt: sendAt.toISOString(),
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { blastId, status } = (await res.json()) as { blastId: string; status: string };
    assert.equal(status, "scheduled");

    for (const service of [first, second, projector, sender]) await platform.kill(service);
    assert.deepEqual(await outbox(platform.outboxPath), [], "nothing sent yet");
    await platform.start("gateway");
    await platform.start("gateway", { HTTP_PORT: secondPort });
    await platform.start("projector");
    await platform.start("sender");
    assert.ok(Date.now() < sendAt.getTime() - 2000, "everything restarted before the time");

    const done = await untilBlastCompleted(platform, blastId, 90_000);
    assert.equal(done.sent, RECIPIENTS);

    const nats = await connectNats(servers.nats.url, "scheduled-e2e");
    const events = await eventsOf(nats, blastId).finally(() => nats.nc.close());
    const starts = events.filter((e) => e.type === "blast.started");
    assert.equal(starts.length, 1, "started once");
    const late = Date.parse(starts[0]?.data.at ?? "") - sendAt.getTime();
    assert.ok(late >= 0 && late < 1000, `started ${late} ms after its time`);

    const sends = (await outbox(platform.outboxPath)).filter((line) => line.text.startsWith("Monday sale"));
    assert.equal(sends.length, RECIPIENTS, "each recipient once");
    assert.equal(new Set(sends.map((s) => s.to)).size, RECIPIENTS);
    assert.ok(
      sends.every((s) => Date.parse(s.at) >= sendAt.getTime()),
      "none before the time",
    );
  });
});

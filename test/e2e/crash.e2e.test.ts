// kill -9 the sender three times mid-blast and restart it: every recipient still ends with exactly
// one outcome, nobody is messaged twice, and a send cut off mid-flight is reported in doubt.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { eventsOf, outbox, outcomeByRecipient } from "../harness/inspect.ts";
import { eventually, startPlatform, type Platform, untilBlastCompleted } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";

const TOTAL = 400;

describe("sender crashes mid-blast", () => {
  let servers: Servers;
  let platform: Platform;
  let nats: Nats;

  before(async () => {
    servers = await startServers();
    // One recipient per batch: what an account paced one message at a time gets, whose bound is
    // one send in doubt per crash (batches are bounded by their size: test/e2e/senders.e2e.test.ts).
    platform = await startPlatform(servers, {
      SIM_LATENCY_MS: "15",
      SEND_ACK_WAIT_MS: "2000",
      // The restarted sender waits out the killed one's lease: keep that short.
      LEASE_TTL_MS: "3000",
      SEND_BATCH_MAX: "1",
    });
    await platform.start("gateway");
    await platform.start("projector");
    nats = await connectNats(servers.nats.url, "test");
  });

  after(async () => {
    await nats?.nc.close();
    await platform?.stop();
    await servers?.dispose();
  });

  it("sends to each recipient at most once and loses none across three SIGKILLs", async () => {
    const recipients = Array.from({ length: TOTAL }, (_, i) => ({
      phone: `+1202555${String(i).padStart(4, "0")}`,
    }));
    const res = await platform.api(`/api/blasts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId: "s1", message: "Flash sale", recipients }),
    });
    const { blastId } = (await res.json()) as { blastId: string };
    assert.equal(res.status, 202);

    let sender = await platform.start("sender");
    for (const threshold of [60, 160, 260]) {
      await eventually(
        async () => ((await outbox(platform.outboxPath)).length >= threshold ? true : undefined),
        60_000,
        `${threshold} sends`,
      );
      await platform.kill(sender, "SIGKILL");
      sender = await platform.start("sender");
    }

    const final = await untilBlastCompleted(platform, blastId, 90_000);
    assert.equal(final.sent + final.failed + final.inDoubt, TOTAL, "none lost");
    assert.equal(final.pending, 0);
    assert.ok(final.inDoubt <= 3, `at most one send in doubt per kill, got ${final.inDoubt}`);

    const lines = await outbox(platform.outboxPath);
    const messaged = lines.map((l) => l.to);
    assert.equal(new Set(messaged).size, messaged.length, "no recipient messaged twice");

    const events = await eventsOf(nats, blastId);
    // Throws when a recipient was logged with two different outcomes.
    const byIdx = outcomeByRecipient(events);
    assert.equal(byIdx.size, TOTAL);
    const outcomes = [...byIdx.values()];
    const sentPhones = new Set(outcomes.filter((o) => o.kind === "sent").map((o) => o.phone));
    const doubtful = new Set(outcomes.filter((o) => o.kind === "in_doubt").map((o) => o.phone));
    for (const phone of sentPhones)
      assert.ok(messaged.includes(phone), `${phone} reported sent is in the outbox`);
    for (const phone of messaged)
      assert.ok(sentPhones.has(phone) || doubtful.has(phone), `${phone} in the outbox is accounted for`);
  });
});

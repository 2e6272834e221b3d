// An opt-out honoured in the running platform: a number added to the suppression list after its
// blast was queued, but before its turn, is never sent (its recipient fails `opted_out`, and the
// sim's outbox never sees it); the next blast to the same list rejects it as `suppressed` in the
// preview and in the 202.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { outbox } from "../harness/inspect.ts";
import { startPlatform, untilBlastCompleted, type Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";

const RECIPIENTS = ["+12025550100", "+12025550101", "+12025550102", "+12025550103"];
const OPTS_OUT = "+12025550103";

interface Rejected {
  count: number;
  sample: Array<{ source: string; row: number; phone: string; reason: string }>;
}

describe("opt-outs in the running platform", () => {
  let servers: Servers;
  let platform: Platform;

  before(async () => {
    servers = await startServers();
    platform = await startPlatform(servers);
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
  });
  after(async () => {
    await platform?.stop();
    await servers?.dispose();
  });

  const post = (path: string, body: unknown) =>
    platform.api(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const blast = {
    sessionId: "s1",
    message: "Hi {name}",
    recipients: RECIPIENTS.map((phone, i) => ({ phone, name: `P${i}` })),
    // A message every 1.5 s: the last recipient is still queued long after the opt-out.
    pacing: { minDelayMs: 1500, maxDelayMs: 1500 },
  };

  it("never sends to a number that opted out after its blast was queued", async () => {
    const started = await post("/api/blasts", blast);
    assert.equal(started.status, 202, await started.clone().text());
    const { blastId, total } = (await started.json()) as { blastId: string; total: number };
    assert.equal(total, RECIPIENTS.length);

    const optOut = await post("/api/suppression", { phones: [OPTS_OUT], reason: "replied STOP by email" });
    assert.equal(optOut.status, 200, await optOut.clone().text());
    assert.equal(((await optOut.json()) as { added: number }).added, 1);
    const sentBefore = (await outbox(platform.outboxPath)).map((l) => l.to);
    assert.ok(!sentBefore.includes(OPTS_OUT), "still queued when it opted out");

    const final = await untilBlastCompleted(platform, blastId, 60_000);
    assert.deepEqual([final.sent, final.failed, final.inDoubt], [3, 1, 0]);
    const csv = await (await platform.api(`/api/blasts/${blastId}/results.csv`)).text();
    const [header, ...lines] = csv.split("\r\n").filter(Boolean);
    const columns = header?.split(",") ?? [];
    const results = lines.map((line) => {
      const cells = line.split(",");
      return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? ""]));
    });
    // Phones start with "+", which the CSV prefixes with a quote (a spreadsheet formula otherwise).
    const outcomeOf = new Map(results.map((r) => [r.phone?.replace(/^'/, ""), [r.outcome, r.reason]]));
    assert.deepEqual(outcomeOf.get(OPTS_OUT), ["failed", "opted_out"]);
    for (const phone of RECIPIENTS.filter((p) => p !== OPTS_OUT)) {
      assert.deepEqual(outcomeOf.get(phone), ["sent", ""], phone);
    }
    const sentTo = (await outbox(platform.outboxPath)).map((l) => l.to);
    assert.deepEqual(sentTo.sort(), RECIPIENTS.filter((p) => p !== OPTS_OUT).sort());
  });

  it("rejects the listed number as `suppressed` when the next blast is planned", async () => {
    const suppressed: Rejected = {
      count: 1,
      sample: [{ source: "body", row: 4, phone: OPTS_OUT, reason: "suppressed" }],
    };
    const preview = await post("/api/blasts/preview", blast);
    assert.equal(preview.status, 200, await preview.clone().text());
    const plan = (await preview.json()) as { total: number; rejected: Rejected };
    assert.equal(plan.total, RECIPIENTS.length - 1);
    assert.deepEqual(plan.rejected, suppressed);

    const started = await post("/api/blasts", { ...blast, pacing: { minDelayMs: 0, maxDelayMs: 0 } });
    assert.equal(started.status, 202, await started.clone().text());
    const result = (await started.json()) as { blastId: string; total: number; rejected: Rejected };
    assert.equal(result.total, RECIPIENTS.length - 1);
    assert.deepEqual(result.rejected, suppressed);
    await untilBlastCompleted(platform, result.blastId, 60_000);
    const sentTo = (await outbox(platform.outboxPath)).map((l) => l.to);
    assert.ok(!sentTo.includes(OPTS_OUT));
  });
});

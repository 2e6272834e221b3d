// A blast's own pacing holds in the running system: with a cap of three a minute, three messages
// go out and the rest wait, and the numbers WhatsApp does not know fail unsent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { outbox } from "../harness/inspect.ts";
import { eventually, startPlatform, type Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";

describe("pacing in the running sender", () => {
  let servers: Servers;
  let platform: Platform;

  before(async () => {
    servers = await startServers();
    platform = await startPlatform(servers, { SIM_NOT_ON_WHATSAPP: "+12025550199" });
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
  });
  after(async () => {
    await platform?.stop();
    await servers?.dispose();
  });

  it("stops at the per-minute cap and fails unknown numbers without sending", async () => {
    const recipients = [
      "+12025550199",
      "+12025550101",
      "+12025550102",
      "+12025550103",
      "+12025550104",
      "+12025550105",
    ];
    const res = await platform.api(`/api/blasts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        sessionId: "s1",
        message: "hello",
        recipients: recipients.map((phone) => ({ phone })),
        pacing: { perMinute: 3, checkNumbers: true },
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { blastId } = (await res.json()) as { blastId: string };
    const progress = await eventually(
      async () => {
        const blast = (await (await platform.api(`/api/blasts/${blastId}`)).json()) as {
          sent: number;
          failed: number;
        };
        return blast.sent + blast.failed === 3 ? blast : undefined;
      },
      20_000,
      "three attempts",
    );
    // Give a sender that ignored the cap ample time to send more.
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await (await platform.api(`/api/blasts/${blastId}`)).json()) as Record<string, unknown>;
    assert.equal(Number(after.sent) + Number(after.failed), 3, "nothing more within the minute");
    assert.equal(after.status, "running");
    assert.equal(progress.failed, 1);
    const failures = (await (await platform.api(`/api/blasts/${blastId}/failures`)).json()) as {
      items: Array<{ phone: string; reason: string }>;
    };
    assert.deepEqual(
      failures.items.map((f) => [f.phone, f.reason]),
      [["+12025550199", "not_on_whatsapp"]],
    );
    const sentTo = (await outbox(platform.outboxPath)).map((l) => l.to);
    assert.deepEqual(sentTo, ["+12025550101", "+12025550102"]);
  });

  it("stores a session's pacing and refuses impossible settings", async () => {
    const put = (body: unknown) =>
      platform.api(`/api/sessions/s1/pacing`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await put({ perHour: 100, window: { startHour: 9, endHour: 18, timeZone: "Asia/Jakarta" } });
    assert.equal(ok.status, 200);
    const stored = await (await platform.api(`/api/sessions/s1/pacing`)).json();
    assert.deepEqual(stored, {
      perHour: 100,
      window: { startHour: 9, endHour: 18, timeZone: "Asia/Jakarta" },
    });
    const bad = await put({ minDelayMs: 9000, maxDelayMs: 1000 });
    assert.equal(bad.status, 400);
    assert.match(
      ((await bad.json()) as { message: string }).message,
      /minDelayMs must not exceed maxDelayMs/,
    );
    assert.equal(
      (await put({ window: { startHour: 9, endHour: 18, timeZone: "Nowhere/City" } })).status,
      400,
    );
    assert.equal((await put({ perHour: -5 })).status, 400);
  });
});

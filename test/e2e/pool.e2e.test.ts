// One blast over a pool of three real Baileys accounts against the fake WhatsApp. Mid-blast
// WhatsApp restricts one account (463) and another is logged out from its phone: their share
// flows to the third without anyone acting, the blast completes, and every recipient gets the
// message exactly once, from one account. Resuming an account puts it back in rotation. WhatsApp's
// cap on messages to people who have not replied pauses an account the same way.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NewChatMessageCappingStatusType } from "@whiskeysockets/baileys";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { eventsOf, outcomeByRecipient } from "../harness/inspect.ts";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { parseCsv } from "../harness/csvText.ts";
import { eventually, startPlatform, type Platform, untilBlastCompleted } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession } from "../harness/sessionWatch.ts";

const POOL = ["s1", "s2", "s3"];
const accountOf = (sessionId: string) => `+1555000400${sessionId.slice(1)}`;
const digits = (phone: string) => phone.replace(/\D/g, "");
const TOTAL = 60;

interface PoolView {
  status: string;
  sent: number;
  failed: number;
  inDoubt: number;
  pending: number;
  sessionIds: string[];
  bySession: Record<string, { sent: number; failed: number; inDoubt: number; paused?: string }>;
}

describe("a blast over a pool of accounts", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let platform: Platform;
  let nats: Nats;

  before(async () => {
    servers = await startServers();
    wa = await startFakeWhatsApp({ receipts: { deliveredAfterMs: null, readAfterMs: null } });
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: POOL.join(","),
      SEND_CHECK_NUMBERS: "false",
      // Each account holds a little time between its messages, so the blast spans the incidents.
      SEND_MIN_DELAY_MS: "40",
      SEND_MAX_DELAY_MS: "80",
    });
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
    nats = await connectNats(servers.nats.url, "pool-test");
  });

  after(async () => {
    await nats?.nc.close();
    await platform?.stop();
    await wa?.close();
    await servers?.dispose();
  });

  const view = async (blastId: string) =>
    (await (await platform.api(`/api/blasts/${blastId}`)).json()) as PoolView;

  it("routes around a restricted and a logged-out account and sends everyone once", async () => {
    for (const sessionId of POOL) {
      const watch = await watchSession(platform, sessionId);
      try {
        const qr = await watch.next(isQr);
        await wa.scanQr(qr.qr, accountOf(sessionId));
        await watch.next(hasStatus("open"));
      } finally {
        watch.close();
      }
    }

    const recipients = Array.from({ length: TOTAL }, (_, i) => ({
      phone: `+1202555${String(i).padStart(4, "0")}`,
    }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionIds: POOL, message: "Our sale starts today", recipients }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { blastId } = (await res.json()) as { blastId: string };

    // Every account takes part before anything goes wrong.
    await eventually(
      async () => {
        const from = new Set(wa.sent().map((m) => m.from));
        return POOL.every((id) => from.has(digits(accountOf(id)))) ? true : undefined;
      },
      30_000,
      "a message from each account of the pool",
    );
    wa.failMessages({ from: accountOf("s1"), error: "463" });
    await eventually(
      async () => ((await view(blastId)).bySession.s1?.paused ? true : undefined),
      30_000,
      "s1 paused",
    );
    wa.disconnect(accountOf("s2"), "logout");
    await eventually(
      async () => ((await view(blastId)).bySession.s2?.paused ? true : undefined),
      30_000,
      "s2 paused",
    );

    const final = await untilBlastCompleted(platform, blastId, 120_000);
    const shown = await view(blastId);
    assert.match(shown.bySession.s1?.paused ?? "", /restricting this account.*463/);
    assert.match(shown.bySession.s2?.paused ?? "", /logged out/);
    assert.equal(shown.bySession.s3?.paused, undefined);
    assert.equal(final.sent + final.failed + final.inDoubt, TOTAL, "every recipient has an outcome");
    // A send cut by the logout itself (written, then the socket closed before WhatsApp's ack) is
    // in doubt: it may have reached the person. Nothing else is.
    assert.ok(final.inDoubt <= 1, `${final.inDoubt} in doubt`);
    const perAccount = POOL.reduce((n, id) => n + (shown.bySession[id]?.sent ?? 0), 0);
    assert.equal(perAccount, final.sent, "per-account figures add up to the blast's");

    // What WhatsApp took: each recipient once, from one account; the 463 refusal was sent again
    // by another account, not written off.
    const accepted = wa.sent().filter((m) => !m.error);
    const to = accepted.map((m) => m.to);
    assert.equal(new Set(to).size, to.length, "no recipient messaged twice");
    const byRecipient = outcomeByRecipient(await eventsOf(nats, blastId));
    assert.equal(byRecipient.size, TOTAL);
    // Nothing fails: a send s2 could no longer write is handed on like a refused one, and one the
    // logout cut after it was written is in doubt (on s2).
    assert.equal(final.failed, 0);
    const doubtful = [...byRecipient.values()].filter((o) => o.kind === "in_doubt");
    for (const d of doubtful) assert.equal(d.sessionId, "s2", JSON.stringify(d));
    const refusals = wa.sent().filter((m) => m.error === "463");
    assert.ok(refusals.length >= 1, "WhatsApp refused s1 at least once");
    for (const refused of refusals) {
      const cut = doubtful.some((d) => digits(d.phone) === refused.to);
      assert.ok(to.includes(refused.to) || cut, `${refused.to} was sent by another account`);
    }
    // WhatsApp took every message logged sent, and at most the one in doubt besides.
    const inDoubtTaken = accepted.filter((m) => doubtful.some((d) => digits(d.phone) === m.to)).length;
    assert.equal(accepted.length, final.sent + inDoubtTaken);

    for (const outcome of byRecipient.values()) {
      if (outcome.kind !== "sent") continue;
      const message = accepted.find((m) => m.to === digits(outcome.phone));
      assert.equal(
        message?.from,
        digits(accountOf(outcome.sessionId ?? "")),
        `${outcome.phone} logged with its account`,
      );
    }

    // The results CSV names the account of each row.
    // Parsed as CSV: an in-doubt row's reason holds a comma.
    const [header = [], ...rows] = parseCsv(
      await (await platform.api(`/api/blasts/${blastId}/results.csv`)).text(),
    );
    const column = header.indexOf("session_id");
    assert.ok(column > 0);
    const accounts = new Set(rows.map((row) => row[column]));
    assert.ok(accounts.has("s3") && [...accounts].every((a) => POOL.includes(a ?? "")), [...accounts].join());
  });

  it("pauses the blast, with every reason, only when no account of the pool can send, and resumes per account", async () => {
    const pool = ["s1", "s3"];
    // s1 is still restricted by WhatsApp from the first test; s3 gets restricted now.
    wa.failMessages({ from: accountOf("s3"), error: "463" });
    const recipients = Array.from({ length: 5 }, (_, i) => ({
      phone: `+1202556${String(i).padStart(4, "0")}`,
    }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionIds: pool, message: "Second wave", recipients }),
    });
    const { blastId } = (await res.json()) as { blastId: string };
    const paused = await eventually(
      async () => {
        const v = await view(blastId);
        return v.status === "paused" ? v : undefined;
      },
      30_000,
      "the blast paused by its pool",
    );
    assert.equal(paused.sent, 0);
    assert.equal(paused.pending, 5, "nothing written off: the refused sends wait for an account");

    // WhatsApp lifts s3's restriction; its owner resumes it and the blast runs again from it alone.
    wa.clearFailures();
    const resumed = await platform.api(`/api/blasts/${blastId}/resume?sessionId=s3`, { method: "POST" });
    assert.equal(resumed.status, 200, await resumed.clone().text());
    const final = await untilBlastCompleted(platform, blastId, 60_000);
    assert.equal(final.sent, 5);
    const shown = await view(blastId);
    assert.equal(shown.bySession.s3?.sent, 5);
    assert.ok(shown.bySession.s1?.paused, "s1 stays out until resumed");
  });

  it("treats WhatsApp's cap on messages to people who have not replied like a restriction", async () => {
    const recipients = Array.from({ length: 20 }, (_, i) => ({
      phone: `+1202557${String(i).padStart(4, "0")}`,
    }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        sessionIds: ["s3"],
        message: "Third wave",
        recipients,
        pacing: { minDelayMs: 300, maxDelayMs: 300 },
      }),
    });
    const { blastId } = (await res.json()) as { blastId: string };
    await eventually(async () => ((await view(blastId)).sent > 0 ? true : undefined), 30_000, "a first send");
    assert.equal(
      wa.notifyNewChatMessageCap(accountOf("s3"), {
        capping_status: NewChatMessageCappingStatusType.CAPPED,
        used_quota: 50,
        total_quota: 50,
      }),
      1,
    );
    const paused = await eventually(
      async () => {
        const v = await view(blastId);
        return v.status === "paused" ? v : undefined;
      },
      30_000,
      "the blast paused by its pool",
    );
    assert.match(
      paused.bySession.s3?.paused ?? "",
      /WhatsApp capped this account's messages to people who have not replied \(50 of 50 this cycle\)/,
    );
    assert.ok(paused.pending > 0, "the rest waits for an account");
    const session = (await (await platform.api("/api/sessions/s3")).json()) as {
      status: string;
      reason: string;
    };
    assert.equal(session.status, "restricted");
    assert.match(session.reason, /WhatsApp capped/);

    // WhatsApp lifts it: the session says so, and the blast waits for its owner to resume it.
    wa.notifyNewChatMessageCap(accountOf("s3"), { capping_status: NewChatMessageCappingStatusType.NONE });
    const lifted = await eventually(
      async () => {
        const s = (await (await platform.api("/api/sessions/s3")).json()) as {
          status: string;
          reason: string;
        };
        return s.status === "open" ? s : undefined;
      },
      30_000,
      "the session open again",
    );
    assert.match(lifted.reason, /lifted its cap.*resume the account/);
    assert.equal((await view(blastId)).status, "paused");
    await platform.api(`/api/blasts/${blastId}/cancel`, { method: "POST" });
  });
});

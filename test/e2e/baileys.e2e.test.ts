// The real Baileys client, run by the real sender, against the fake WhatsApp server: a user links
// an account by QR (relayed as a PNG over the WebSocket) or by pairing code, the account survives
// a sender restart without a new scan, a blast goes out through it with receipts counted (also
// from recipients WhatsApp names by LID), a 463 restriction pauses the blast, and logout forgets
// the credentials.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { authKeys } from "../../services/sender/transports/baileys/redisAuthState.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { eventually, startPlatform, type Platform, type RunningService } from "../harness/platform.ts";
import { DURABLE_REDIS, startServers, type Servers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession, type SessionWatch } from "../harness/sessionWatch.ts";

const ACCOUNT = "+15550001111";
const PAIRED_BY_CODE = "+15550002222";

interface BlastView {
  status: string;
  total: number;
  sent: number;
  failed: number;
  delivered: number;
  read: number;
  pending: number;
  reason?: string;
}

/** What a user reads off a blast's progress: where each recipient stands. */
function counts({ sent, failed, delivered, read, pending }: BlastView) {
  return { sent, failed, delivered, read, pending };
}

/** The results export's rows; the blasts here put no comma, quote or line break in a cell. */
function csvRows(csv: string): string[][] {
  return csv
    .split("\r\n")
    .filter((line) => line !== "")
    .map((line) => line.split(","));
}

describe("WhatsApp sessions through real Baileys", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let platform: Platform;
  let sender: RunningService;
  let redis: Redis;
  let watch: SessionWatch;

  before(async () => {
    servers = await startServers({ redisArgs: DURABLE_REDIS });
    wa = await startFakeWhatsApp({ receipts: { deliveredAfterMs: 20, readAfterMs: 20 } });
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: "s1",
      SEND_CHECK_NUMBERS: "true",
    });
    await platform.start("gateway");
    await platform.start("projector");
    redis = connectRedis(servers.redis.url);
    watch = await watchSession(platform, "s1");
    sender = await platform.start("sender");
  });

  after(async () => {
    watch?.close();
    redis?.disconnect();
    await platform?.stop();
    await wa?.close();
    await servers?.dispose();
  });

  async function blast(recipients: Array<{ phone: string; name: string }>, sessionId = "s1") {
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId, message: "Hello {name}, this is wa-blast", recipients }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { blastId: string }).blastId;
  }

  const view = async (blastId: string) =>
    (await (await platform.api(`/api/blasts/${blastId}`)).json()) as BlastView;

  it("relays the QR as a PNG, and a scan opens the session with the account's number", async () => {
    const qr = await watch.next(isQr);
    assert.match(qr.png, /^data:image\/png;base64,/);
    assert.ok(
      Buffer.from(qr.png.split(",")[1] ?? "", "base64")
        .subarray(1, 4)
        .equals(Buffer.from("PNG")),
    );
    const from = watch.received.length;
    await wa.scanQr(qr.qr, ACCOUNT);
    const open = await watch.next(hasStatus("open"), { from });
    assert.equal(open.account, ACCOUNT);
    // The scan made WhatsApp ask for a restart (515); the session came back by itself, logged in.
    assert.ok(
      watch.received.slice(from).some((m) => m.type === "session_status" && m.code === 515),
      JSON.stringify(watch.received.slice(from)),
    );
    assert.equal(wa.linkedDevices(ACCOUNT).length, 1);
    assert.equal(await redis.exists(authKeys("wa:", "s1").creds), 1);
    const sessions = (await (await platform.api("/api/sessions")).json()) as Array<{
      sessionId: string;
      status: string;
      account?: string;
    }>;
    assert.deepEqual(
      sessions.map(({ sessionId, status, account }) => ({ sessionId, status, account })),
      [{ sessionId: "s1", status: "open", account: ACCOUNT }],
    );
  });

  it("comes back open after a sender restart, with no new QR", async () => {
    await platform.kill(sender, "SIGTERM");
    const from = watch.received.length;
    const connectionsBefore = wa.connectionLog().length;
    sender = await platform.start("sender");
    await watch.next(hasStatus("open"), { from });
    assert.equal(watch.received.slice(from).filter(isQr).length, 0);
    assert.equal(wa.linkedDevices(ACCOUNT).length, 1, "no second device was linked");
    assert.ok(wa.connectionLog().length > connectionsBefore);
    assert.equal(wa.maxConcurrentConnections(ACCOUNT), 1);
  });

  it("keeps the account linked when Redis crashes and restarts (AOF)", async () => {
    await servers.redis.stop(true);
    await servers.redis.start();
    // A fresh process reads the credentials from Redis again rather than from its memory.
    await platform.kill(sender, "SIGTERM");
    const from = watch.received.length;
    sender = await platform.start("sender");
    const open = await watch.next(hasStatus("open"), { from, timeoutMs: 30_000 });
    assert.equal(open.account, ACCOUNT);
    assert.equal(watch.received.slice(from).filter(isQr).length, 0, "no new QR after the crash");
    assert.equal(wa.linkedDevices(ACCOUNT).length, 1);
  });

  it("sends a blast through Baileys: each recipient reads its own message once, receipts counted", async () => {
    const recipients = Array.from({ length: 12 }, (_, i) => ({
      phone: `+1202555${String(1000 + i)}`,
      name: `Person${i}`,
    }));
    const notOnWhatsApp = "+12025551011";
    wa.setRegisteredNumbers(recipients.map((r) => r.phone).filter((p) => p !== notOnWhatsApp));
    const blastId = await blast(recipients);
    const done = await eventually(
      async () => {
        const v = await view(blastId);
        return v.status === "completed" && v.read === 11 ? v : undefined;
      },
      30_000,
      "the blast to complete with every receipt",
    );
    assert.deepEqual(counts(done), { sent: 11, failed: 1, delivered: 11, read: 11, pending: 0 });
    for (const { phone, name } of recipients) {
      const got = wa.messagesTo(phone);
      if (phone === notOnWhatsApp) assert.equal(got.length, 0, "a number not on WhatsApp is never sent to");
      else
        assert.deepEqual(
          got.map((m) => m.text),
          [`Hello ${name}, this is wa-blast`],
          phone,
        );
    }
    assert.ok(wa.sent().every((m) => m.decryptError === undefined && m.from === ACCOUNT.slice(1)));
    const failures = (await (await platform.api(`/api/blasts/${blastId}/failures`)).json()) as {
      items: Array<{ phone: string; reason: string }>;
    };
    assert.deepEqual(
      failures.items.map(({ phone, reason }) => ({ phone, reason })),
      [{ phone: notOnWhatsApp, reason: "not_on_whatsapp" }],
    );
  });

  it("counts delivered and read on each recipient's own row when WhatsApp names some of them by LID", async () => {
    wa.setRegisteredNumbers("all");
    const recipients = Array.from({ length: 8 }, (_, i) => ({
      phone: `+1202555${4000 + i}`,
      name: `Lid${i}`,
    }));
    // Half of them answer from `<lid>@lid`, as WhatsApp does more and more: the receipts name no
    // number, yet the campaign's rows are numbers.
    const byLid = recipients.filter((_, i) => i % 2 === 0).map((r) => r.phone);
    wa.setLidAddressed(byLid);
    try {
      const blastId = await blast(recipients);
      const done = await eventually(
        async () => {
          const v = await view(blastId);
          return v.status === "completed" && v.read === recipients.length ? v : undefined;
        },
        30_000,
        "the blast to complete with every receipt, LID-addressed recipients included",
      );
      assert.deepEqual(counts(done), { sent: 8, failed: 0, delivered: 8, read: 8, pending: 0 });
      const csv = await platform.api(`/api/blasts/${blastId}/results.csv`);
      assert.equal(csv.status, 200);
      const [header, ...rows] = csvRows(await csv.text());
      const column = (name: string) => header?.indexOf(name) ?? -1;
      for (const { phone, name } of recipients) {
        const row = rows.find((r) => r[column("phone")] === `'${phone}`);
        assert.ok(row, `${phone} has a row`);
        const [message] = wa.messagesTo(phone);
        assert.equal(message?.text, `Hello ${name}, this is wa-blast`, phone);
        assert.equal(row[column("outcome")], "sent", phone);
        assert.equal(row[column("message_id")], message?.id, `${phone}: the message it was sent`);
        assert.notEqual(row[column("delivered_at")], "", `${phone} shows delivered`);
        assert.notEqual(row[column("read_at")], "", `${phone} shows read`);
      }
    } finally {
      wa.setLidAddressed([]);
    }
  });

  it("shows the recipient 'typing…' before each message when the blast asks for it", async () => {
    wa.setRegisteredNumbers("all");
    const recipients = [
      { phone: "+12025553000", name: "Ty" },
      { phone: "+12025553001", name: "Pat" },
    ];
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId: "s1", message: "Hi {name}", recipients, pacing: { typing: true } }),
    });
    assert.equal(res.status, 202);
    const { blastId } = (await res.json()) as { blastId: string };
    await eventually(
      async () => ((await view(blastId)).status === "completed" ? true : undefined),
      30_000,
      "the typing blast to complete",
    );
    for (const { phone } of recipients) {
      const [message] = wa.messagesTo(phone);
      const states = wa.chatStatesTo(phone);
      assert.deepEqual(
        states.map((c) => c.state),
        ["composing", "paused"],
      );
      assert.ok(message && states.every((c) => c.at <= message.at), "typing came before the message");
      assert.ok(states[1]!.at - states[0]!.at >= 500, "typing lasted like a person's");
    }
  });

  it("pauses the blast and marks the session restricted when WhatsApp answers 463", async () => {
    wa.setRegisteredNumbers("all");
    wa.restrictNewContacts(true);
    const from = watch.received.length;
    const blastId = await blast(
      Array.from({ length: 5 }, (_, i) => ({ phone: `+1202555${2000 + i}`, name: `New${i}` })),
    );
    const paused = await eventually(
      async () => {
        const v = await view(blastId);
        return v.status === "paused" ? v : undefined;
      },
      20_000,
      "the blast to pause",
    );
    assert.match(paused.reason ?? "", /restrict/i);
    assert.equal(paused.sent, 0);
    assert.equal(paused.failed, 0, "the refused send is handed back, not written off");
    assert.equal(paused.pending, 5);
    const restricted = await watch.next(hasStatus("restricted"), { from });
    assert.match(restricted.reason ?? "", /463/);
    assert.equal(
      wa.sent().filter((m) => m.error === "463").length,
      1,
      "one attempt, then no more sends from it",
    );

    wa.restrictNewContacts(false);
    const resumed = await platform.api(`/api/blasts/${blastId}/resume`, { method: "POST" });
    assert.equal(resumed.status, 200, await resumed.clone().text());
    const done = await eventually(
      async () => {
        const v = await view(blastId);
        return v.status === "completed" ? v : undefined;
      },
      20_000,
      "the resumed blast to complete",
    );
    assert.deepEqual({ sent: done.sent, failed: done.failed }, { sent: 5, failed: 0 });
  });

  it("reconnects by itself after a dropped connection, and stops when opened elsewhere (440)", async () => {
    let from = watch.received.length;
    assert.equal(wa.disconnect(ACCOUNT, "close"), 1);
    const reconnecting = await watch.next(hasStatus("reconnecting"), { from });
    assert.equal(reconnecting.code, 428);
    await watch.next(hasStatus("open"), { from });
    assert.equal(wa.openConnections(ACCOUNT), 1);

    from = watch.received.length;
    wa.disconnect(ACCOUNT, "replaced");
    const closed = await watch.next(hasStatus("closed"), { from });
    assert.equal(closed.code, 440);
    assert.match(closed.reason ?? "", /opened elsewhere/);
    // It does not fight the other device for the account: nothing reconnects on its own.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(wa.openConnections(ACCOUNT), 0);

    from = watch.received.length;
    const res = await platform.api("/api/sessions/s1/connect", { method: "POST" });
    assert.equal(res.status, 202);
    await watch.next(hasStatus("open"), { from });
    assert.equal(watch.received.slice(from).filter(isQr).length, 0, "still linked: no QR");
    assert.equal(wa.maxConcurrentConnections(ACCOUNT), 1);
  });

  it("links a second account by pairing code, and logout forgets its credentials", async () => {
    const added = await platform.api("/api/sessions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId: "s2" }),
    });
    assert.equal(added.status, 201);
    const s2 = await watchSession(platform, "s2");
    try {
      await s2.next(isQr, { timeoutMs: 20_000 });
      const res = await platform.api("/api/sessions/s2/pairing-code", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ phone: PAIRED_BY_CODE }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const { code } = (await res.json()) as { code: string };
      assert.match(code, /^[A-Z0-9]{4}-?[A-Z0-9]{4}$/);
      const from = s2.received.length;
      await wa.enterPairingCode(PAIRED_BY_CODE, code);
      const open = await s2.next(hasStatus("open"), { from });
      assert.equal(open.account, PAIRED_BY_CODE);

      const logout = await platform.api("/api/sessions/s2/logout", { method: "POST" });
      assert.equal(logout.status, 202);
      await s2.next(hasStatus("logged_out"), { from });
      const listed = (await (await platform.api("/api/sessions")).json()) as Array<{
        sessionId: string;
        account?: string;
      }>;
      assert.equal(
        listed.find((s) => s.sessionId === "s2")?.account,
        undefined,
        "no account once logged out",
      );
      const keys = authKeys("wa:", "s2");
      await eventually(
        async () => ((await redis.exists(keys.creds, keys.keys)) === 0 ? true : undefined),
        5_000,
        "the credentials to be deleted",
      );
      assert.deepEqual(wa.linkedDevices(PAIRED_BY_CODE), [], "the device was unlinked on WhatsApp too");
    } finally {
      s2.close();
    }
    assert.deepEqual(wa.errors(), []);
  });
});

// Several sender processes share real Baileys sessions. The fake WhatsApp server sees every socket,
// so it can say whether an account was ever logged in twice at once (WhatsApp would answer 440 and
// the Signal keys would diverge). Sessions move when a sender joins and when one is killed, and
// every recipient still gets exactly one message.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import {
  eventually,
  startPlatform,
  type Platform,
  type RunningService,
  untilBlastCompleted,
} from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession } from "../harness/sessionWatch.ts";

const SESSIONS = ["s1", "s2", "s3"];
const accountOf = (sessionId: string) => `+1555000300${sessionId.slice(1)}`;
const PER_SESSION = 40;

interface SessionView {
  sessionId: string;
  status: string;
  owner?: string;
}

describe("senders sharing real Baileys sessions", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let platform: Platform;

  before(async () => {
    servers = await startServers();
    wa = await startFakeWhatsApp({ receipts: { deliveredAfterMs: null, readAfterMs: null } });
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: SESSIONS.join(","),
      SEND_CHECK_NUMBERS: "false",
      LEASE_TTL_MS: "3000",
      SEND_ACK_WAIT_MS: "2000",
      // A little time per message, so a sender can be killed in the middle of the blasts.
      SEND_MIN_DELAY_MS: "30",
      SEND_MAX_DELAY_MS: "60",
    });
    await platform.start("gateway");
    await platform.start("projector");
  });

  after(async () => {
    await platform?.stop();
    await wa?.close();
    await servers?.dispose();
  });

  const sessions = async () => (await (await platform.api("/api/sessions")).json()) as SessionView[];

  it("never opens an account twice, and hands sessions over without loss or duplicates", async () => {
    const watches = await Promise.all(SESSIONS.map((id) => watchSession(platform, id)));
    const senders: RunningService[] = [
      await platform.start("sender", { SENDER_ID: "sender-a" }),
      await platform.start("sender", { SENDER_ID: "sender-b" }),
    ];
    try {
      for (const [i, sessionId] of SESSIONS.entries()) {
        const watch = watches[i]!;
        // The second sender joining moves a session whose QR may already be on screen; like a
        // person, scan the newest QR, and wait for the next one if that socket has gone.
        for (let attempt = 1; ; attempt++) {
          await watch.next(isQr);
          const newest = watch.received.filter(isQr).at(-1)!;
          const from = watch.received.length;
          try {
            await wa.scanQr(newest.qr, accountOf(sessionId));
            await watch.next(hasStatus("open"), { from });
            break;
          } catch (err) {
            if (attempt === 3) throw err;
            await watch.next(isQr, { from });
          }
        }
      }

      // A third sender joins: each takes one session, so some move while linked.
      senders.push(await platform.start("sender", { SENDER_ID: "sender-c" }));
      await eventually(
        async () => {
          const list = await sessions();
          const owners = new Set(list.filter((s) => s.status === "open").map((s) => s.owner));
          return owners.size === 3 ? true : undefined;
        },
        30_000,
        "one open session per sender",
      );

      const blastIds: string[] = [];
      for (const [i, sessionId] of SESSIONS.entries()) {
        const recipients = Array.from({ length: PER_SESSION }, (_, r) => ({
          phone: `+1202555${String(i * PER_SESSION + r).padStart(4, "0")}`,
        }));
        const res = await platform.api("/api/blasts", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ sessionId, message: `hello from ${sessionId}`, recipients }),
        });
        assert.equal(res.status, 202);
        blastIds.push(((await res.json()) as { blastId: string }).blastId);
      }

      await wa.waitForMessages(30, 30_000);
      const victim = senders[0]!;
      const victimSessions = (await sessions()).filter((s) => s.owner === "sender-a").map((s) => s.sessionId);
      assert.equal(victimSessions.length, 1);
      await platform.kill(victim, "SIGKILL");

      for (const blastId of blastIds) {
        const final = await untilBlastCompleted(platform, blastId, 90_000);
        assert.equal(final.sent + final.inDoubt, PER_SESSION, "none lost");
        assert.ok(final.inDoubt <= 1, "at most the send in flight at the kill is in doubt");
      }
      const moved = (await sessions()).find((s) => s.sessionId === victimSessions[0]);
      assert.ok(moved?.owner === "sender-b" || moved?.owner === "sender-c", JSON.stringify(moved));

      const delivered = wa.sent().filter((m) => !m.error);
      const recipients = delivered.map((m) => m.to);
      assert.equal(new Set(recipients).size, recipients.length, "no recipient messaged twice");
      assert.ok(recipients.length >= SESSIONS.length * PER_SESSION - 1, `${recipients.length} messages`);
      const logins = wa.connectionLog().filter((c) => c.openedAt !== undefined).length;
      // Each account logged in once after pairing; the joining sender and the kill each moved a
      // session, which logs in again elsewhere.
      assert.ok(logins >= SESSIONS.length + 2, `${logins} logins: sessions did move`);
      for (const sessionId of SESSIONS) {
        assert.equal(wa.maxConcurrentConnections(accountOf(sessionId)), 1, `${sessionId} open twice at once`);
        assert.equal(wa.linkedDevices(accountOf(sessionId)).length, 1, `${sessionId} linked once`);
      }
      assert.deepEqual(wa.errors(), []);
    } finally {
      for (const watch of watches) watch.close();
    }
  });
});

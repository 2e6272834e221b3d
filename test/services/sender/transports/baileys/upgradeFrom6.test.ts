// The upgrade promise: an account linked while wa-blast ran Baileys 6.7.24 (its credentials and
// Signal keys in Redis, written by that release) opens under Baileys 7 with no new QR and keeps
// sending. 6.7.24 is installed as the dev dependency alias `baileys6` and links against the fake.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import makeWASocket6, {
  BufferJSON as BufferJSON6,
  initAuthCreds as initAuthCreds6,
  makeCacheableSignalKeyStore as cacheableKeys6,
  type WASocket as WASocket6,
} from "baileys6";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { baileysTransport } from "../../../../../services/sender/transports/baileys/baileysTransport.ts";
import {
  authKeys,
  claimAuthFence,
  redisAuthState,
} from "../../../../../services/sender/transports/baileys/redisAuthState.ts";
import type { StatusUpdate } from "../../../../../services/sender/transports/transport.ts";
import { connectRedis } from "../../../../../shared/redis/connection.ts";
import { startFakeWhatsApp, type FakeWhatsApp } from "../../../../fakeWhatsApp/fakeWhatsAppServer.ts";
import { eventually } from "../../../../harness/platform.ts";
import { startRedis, type ManagedServer } from "../../../../harness/servers.ts";

const PREFIX = "up:";
const SESSION = "legacy";
const ACCOUNT = "15550007777";
const RECIPIENT = "15550000123";
const log = pino({ level: "silent" });

/** What the 6.7.24 sender did: a socket on the Redis auth state, credentials saved on every update. */
function socket6(wa: FakeWhatsApp, auth: Awaited<ReturnType<typeof redisAuthState>>): WASocket6 {
  const sock = makeWASocket6({
    waWebSocketUrl: wa.url,
    auth: { creds: auth.state.creds, keys: cacheableKeys6(auth.state.keys, log) },
    logger: log,
    shouldSyncHistoryMessage: () => false,
    markOnlineOnConnect: false,
  });
  sock.ev.on("creds.update", () => void auth.saveCreds());
  return sock;
}

function nextUpdate<T>(
  sock: WASocket6,
  pick: (u: { qr?: string; connection?: string }) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("Baileys 6 did not get there in time")), 10_000);
    sock.ev.on("connection.update", (update) => {
      const value = pick(update);
      if (value === undefined) return;
      clearTimeout(timer);
      resolve(value);
    });
  });
}

describe("upgrade from Baileys 6.7.24", () => {
  let server: ManagedServer;
  let redis: Redis;
  let wa: FakeWhatsApp;

  before(async () => {
    server = await startRedis();
    redis = connectRedis(server.url);
    wa = await startFakeWhatsApp({ historySync: false });
  });
  after(async () => {
    redis.disconnect();
    await wa.close();
    await server.dispose();
  });

  it("opens an account linked by 6.7.24 without a new QR, and sends through it", async () => {
    // Linked and used under 6.7.24: credentials first written by that release's own code.
    assert.equal(await claimAuthFence(redis, PREFIX, SESSION, 1), true);
    await redis.set(authKeys(PREFIX, SESSION).creds, JSON.stringify(initAuthCreds6(), BufferJSON6.replacer));
    const auth6 = await redisAuthState(redis, PREFIX, SESSION, 1);
    const linking = socket6(wa, auth6);
    const qr = await nextUpdate(linking, (u) => u.qr);
    assert.ok(!qr.startsWith("https://"), "6.7.24 shows the bare QR fields");
    await wa.scanQr(qr, ACCOUNT);
    await nextUpdate(linking, (u) => (u.connection === "close" ? true : undefined));
    const linked = socket6(wa, auth6);
    await nextUpdate(linked, (u) => (u.connection === "open" ? true : undefined));
    await linked.sendMessage(wa.jid(RECIPIENT), { text: "sent by 6.7.24" }, { messageId: "V6MSG" });
    const [before6] = await wa.waitForMessages(1);
    assert.equal(before6?.text, "sent by 6.7.24");
    assert.equal(before6?.decryptError, undefined);
    linked.end(undefined);
    await wa.waitUntil(() => (wa.openConnections(ACCOUNT) === 0 ? true : undefined), "6.7.24 to close");

    // The upgraded sender takes the session over (a new lease) with Baileys 7.
    assert.equal(await claimAuthFence(redis, PREFIX, SESSION, 2), true);
    const statuses: StatusUpdate[] = [];
    const qrs: string[] = [];
    const connection = baileysTransport({ redis, prefix: PREFIX, log, waWebSocketUrl: wa.url }).open(
      SESSION,
      {
        onStatus: (s) => statuses.push(s),
        onQr: (q) => qrs.push(q),
        onReceipt: () => undefined,
        onInbound: () => undefined,
        onNewChatMessageCap: () => undefined,
      },
      { leaseToken: 2 },
    );
    try {
      await connection.connect();
      const open = await eventually(
        async () => statuses.find((s) => s.status === "open"),
        10_000,
        "open under Baileys 7",
      );
      assert.equal(open.account, `+${ACCOUNT}`);
      assert.deepEqual(qrs, [], "no new QR after the upgrade");
      assert.deepEqual(wa.linkedDevices(ACCOUNT), [`${ACCOUNT}:1@s.whatsapp.net`], "the same linked device");

      const result = await connection.send(`+${RECIPIENT}`, "sent by 7", "V7MSG");
      assert.deepEqual(result, { ok: true, messageId: "V7MSG" });
      const after7 = await wa.waitUntil(() => wa.sent().find((m) => m.id === "V7MSG"), "the Baileys 7 send");
      assert.equal(after7.text, "sent by 7");
      assert.equal(after7.decryptError, undefined, "the recipient reads it");
      assert.deepEqual(
        wa.connectionLog().map((r) => r.kind),
        ["registration", "login", "login"],
      );
    } finally {
      await connection.close();
    }
  });
});

// A WebSocket on `/?sessionId=` that joins while the session shows a QR code gets the code at once,
// read back from SESSION_EVENTS: the sender publishes each code only when it rotates, and `connect`
// on a session already showing one publishes nothing (Baileys keeps the socket it has). A code
// from before the session's latest other status (a login, say) is never shown. The sender here is
// played by the test, publishing as services/sender/sessionSupervisor.ts does.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../../shared/config/config.ts";
import type {
  QrUpdateMessage,
  SessionStatus,
  SessionStatusMessage,
} from "../../../shared/messages/sessionEvents.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import { SessionRegistry } from "../../../shared/redis/sessions.ts";
import { TEST_API_KEY, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import {
  isQr,
  watchSession,
  type GatewaySocketTarget,
  type SessionWatch,
} from "../../harness/sessionWatch.ts";

const encoder = new TextEncoder();
/** Long enough for the gateway's stream look-ups on this machine, several times over. */
const QUIET_MS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the QR code a session is showing, for sockets that join late", () => {
  let gw: GatewayUnderTest;
  let gateway: GatewaySocketTarget;
  let registry: SessionRegistry;
  const sockets: SessionWatch[] = [];

  before(async () => {
    gw = await startGatewayWithServers();
    registry = new SessionRegistry(gw.redis, loadConfig({ API_KEYS: TEST_API_KEY }).REDIS_PREFIX);
    gateway = {
      wsUrl: (await gw.app.listen({ port: 0, host: "127.0.0.1" })).replace("http", "ws"),
      authHeaders: { authorization: `Bearer ${TEST_API_KEY}` },
    };
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await gw?.close();
  });

  /** What the sender that owns the session does: the status to Redis, then to the stream. */
  async function publishStatus(sessionId: string, status: SessionStatus): Promise<void> {
    const message: SessionStatusMessage = {
      type: "session_status",
      sessionId,
      status,
      owner: "sender-under-test",
      at: new Date().toISOString(),
    };
    await registry.recordStatus(message);
    await gw.nats.js.publish(
      subjects.sessionEvent(sessionId, "status"),
      encoder.encode(JSON.stringify(message)),
    );
  }

  async function publishQr(sessionId: string, qr: string): Promise<QrUpdateMessage> {
    const message: QrUpdateMessage = {
      type: "qr_update",
      sessionId,
      qr,
      png: `data:image/png;base64,${Buffer.from(qr).toString("base64")}`,
      at: new Date().toISOString(),
    };
    await gw.nats.js.publish(subjects.sessionEvent(sessionId, "qr"), encoder.encode(JSON.stringify(message)));
    return message;
  }

  async function watch(sessionId: string): Promise<SessionWatch> {
    // The gateway alone answers within moments: the harness' default bound allows for a whole
    // platform starting up.
    const watched = await watchSession(gateway, sessionId, { timeoutMs: 5000 });
    sockets.push(watched);
    return watched;
  }

  it("sends a socket that joins while the session shows a QR the status, then the current code", async () => {
    await registry.add("s1");
    await publishStatus("s1", "connecting");
    const first = await publishQr("s1", "ref-1,s1");
    await publishStatus("s1", "qr");

    const early = await watch("s1");
    assert.deepEqual(await early.next(isQr), first);
    assert.deepEqual(
      early.received.map((m) => (m.type === "session_status" ? `status ${m.status}` : m.type)),
      ["status qr", "qr_update"],
    );

    // The next rotation, its status reaching the stream before its code this time.
    await publishStatus("s1", "qr");
    const second = await publishQr("s1", "ref-2,s1");
    assert.deepEqual(await early.next(isQr, { from: 2 }), second, "the live rotation still arrives");

    const late = await watch("s1");
    assert.deepEqual(await late.next(isQr), second, "the latest code, not the first");
    await sleep(QUIET_MS);
    assert.equal(late.received.filter(isQr).length, 1, JSON.stringify(late.received));
  });

  it("shows a socket that joins after `connect` on a session already showing a QR the code", async () => {
    await registry.add("s3");
    await publishStatus("s3", "connecting");
    const shown = await publishQr("s3", "ref-3,s3");
    await publishStatus("s3", "qr");
    // The owner accepts the command and publishes nothing, as Baileys does when it is already
    // connecting.
    const owner = gw.nats.nc.subscribe(subjects.sessionCommand("s3", "connect"), {
      callback: (_err, msg) => {
        msg.respond(encoder.encode(JSON.stringify({ ok: true, owner: "sender-under-test" })));
      },
    });
    try {
      const connect = await gw.inject({ method: "POST", url: "/api/sessions/s3/connect" });
      assert.equal(connect.statusCode, 202, connect.body);
      const socket = await watch("s3");
      assert.deepEqual(await socket.next(isQr), shown);
    } finally {
      owner.unsubscribe();
    }
  });

  it("never shows a code from before the session's latest other status", async () => {
    await registry.add("s2");
    await publishStatus("s2", "connecting");
    await publishQr("s2", "scanned-already,s2");
    await publishStatus("s2", "qr");
    await publishStatus("s2", "open");

    const whileOpen = await watch("s2");
    await sleep(QUIET_MS);
    assert.deepEqual(
      whileOpen.received.map((m) => m.type),
      ["session_status"],
    );

    // Asking for a scan again with no new code yet (a pairing-code request does this): the old
    // code was used for the login, so there is nothing to show.
    await publishStatus("s2", "qr");
    const asked = await watch("s2");
    await sleep(QUIET_MS);
    assert.deepEqual(
      asked.received.map((m) => (m.type === "session_status" ? `status ${m.status}` : m.type)),
      ["status qr"],
    );

    const fresh = await publishQr("s2", "fresh,s2");
    assert.deepEqual(await asked.next(isQr), fresh);
    const afterFresh = await watch("s2");
    assert.deepEqual(await afterFresh.next(isQr), fresh);
  });
});

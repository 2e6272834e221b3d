// A session's proxy from end to end: added through the API with the session, read by the real
// sender from the registry, and used by real Baileys to reach the fake WhatsApp only through a
// SOCKS5 proxy on loopback; a second session whose proxy is dead shows why in its API status. The
// password appears in no API answer and in no line the gateway or the sender printed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { eventually, startPlatform, type Platform, type RunningService } from "../harness/platform.ts";
import { freePort, startServers, type Servers } from "../harness/servers.ts";
import { startSocksProxy, type TestProxy } from "../harness/testProxies.ts";

const SECRET = "e2e-Proxy-pw-31";

interface SessionView {
  sessionId: string;
  status: string;
  reason?: string;
  proxy?: string;
}

describe("a session's proxy, from the API to WhatsApp", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let proxy: TestProxy;
  let platform: Platform;
  let gateway: RunningService;
  let sender: RunningService;
  const answers: string[] = [];

  before(async () => {
    servers = await startServers();
    wa = await startFakeWhatsApp({ historySync: false });
    proxy = await startSocksProxy({ user: "shop", password: SECRET });
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: "",
      LOG_LEVEL: "trace",
    });
    gateway = await platform.start("gateway");
    sender = await platform.start("sender");
  });

  after(async () => {
    await platform?.stop();
    await proxy?.close();
    await wa?.close();
    await servers?.dispose();
  });

  async function call(path: string, body?: object): Promise<{ status: number; json: unknown }> {
    const res = await platform.api(path, {
      ...(body
        ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, json: JSON.parse(text) as unknown };
  }
  const session = async (id: string) => (await call(`/api/sessions/${id}`)).json as SessionView;

  it("connects only through the session's proxy, and says so when a proxy is dead", async () => {
    assert.equal((await call("/api/sessions", { sessionId: "viaproxy", proxy: proxy.url })).status, 201);
    const deadPort = await freePort();
    const dead = `socks5://shop:${SECRET}@127.0.0.1:${deadPort}`;
    assert.equal((await call("/api/sessions", { sessionId: "deadproxy", proxy: dead })).status, 201);

    // The sender picks both up; the one with a live proxy reaches WhatsApp and shows a QR.
    await eventually(
      async () => ((await session("viaproxy")).status === "qr" ? true : undefined),
      30_000,
      "a QR",
    );
    assert.ok(proxy.tunnelsTo(wa.port) >= 1, "the proxy carried the connection");
    assert.equal(
      proxy.tunnelsTo(wa.port),
      wa.connectionLog().length,
      "every connection WhatsApp saw came through the proxy (the dead one's never arrived)",
    );

    const failed = await eventually(
      async () => {
        const view = await session("deadproxy");
        return view.reason?.startsWith("proxy unreachable") ? view : undefined;
      },
      30_000,
      "the dead proxy's status",
    );
    assert.equal(failed.status, "reconnecting");
    assert.match(
      failed.reason ?? "",
      new RegExp(`^proxy unreachable \\(socks5://shop:\\*\\*\\*@127\\.0\\.0\\.1:${deadPort}\\)`),
    );
    assert.equal(failed.proxy, `socks5://shop:***@127.0.0.1:${deadPort}`);

    const list = (await call("/api/sessions")).json as SessionView[];
    assert.deepEqual(
      list.map((s) => s.sessionId),
      ["deadproxy", "viaproxy"],
    );
    for (const answer of answers)
      assert.ok(!answer.includes(SECRET), `an answer holds the password: ${answer}`);
    for (const service of [gateway, sender]) {
      assert.ok(service.output().length > 0);
      assert.ok(!service.output().includes(SECRET), `the ${service.name}'s output holds the password`);
    }
  });
});

// An account with a proxy, through the real Baileys transport, the fake WhatsApp and real proxies
// on loopback that count what they carry: the session links, sends text and uploads media only
// through its proxy (every connection the fake saw was a tunnel the proxy opened), its password
// never reaches a log line or a status, and a dead proxy (nobody listening, or listening and
// silent, or refusing the password) becomes a status that says so within a bounded time.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import QRCode from "qrcode";
import { freePort } from "../../../../harness/servers.ts";
import {
  startHttpProxy,
  startSilentProxy,
  startSocksProxy,
  type TestProxy,
} from "../../../../harness/testProxies.ts";
import {
  linkByQr,
  transportSessionSuite,
  type ListenerJournal,
  type TransportSession,
} from "./transportSession.ts";

const ACCOUNT = "15550004444";
const PERSON = "15550000301";
const SECRET = "pr0xy-S3cret-9f2a";
const CREDENTIALS = { user: "blaster", password: SECRET };
/** The bound the transport is given to open its socket through a proxy that never answers. */
const CONNECT_TIMEOUT_MS = 1500;

describe("Baileys transport through a proxy", { timeout: 120_000 }, () => {
  const sessions = transportSessionSuite();

  /**
   * A fresh fake with a media host and a session whose context names `proxyUrl`; every log line of
   * the transport (and of Baileys under it) is kept and checked for the password whatever happens.
   */
  async function withProxiedSession(
    proxyUrl: string,
    body: (session: TransportSession) => Promise<void>,
  ): Promise<void> {
    const { logLines, journal } = await sessions.withSession(
      {
        fake: { media: true },
        logLevel: "trace",
        proxy: proxyUrl,
        transport: (wa) => ({
          // Trusts the fake media host's certificate for TLS through the proxy; no `mediaAgent`, so
          // an upload that bypassed the proxy could not even verify the host.
          proxyTrustedCa: wa.mediaHost?.caPem,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        }),
      },
      body,
    );
    assert.ok(logLines.length > 0, "the transport logged something to check");
    for (const line of logLines) assert.ok(!line.includes(SECRET), `a log line holds the password: ${line}`);
    for (const status of journal.statuses) {
      assert.ok(
        !JSON.stringify(status).includes(SECRET),
        `a status holds the password: ${JSON.stringify(status)}`,
      );
    }
  }

  /** Links by QR, sends a text and an image, and checks that all of it went through `proxy`. */
  async function linkAndSendThrough(proxy: TestProxy): Promise<void> {
    await withProxiedSession(proxy.url, async (session) => {
      await linkByQr(session, ACCOUNT);
      const { wa, connection } = session;

      assert.deepEqual(await connection.send(`+${PERSON}`, "Sale today", "PROXIED-TEXT-1"), {
        ok: true,
        messageId: "PROXIED-TEXT-1",
      });
      const image = await QRCode.toBuffer("https://example.com/proxied", { type: "png" });
      const sent = await connection.sendMedia(
        `+${PERSON}`,
        { kind: "image", body: image, mimetype: "image/png", caption: "Through the proxy" },
        "PROXIED-IMAGE-1",
      );
      assert.deepEqual(sent, { ok: true, messageId: "PROXIED-IMAGE-1" });
      const received = await wa.waitForMessages(2);
      const delivered = received.find((m) => m.id === "PROXIED-IMAGE-1");
      assert.ok(delivered?.media?.bytes?.equals(image), "the recipient decrypts the image that was sent");

      // The scan's 515 restart makes a second connection: both, and nothing else, were tunnels.
      const connections = wa.connectionLog().length;
      assert.ok(connections >= 2, `${connections} connections`);
      assert.equal(
        proxy.tunnelsTo(wa.port),
        connections,
        "every connection the fake saw came through the proxy",
      );
      const mediaHost = wa.mediaHost;
      assert.ok(mediaHost);
      const mediaPort = Number(mediaHost.hostname.split(":").at(-1));
      assert.ok(mediaHost.attempts().length >= 1, "the upload reached the media host");
      assert.equal(
        proxy.tunnelsTo(mediaPort),
        mediaHost.attempts().length,
        "every upload the media host saw came through the proxy",
      );
      assert.deepEqual(
        proxy.tunnels().filter((t) => t.port !== wa.port && t.port !== mediaPort),
        [],
        "the proxy carried nothing else",
      );
    });
  }

  it("links, sends and uploads media only through an HTTP CONNECT proxy", async () => {
    const proxy = await startHttpProxy(CREDENTIALS);
    try {
      await linkAndSendThrough(proxy);
    } finally {
      await proxy.close();
    }
  });

  it("links, sends and uploads media only through a SOCKS5 proxy", async () => {
    const proxy = await startSocksProxy(CREDENTIALS);
    try {
      await linkAndSendThrough(proxy);
    } finally {
      await proxy.close();
    }
  });

  /** Waits for the status that names the proxy's failure, and how long it took. */
  async function proxyFailureOf(journal: ListenerJournal, startedAt: number) {
    const status = await journal.waitFor(
      () => journal.statuses.find((s) => s.reason?.startsWith("proxy unreachable")),
      "a status naming the proxy",
      CONNECT_TIMEOUT_MS + 5000,
    );
    return { status, tookMs: Date.now() - startedAt };
  }

  it("says the proxy is unreachable at once when nothing listens on its port, and never connects around it", async () => {
    const port = await freePort();
    const url = `socks5://${CREDENTIALS.user}:${SECRET}@127.0.0.1:${port}`;
    const startedAt = Date.now();
    await withProxiedSession(url, async ({ wa, journal }) => {
      const { status, tookMs } = await proxyFailureOf(journal, startedAt);
      assert.equal(status.status, "reconnecting");
      assert.match(
        status.reason ?? "",
        new RegExp(
          `^proxy unreachable \\(socks5://blaster:\\*\\*\\*@127\\.0\\.0\\.1:${port}\\): .*ECONNREFUSED`,
        ),
      );
      assert.match(status.reason ?? "", /retrying in \d+ ms$/);
      assert.ok(tookMs < 5000, `took ${tookMs} ms`);
      // It keeps trying, and keeps saying why while it does.
      await journal.waitFor(
        () => journal.statuses.find((s) => s.reason?.endsWith("trying again")),
        "the next attempt, still naming the proxy",
      );
      assert.equal(wa.connectionLog().length, 0, "the session never reached WhatsApp around its proxy");
    });
  });

  it("gives up on a proxy that accepts and never answers within the connect bound, and says so", async () => {
    const silent = await startSilentProxy();
    const url = `http://${CREDENTIALS.user}:${SECRET}@127.0.0.1:${silent.port}`;
    const startedAt = Date.now();
    try {
      await withProxiedSession(url, async ({ wa, journal }) => {
        const { status, tookMs } = await proxyFailureOf(journal, startedAt);
        assert.equal(status.status, "reconnecting");
        assert.match(
          status.reason ?? "",
          /^proxy unreachable \(http:\/\/blaster:\*\*\*@127\.0\.0\.1:\d+\): /,
        );
        assert.match(status.reason ?? "", new RegExp(`no connection within ${CONNECT_TIMEOUT_MS} ms`));
        assert.ok(
          tookMs >= CONNECT_TIMEOUT_MS - 100 && tookMs < CONNECT_TIMEOUT_MS + 3000,
          `took ${tookMs} ms`,
        );
        assert.ok(silent.accepted() >= 1, "the transport did dial the proxy");
        assert.equal(wa.connectionLog().length, 0, "the session never reached WhatsApp around its proxy");
      });
    } finally {
      await silent.close();
    }
  });

  it("says the proxy refused its credentials when the password is wrong", async () => {
    const proxy = await startHttpProxy(CREDENTIALS);
    const wrong = proxy.url.replace(encodeURIComponent(SECRET), `${SECRET}-old`);
    assert.notEqual(wrong, proxy.url);
    try {
      await withProxiedSession(wrong, async ({ wa, journal }) => {
        const { status } = await proxyFailureOf(journal, Date.now());
        assert.match(status.reason ?? "", /407.*\(the proxy refused its credentials\)/);
        assert.equal(proxy.tunnels().length, 0, "no tunnel without the right password");
        assert.equal(wa.connectionLog().length, 0);
      });
    } finally {
      await proxy.close();
    }
  });
});

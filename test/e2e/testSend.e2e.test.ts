// A test send from the blast form, through real Baileys and the fake WhatsApp: the blast's first
// rendered message (its variant, its image) reaches the team's phones now, and no blast exists or
// is counted afterwards. A suppressed number, an unknown account or a bad number is refused.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { solidPng } from "../harness/testImages.ts";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { startPlatform, type Platform, type RunningService } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession } from "../harness/sessionWatch.ts";

const ACCOUNT = "+15550007001";
const TEAM = ["+12025557001", "+12025557002"];

const PNG = solidPng(8, [0x3c, 0x3c, 0x3c]);

interface TestSendAnswer {
  sessionId: string;
  text: string;
  variant?: string;
  media?: { mediaId: string; kind: string };
  sent: Array<{ to: string; messageId: string }>;
}

interface PreviewAnswer {
  messages: Array<{ phone: string; text: string; variant?: string }>;
}

describe("test send from the blast form", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let platform: Platform;
  let sender: RunningService;

  before(async () => {
    servers = await startServers();
    wa = await startFakeWhatsApp({ media: true, receipts: { deliveredAfterMs: null, readAfterMs: null } });
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: "s1",
      SEND_CHECK_NUMBERS: "false",
      SEND_MIN_DELAY_MS: "0",
      SEND_MAX_DELAY_MS: "0",
      SEND_TYPING: "false",
    });
    // The sender's upload reaches the fake's HTTPS media host, whose certificate is made per run.
    const caFile = join(platform.workDir, "media-ca.pem");
    await writeFile(caFile, wa.mediaHost?.caPem ?? "");
    await platform.start("gateway");
    await platform.start("projector");
    const watch = await watchSession(platform, "s1");
    try {
      sender = await platform.start("sender", { NODE_EXTRA_CA_CERTS: caFile });
      await wa.scanQr((await watch.next(isQr)).qr, ACCOUNT);
      await watch.next(hasStatus("open"), { timeoutMs: 30_000 });
    } finally {
      watch.close();
    }
  });

  after(async () => {
    await platform?.stop();
    await wa?.close();
    await servers?.dispose();
  });

  const post = (path: string, body: unknown) =>
    platform.api(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  /** The gateway's blast recipient counters, as Prometheus reads them. */
  const recipientCounters = async () =>
    (await (await platform.api("/metrics")).text())
      .split("\n")
      .filter((line) => line.startsWith("wa_blast_recipients_total"))
      .sort();
  const blast = {
    variants: [{ text: "Hi {name}, variant one" }, { text: "Hello {name}, variant two" }],
    recipients: [
      { phone: "+12025557101", name: "Ana" },
      { phone: "+12025557102", name: "Bo" },
      { phone: "+12025557103", name: "Cy" },
    ],
  };

  it("sends the first rendered variant with its image to the phones, and creates or counts no blast", async () => {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(PNG)], { type: "image/png" }), "offer.png");
    const upload = await platform.api("/api/media", { method: "POST", body: form });
    assert.equal(upload.status, 201, await upload.clone().text());
    const { mediaId } = (await upload.json()) as { mediaId: string };
    const countersBefore = await recipientCounters();

    const previewRes = await post("/api/blasts/preview", { sessionId: "s1", mediaId, ...blast });
    assert.equal(previewRes.status, 200, await previewRes.clone().text());
    const first = ((await previewRes.json()) as PreviewAnswer).messages[0];
    assert.ok(first?.variant, "the preview renders a variant");

    const res = await post("/api/blasts/test-send", { sessionId: "s1", mediaId, ...blast, to: TEAM });
    assert.equal(res.status, 200, await res.clone().text());
    const answer = (await res.json()) as TestSendAnswer;
    assert.equal(answer.sessionId, "s1");
    assert.equal(answer.text, first.text);
    assert.equal(answer.variant, first.variant);
    assert.equal(answer.media?.mediaId, mediaId);
    assert.deepEqual(
      answer.sent.map((s) => s.to),
      TEAM,
    );
    for (const { to, messageId } of answer.sent) {
      assert.match(messageId, /^WT/, "a test's id is never a blast message's");
      const got = wa.messagesTo(to).at(-1);
      assert.ok(got, `the test reached ${to}`);
      assert.equal(got.id, messageId);
      assert.equal(got.from, ACCOUNT.slice(1), "sent from the chosen account");
      assert.equal(got.media?.error, undefined);
      assert.ok(got.media?.bytes?.equals(PNG), `${to} decrypted the image byte-exact`);
      assert.equal(got.message?.imageMessage?.caption, first.text);
    }
    for (const { phone } of blast.recipients) assert.equal(wa.messagesTo(phone).length, 0);
    const logged = sender
      .output()
      .split("\n")
      .filter((line) => line.includes('"test send"'));
    assert.equal(logged.length, TEAM.length, "the sender logs each as a test");
    assert.ok(logged.every((line) => line.includes('"test":true')));

    const blasts = (await (await platform.api("/api/blasts")).json()) as { total: number };
    assert.equal(blasts.total, 0, "no blast was created");
    assert.deepEqual(await recipientCounters(), countersBefore, "no recipient was counted");
  });

  it("sends a text-only test from a form, through the pool's first account by default", async () => {
    const form = new FormData();
    form.append("sessionIds", "s1");
    form.append("message", "Plain {name}");
    form.append("to", "+12025557003");
    form.append("recipientsFile", new Blob(["phone,name\n+12025557104,Dee\n"]), "r.csv");
    const res = await platform.api("/api/blasts/test-send", { method: "POST", body: form });
    assert.equal(res.status, 200, await res.clone().text());
    const answer = (await res.json()) as TestSendAnswer;
    assert.equal(answer.sessionId, "s1");
    assert.equal(answer.text, "Plain Dee");
    assert.equal(answer.variant, undefined);
    assert.equal(wa.messagesTo("+12025557003").at(-1)?.text, "Plain Dee");
  });

  it("refuses a suppressed number, a bad number, an unknown account and a plan without recipients", async () => {
    const suppressed = "+12025557009";
    const listed = await post("/api/suppression", { phones: [suppressed], reason: "opted out" });
    assert.ok(listed.ok, await listed.clone().text());
    const refused = await post("/api/blasts/test-send", {
      sessionId: "s1",
      ...blast,
      to: [TEAM[0], suppressed],
    });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { message: string }).message, /\+12025557009/);

    const bad = await post("/api/blasts/test-send", { sessionId: "s1", ...blast, to: ["12ab"] });
    assert.equal(bad.status, 400);
    const unknown = await post("/api/blasts/test-send", { sessionId: "nobody", ...blast, to: TEAM });
    assert.equal(unknown.status, 404);
    const empty = await post("/api/blasts/test-send", {
      sessionId: "s1",
      message: "Hi {name}",
      recipients: [{ phone: suppressed, name: "Zed" }],
      to: TEAM,
    });
    assert.equal(empty.status, 400);
    assert.equal(wa.messagesTo(suppressed).length, 0);
  });
});

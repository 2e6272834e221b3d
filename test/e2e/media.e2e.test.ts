// Blasts with an attachment, end to end. Through real Baileys and the fake WhatsApp: an image blast
// over a pool of two accounts and a PDF blast reach every recipient's phone, which downloads and
// decrypts the bytes byte-exact (the image with a thumbnail); each account uploads a file to the
// media host once per blast whatever the number of recipients, and not again after a sender
// restart. Through the sim transport: the outbox records the library's media id and the SHA-256.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { solidPng } from "../harness/testImages.ts";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { outbox } from "../harness/inspect.ts";
import { eventually, startPlatform, type Platform, type RunningService } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession, type SessionWatch } from "../harness/sessionWatch.ts";

const ACCOUNTS: Record<string, string> = { s1: "+15550003001", s2: "+15550003002" };

const PNG = solidPng(8, [0x7f, 0x7f, 0x7f]);
const PDF = Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.alloc(50_000, 0x41), Buffer.from("\n%%EOF\n")]);
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

interface Media {
  mediaId: string;
  kind: string;
  sha256: string;
}

async function uploadMedia(platform: Platform, fileName: string, data: Buffer, type: string): Promise<Media> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(data)], { type }), fileName);
  const res = await platform.api("/api/media", { method: "POST", body: form });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Media;
}

async function startBlast(platform: Platform, body: BodyInit, json = true): Promise<string> {
  const res = await platform.api("/api/blasts", {
    method: "POST",
    body,
    ...(json ? { headers: { "content-type": "application/json" } } : {}),
  });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { blastId: string }).blastId;
}

async function untilSent(platform: Platform, blastId: string, total: number): Promise<void> {
  await eventually(
    async () => {
      const view = (await (await platform.api(`/api/blasts/${blastId}`)).json()) as {
        sent: number;
        failed: number;
      };
      assert.equal(view.failed, 0, JSON.stringify(view));
      return view.sent === total ? true : undefined;
    },
    60_000,
    `blast ${blastId} sent`,
  );
}

describe("media blasts through real Baileys and the fake WhatsApp", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let platform: Platform;
  let sender: RunningService;
  const watches: SessionWatch[] = [];

  before(async () => {
    servers = await startServers();
    wa = await startFakeWhatsApp({ media: true, receipts: { deliveredAfterMs: 20, readAfterMs: 20 } });
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: "s1,s2",
      SEND_CHECK_NUMBERS: "false",
    });
    // The sender's uploads reach the fake's HTTPS media host, whose certificate is made per run.
    const caFile = join(platform.workDir, "media-ca.pem");
    await writeFile(caFile, wa.mediaHost?.caPem ?? "");
    await platform.start("gateway");
    await platform.start("projector");
    for (const sessionId of Object.keys(ACCOUNTS)) watches.push(await watchSession(platform, sessionId));
    sender = await platform.start("sender", { NODE_EXTRA_CA_CERTS: caFile });
    await Promise.all(
      Object.entries(ACCOUNTS).map(async ([, account], i) => {
        const watch = watches[i]!;
        const qr = await watch.next(isQr);
        const from = watch.received.length;
        await wa.scanQr(qr.qr, account);
        await watch.next(hasStatus("open"), { from, timeoutMs: 30_000 });
      }),
    );
  });

  after(async () => {
    for (const watch of watches) watch.close();
    await platform?.stop();
    await wa?.close();
    await servers?.dispose();
  });

  const uploadsOf = (kind: string) => (wa.mediaHost?.uploads() ?? []).filter((u) => u.kind === kind);

  it("sends an image over a pool: every phone decrypts it byte-exact, one upload per account", async () => {
    const image = await uploadMedia(platform, "offer.png", PNG, "image/png");
    assert.equal(image.kind, "image");
    const recipients = [
      "+12025554001",
      "+12025554002",
      "+12025554003",
      "+12025554004",
      "+12025554005",
      "+12025554006",
    ];
    const blastId = await startBlast(
      platform,
      JSON.stringify({
        sessionIds: ["s1", "s2"],
        message: "Hi {name}, this week only",
        mediaId: image.mediaId,
        recipients: recipients.map((phone, i) => ({ phone, name: `P${i}` })),
      }),
    );
    await untilSent(platform, blastId, recipients.length);
    const senders = new Set<string>();
    for (const [i, phone] of recipients.entries()) {
      const got = wa.messagesTo(phone).at(-1);
      assert.ok(got, `a message reached ${phone}`);
      assert.equal(got.media?.error, undefined);
      assert.equal(got.media?.kind, "image");
      assert.ok(got.media?.bytes?.equals(PNG), `${phone} decrypted the image byte-exact`);
      assert.equal(got.message?.imageMessage?.caption, `Hi P${i}, this week only`);
      assert.ok((got.message?.imageMessage?.jpegThumbnail?.length ?? 0) > 0, "the image carries a thumbnail");
      senders.add(got.from);
    }
    assert.equal(uploadsOf("image").length, senders.size, "one upload per account that sent");
  });

  it("sends a PDF uploaded with the blast, and a restarted sender reuses the account's upload", async () => {
    const form = new FormData();
    form.append("sessionId", "s1");
    form.append("message", "Your catalogue, {name}");
    form.append(
      "recipientsFile",
      new Blob(["phone,name\n+12025555001,Ana\n+12025555002,Bo\n+12025555003,Cy\n"]),
      "r.csv",
    );
    form.append("media", new Blob([new Uint8Array(PDF)], { type: "application/pdf" }), "catalogue.pdf");
    const blastId = await startBlast(platform, form, false);
    await untilSent(platform, blastId, 3);
    for (const [phone, name] of [
      ["+12025555001", "Ana"],
      ["+12025555002", "Bo"],
      ["+12025555003", "Cy"],
    ] as const) {
      const got = wa.messagesTo(phone).at(-1);
      assert.ok(got?.media?.bytes?.equals(PDF), `${phone} decrypted the PDF byte-exact`);
      const document =
        got?.message?.documentMessage ?? got?.message?.documentWithCaptionMessage?.message?.documentMessage;
      assert.equal(document?.fileName, "catalogue.pdf");
      assert.equal(document?.caption, `Your catalogue, ${name}`);
    }
    assert.equal(uploadsOf("document").length, 1, "one upload for three recipients");

    const summary = (await (await platform.api(`/api/blasts/${blastId}`)).json()) as { media: Media };
    assert.equal(summary.media.sha256, sha256(PDF));
    await platform.kill(sender, "SIGTERM");
    sender = await platform.start("sender", { NODE_EXTRA_CA_CERTS: join(platform.workDir, "media-ca.pem") });
    await eventually(async () => {
      const sessions = (await (await platform.api("/api/sessions")).json()) as Array<{ status: string }>;
      return sessions.every((s) => s.status === "open") ? true : undefined;
    }, 30_000);
    const again = await startBlast(
      platform,
      JSON.stringify({
        sessionId: "s1",
        message: "Reminder, {name}",
        mediaId: summary.media.mediaId,
        recipients: [{ phone: "+12025555004", name: "Di" }],
      }),
    );
    await untilSent(platform, again, 1);
    assert.ok(wa.messagesTo("+12025555004").at(-1)?.media?.bytes?.equals(PDF));
    assert.equal(uploadsOf("document").length, 1, "the restarted sender sent the account's earlier upload");
  });
});

describe("media blasts through the sim transport", () => {
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

  it("records the media id and the SHA-256 of what each recipient was sent", async () => {
    const pdf = await uploadMedia(platform, "terms.pdf", PDF, "application/pdf");
    const recipients = ["+12025550181", "+12025550182", "+12025550183"];
    const blastId = await startBlast(
      platform,
      JSON.stringify({
        sessionId: "s1",
        message: "Terms for {name}",
        mediaId: pdf.mediaId,
        recipients: recipients.map((phone) => ({ phone, name: "you" })),
      }),
    );
    await untilSent(platform, blastId, recipients.length);
    const lines = (await outbox(platform.outboxPath)).filter((l) => recipients.includes(l.to));
    assert.equal(lines.length, recipients.length);
    for (const line of lines) {
      assert.equal(line.media?.mediaId, pdf.mediaId);
      assert.equal(line.media?.sha256, sha256(PDF));
      assert.equal(line.media?.kind, "document");
      assert.equal(line.media?.fileName, "terms.pdf");
      assert.equal(line.text, "Terms for you");
    }
  });
});

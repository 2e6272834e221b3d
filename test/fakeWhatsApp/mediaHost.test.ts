// The loopback media host against Baileys' own upload path (prepareWAMessageMedia with
// getWAUploadToServer), without a socket: what Baileys encrypts and uploads must come back byte-exact
// through the independent recipient-side decrypt, and a refusing host must fail the send.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import https from "node:https";
import { after, before, describe, it } from "node:test";
import { solidPng } from "../harness/testImages.ts";
import {
  DEFAULT_CONNECTION_CONFIG,
  getWAUploadToServer,
  prepareWAMessageMedia,
  type AnyMediaMessageContent,
  type MediaConnInfo,
  type proto,
} from "@whiskeysockets/baileys";
import { pino } from "pino";
import { decryptMedia, mediaInMessage, startMediaHost, type MediaHost } from "./mediaHost.ts";

const logger = pino({ level: "silent" });

describe("fake WhatsApp media host", () => {
  let host: MediaHost;
  let mediaConnRequests: boolean[];

  before(async () => {
    host = await startMediaHost();
  });
  after(async () => {
    await host.close();
  });

  /** Baileys' encrypt-and-upload, pointed at the host the way a media_conn answer would point it. */
  function prepare(content: AnyMediaMessageContent): Promise<proto.Message> {
    mediaConnRequests = [];
    const upload = getWAUploadToServer(
      { ...DEFAULT_CONNECTION_CONFIG, fetchAgent: host.agent(), logger },
      async (force): Promise<MediaConnInfo> => {
        mediaConnRequests.push(force);
        return {
          hosts: [{ hostname: host.hostname, maxContentLengthBytes: 1e8 }],
          auth: host.auth,
          ttl: 3600,
          fetchDate: new Date(),
        };
      },
    );
    return prepareWAMessageMedia(content, { upload, logger, mediaUploadTimeoutMs: 10_000 });
  }

  it("round-trips an image byte-exact", async () => {
    const png = solidPng(2, [200, 30, 60]);
    const message = await prepare({ image: png, mimetype: "image/png", caption: "hello" });
    const image = message.imageMessage;
    assert.ok(image);
    assert.equal(image.caption, "hello");
    assert.equal(image.url, `https://${host.hostname}${image.directPath}&mms3=true`);
    assert.match(image.directPath ?? "", /^\/v\/t62\.7118-24\/\d+_\d+_n\.enc\?/);

    const stored = host.uploads().find((u) => u.directPath === image.directPath);
    assert.ok(stored);
    assert.equal(stored.kind, "image");
    assert.equal(stored.mediaPath, "/mms/image");
    assert.equal(stored.auth, host.auth);
    assert.equal(stored.encSha256, Buffer.from(image.fileEncSha256 ?? []).toString("base64url"));

    const found = mediaInMessage(message);
    assert.equal(found?.kind, "image");
    assert.deepEqual(await decryptMedia(host, image, "image"), png);
  });

  it("round-trips a PDF document byte-exact", async () => {
    const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(70_001)]);
    const message = await prepare({ document: pdf, mimetype: "application/pdf", fileName: "offer.pdf" });
    const document = message.documentMessage;
    assert.ok(document);
    assert.equal(document.fileName, "offer.pdf");
    assert.equal(document.mimetype, "application/pdf");
    assert.equal(Number(document.fileLength), pdf.length);
    assert.deepEqual(
      Buffer.from(document.fileSha256 ?? []),
      createHash("sha256").update(pdf).digest(),
      "fileSha256 is the plaintext hash",
    );
    assert.deepEqual(await decryptMedia(host, document, "document"), pdf);
  });

  it("refuses to decrypt a tampered, mis-keyed or mis-hashed upload", async () => {
    const pdf = randomBytes(4096);
    const message = await prepare({ document: pdf, mimetype: "application/pdf", fileName: "a.pdf" });
    const document = message.documentMessage;
    assert.ok(document?.directPath);

    await assert.rejects(
      decryptMedia(host, document, "image"),
      /MAC mismatch/,
      "the media type is part of the key derivation",
    );
    await assert.rejects(
      decryptMedia(host, { ...document, mediaKey: randomBytes(32) }, "document"),
      /MAC mismatch/,
    );
    await assert.rejects(
      decryptMedia(host, { ...document, fileSha256: randomBytes(32) }, "document"),
      /fileSha256 mismatch/,
    );

    host.tamperUpload(document.directPath, (bytes) => {
      bytes[100] = (bytes[100] ?? 0) ^ 1;
      return bytes;
    });
    await assert.rejects(decryptMedia(host, document, "document"), /fileEncSha256 mismatch/);
    // With a matching outer hash (a sender lying about it), the MAC still catches the change.
    const tampered = host.uploads().find((u) => u.directPath === document.directPath);
    assert.ok(tampered);
    const tamperedHash = createHash("sha256").update(tampered.bytes).digest();
    await assert.rejects(
      decryptMedia(host, { ...document, fileEncSha256: tamperedHash }, "document"),
      /MAC mismatch/,
    );
  });

  it("fails the upload while the host rejects uploads, then recovers", async () => {
    const attemptsBefore = host.attempts().length;
    host.rejectUploads({ status: 503, reason: "service unavailable", times: 1 });
    await assert.rejects(
      prepare({ document: randomBytes(512), mimetype: "application/pdf", fileName: "x.pdf" }),
      /Media upload failed on all hosts/,
    );
    // Baileys asks for a fresh media_conn after a refused upload.
    assert.deepEqual(mediaConnRequests, [false, true]);
    const refused = host.attempts().slice(attemptsBefore);
    assert.deepEqual(
      refused.map((a) => [a.status, a.reason]),
      [[503, "service unavailable"]],
    );

    const message = await prepare({
      document: randomBytes(512),
      mimetype: "application/pdf",
      fileName: "y.pdf",
    });
    assert.ok(message.documentMessage?.directPath, "the rule expired after one upload");
  });

  it("rejects every upload until the rule is cleared", async () => {
    host.rejectUploads({ status: 401, reason: "unauthorized" });
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(
        prepare({ document: randomBytes(64), mimetype: "application/pdf", fileName: "z.pdf" }),
        /Media upload failed on all hosts/,
      );
    }
    host.rejectUploads(null);
    const message = await prepare({
      document: randomBytes(64),
      mimetype: "application/pdf",
      fileName: "z.pdf",
    });
    assert.ok(message.documentMessage?.directPath);
  });

  it("refuses an upload with the wrong auth token or a body that does not match its hash", async () => {
    const body = randomBytes(48);
    const encSha256 = createHash("sha256").update(body).digest("base64url");
    const post = (path: string, bytes: Buffer) => fetchStatus(host, "POST", path, bytes);
    const token = encodeURIComponent(host.auth);
    assert.equal(await post(`/mms/document/${encSha256}?auth=wrong&token=${encSha256}`, body), 401);
    assert.equal(
      await post(`/mms/document/${encSha256}?auth=${token}&token=${encSha256}`, randomBytes(48)),
      400,
    );
    assert.equal(await post(`/mms/document/${encSha256}?auth=${token}&token=${encSha256}`, body), 200);
    assert.equal(await fetchStatus(host, "GET", "/v/t62.7119-24/0_0_n.enc", Buffer.alloc(0)), 404);
  });

  it("describes itself in a media_conn node Baileys can read", () => {
    const node = host.mediaConnNode();
    assert.equal(node.tag, "media_conn");
    assert.equal(node.attrs.auth, host.auth);
    assert.ok(Number(node.attrs.ttl) > 0);
    assert.ok(Array.isArray(node.content));
    const [hostNode] = node.content;
    assert.equal(hostNode?.tag, "host");
    assert.equal(hostNode.attrs.hostname, host.hostname);
    assert.ok(Number(hostNode.attrs.maxContentLengthBytes) > 0);
  });
});

/** A raw request through the trusting agent, for what Baileys itself never sends. */
function fetchStatus(host: MediaHost, method: string, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `https://${host.hostname}${path}`,
      { method, agent: host.agent(), headers: { "content-length": body.length } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

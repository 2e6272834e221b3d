// The media library through the API (app.inject against real NATS and Redis): files stored in the
// Object Store, listed, read and deleted; the type told from the bytes (a `.jpg` that is a program
// is a 415), WhatsApp's size limits (a 100 MiB document is a 413, streamed, never held in memory);
// and blasts that carry an attachment, by id or uploaded with them, refused before anything is
// queued when the file is missing, too big or not what it says.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { BLAST_EVENTS, SEND_WORK } from "../../../shared/nats/topology.ts";
import { startGatewayWithServers, multipart, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { eventually } from "../../harness/platform.ts";

interface Media {
  mediaId: string;
  kind: string;
  mimetype: string;
  fileName: string;
  size: number;
  sha256: string;
}

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(300, 7),
]);
const EXE = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(200, 1)]);
const OPUS = Buffer.concat([
  Buffer.from("OggS"),
  Buffer.alloc(24),
  Buffer.from("OpusHead"),
  Buffer.alloc(100, 3),
]);
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * A multipart body with fields and files whose content is produced as it is read: a 100 MiB file
 * costs one 1 MiB buffer, reused.
 */
function streamedForm(
  fields: Record<string, string>,
  files: Array<{ field: string; filename: string; head: Buffer; size: number; type?: string }>,
) {
  const boundary = `----wa-blast-media-${Math.random().toString(16).slice(2)}`;
  const filler = Buffer.alloc(1024 * 1024, 0x20);
  async function* parts() {
    for (const [name, value] of Object.entries(fields)) {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      );
    }
    for (const f of files) {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.filename}"\r\n` +
          `Content-Type: ${f.type ?? "application/octet-stream"}\r\n\r\n`,
      );
      yield f.head;
      for (let left = f.size - f.head.length; left > 0; left -= filler.length) {
        yield left >= filler.length ? filler : filler.subarray(0, left);
      }
      yield Buffer.from("\r\n");
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return {
    payload: Readable.from(parts()),
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  };
}

describe("media library API", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  const upload = (filename: string, data: Buffer) =>
    gw.inject({ method: "POST", url: "/api/media", ...multipart({}, { field: "file", filename, data }) });
  /** A multipart blast with an attachment, refused for its recipients (none is a phone number). */
  const refusedBlastUploading = (filename: string) =>
    gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...streamedForm({ sessionId: "s1", message: "Hi" }, [
        { field: "recipientsFile", filename: "r.csv", head: Buffer.from("phone\nnot-a-phone\n"), size: 18 },
        { field: "media", filename, head: PNG, size: PNG.length, type: "image/png" },
      ]),
    });
  const library = async () => (await gw.inject("/api/media")).json<{ items: Media[] }>().items;
  const messages = async (stream: string) => (await gw.nats.jsm.streams.info(stream)).state.messages;
  const nothingQueued = async () => ({
    work: await messages(SEND_WORK),
    events: await messages(BLAST_EVENTS),
  });

  it("stores a file, told from its bytes, and lists, reads and deletes it", async () => {
    const res = await upload("banner.png", PNG);
    assert.equal(res.statusCode, 201, res.body);
    const media = res.json<Media>();
    assert.match(media.mediaId, /^m_/);
    assert.deepEqual(
      { kind: media.kind, mimetype: media.mimetype, fileName: media.fileName, size: media.size },
      { kind: "image", mimetype: "image/png", fileName: "banner.png", size: PNG.length },
    );
    assert.equal(media.sha256, sha256(PNG));
    assert.ok((await library()).some((m) => m.mediaId === media.mediaId));
    assert.equal((await gw.inject(`/api/media/${media.mediaId}`)).json<Media>().sha256, sha256(PNG));
    assert.equal((await gw.inject("/api/media/no.such")).statusCode, 400);
    assert.equal((await gw.inject("/api/media/m_missing")).statusCode, 404);
    assert.equal((await gw.inject({ method: "DELETE", url: `/api/media/${media.mediaId}` })).statusCode, 204);
    assert.equal((await gw.inject(`/api/media/${media.mediaId}`)).statusCode, 404);
    assert.equal((await gw.inject({ method: "DELETE", url: `/api/media/${media.mediaId}` })).statusCode, 404);
  });

  it("keeps one copy of the same file: uploading it again (or with a blast) answers the file already there", async () => {
    const first = (await upload("flyer.png", PNG)).json<Media>();
    const again = await upload("flyer.png", PNG);
    assert.equal(again.statusCode, 201, again.body);
    assert.equal(again.json<Media>().mediaId, first.mediaId);
    const renamed = (await upload("other-name.png", PNG)).json<Media>();
    assert.notEqual(renamed.mediaId, first.mediaId, "a document's name is what recipients see: another file");
    const before = (await library()).length;
    // A blast refused after its upload keeps the library as it was: the file it matched stays.
    assert.equal((await refusedBlastUploading("flyer.png")).statusCode, 400);
    assert.equal((await library()).length, before);
    assert.equal((await gw.inject(`/api/media/${first.mediaId}`)).statusCode, 200);
    // Deleted, the same bytes are a new file again.
    await gw.inject({ method: "DELETE", url: `/api/media/${first.mediaId}` });
    assert.notEqual((await upload("flyer.png", PNG)).json<Media>().mediaId, first.mediaId);
  });

  it("refuses a .jpg that is really a program (415) and keeps nothing of it", async () => {
    const before = (await library()).length;
    const res = await upload("cute-cat.jpg", EXE);
    assert.equal(res.statusCode, 415, res.body);
    assert.match(res.json<{ message: string }>().message, /program/);
    const text = await upload("cute-cat.jpg", Buffer.from("not an image at all"));
    assert.equal(text.statusCode, 415);
    assert.equal((await library()).length, before);
  });

  it("refuses a 100 MiB document (413) in the library and with a blast, queueing nothing", async () => {
    const before = { files: (await library()).length, ...(await nothingQueued()) };
    const big = { filename: "catalogue.pdf", head: Buffer.from("%PDF-1.7\n"), size: 100 * 1024 * 1024 };
    const res = await gw.inject({
      method: "POST",
      url: "/api/media",
      ...streamedForm({}, [{ field: "file", ...big }]),
    });
    assert.equal(res.statusCode, 413, res.body);
    const blast = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...streamedForm({ sessionId: "s1", message: "Hi {name}" }, [
        {
          field: "recipientsFile",
          filename: "r.csv",
          head: Buffer.from("phone,name\n+12025550100,Ana\n"),
          size: 28,
        },
        { field: "media", ...big },
      ]),
    });
    assert.equal(blast.statusCode, 413, blast.body);
    assert.deepEqual({ files: (await library()).length, ...(await nothingQueued()) }, before);
  });

  it("starts a blast with a library file by id, shows it, and keeps the file while the blast runs", async () => {
    const media = (await upload("menu.png", PNG)).json<Media>();
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: {
        sessionId: "s1",
        message: "Hi {name}",
        mediaId: media.mediaId,
        recipients: [{ phone: "+12025550100", name: "Ana" }],
      },
    });
    assert.equal(res.statusCode, 202, res.body);
    const { blastId } = res.json<{ blastId: string }>();
    const summary = await eventually(async () => {
      const r = await gw.inject(`/api/blasts/${blastId}`);
      return r.statusCode === 200 ? r.json<{ media?: Media }>() : undefined;
    });
    assert.equal(summary.media?.sha256, media.sha256);
    assert.equal(summary.media?.kind, "image");
    const refused = await gw.inject({ method: "DELETE", url: `/api/media/${media.mediaId}` });
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal((await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/cancel` })).statusCode, 200);
    await eventually(async () => {
      const r = await gw.inject({ method: "DELETE", url: `/api/media/${media.mediaId}` });
      return r.statusCode === 204 ? true : undefined;
    });
  });

  it("uploads the attachment with a multipart blast, into the library", async () => {
    const form = streamedForm({ sessionId: "s1", message: "Our menu, {name}" }, [
      {
        field: "recipientsFile",
        filename: "r.csv",
        head: Buffer.from("phone,name\n+12025550101,Bo\n"),
        size: 27,
      },
      { field: "media", filename: "menu.png", head: PNG, size: PNG.length, type: "image/png" },
    ]);
    const res = await gw.inject({ method: "POST", url: "/api/blasts", ...form });
    assert.equal(res.statusCode, 202, res.body);
    const { blastId } = res.json<{ blastId: string }>();
    const summary = await eventually(async () => {
      const r = await gw.inject(`/api/blasts/${blastId}`);
      return r.statusCode === 200 ? r.json<{ media?: Media }>() : undefined;
    });
    assert.equal(summary.media?.sha256, sha256(PNG));
    assert.ok((await library()).some((m) => m.mediaId === summary.media?.mediaId));
    await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/cancel` });
    // A blast refused after its upload was stored keeps nothing of it: nobody learnt the id.
    const files = (await library()).length;
    // A name the library has no file under: this upload is stored, then discarded.
    assert.equal((await refusedBlastUploading("menu-refused.png")).statusCode, 400);
    assert.equal((await library()).length, files);
  });

  it("refuses a blast whose attachment is missing, of the wrong type, or audio with a caption", async () => {
    const before = await nothingQueued();
    const recipients = [{ phone: "+12025550100", name: "Ana" }];
    const missing = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", message: "Hi", mediaId: "m_gone", recipients },
    });
    assert.equal(missing.statusCode, 404, missing.body);
    const badId = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", message: "Hi", mediaId: "../x", recipients },
    });
    assert.equal(badId.statusCode, 400);
    const exe = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      ...streamedForm({ sessionId: "s1", message: "Hi" }, [
        { field: "recipientsFile", filename: "r.csv", head: Buffer.from("phone\n+12025550100\n"), size: 19 },
        { field: "media", filename: "photo.jpg", head: EXE, size: EXE.length, type: "image/jpeg" },
      ]),
    });
    assert.equal(exe.statusCode, 415, exe.body);
    const voice = (await upload("note.ogg", OPUS)).json<Media>();
    assert.equal(voice.kind, "audio");
    const captioned = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", message: "Hi", mediaId: voice.mediaId, recipients },
    });
    assert.equal(captioned.statusCode, 400, captioned.body);
    assert.match(captioned.json<{ message: string }>().message, /caption/);
    const textless = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", recipients },
    });
    assert.equal(textless.statusCode, 400);
    assert.deepEqual(await nothingQueued(), before);
    const preview = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      payload: { sessionId: "s1", mediaId: voice.mediaId, recipients },
    });
    assert.equal(preview.statusCode, 200, preview.body);
    assert.equal(preview.json<{ messages: Array<{ text: string }> }>().messages[0]?.text, "");
  });
});

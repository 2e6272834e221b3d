// Attachments are told from their bytes, not their names, and held to WhatsApp's limits per kind.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MEDIA_SIZE_LIMITS, detectMedia, mediaFileName, sniffMedia } from "../../../shared/domain/media.ts";

const bytes = (...parts: Array<string | number[]>) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0], "JFIF");
const PNG = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const WEBP = bytes("RIFF", [1, 2, 3, 4], "WEBPVP8 ");
const MP4 = bytes([0, 0, 0, 0x20], "ftypisom");
const PDF = bytes("%PDF-1.7\n");
const OPUS = bytes("OggS", [0, 2], new Array<number>(22).fill(0), [1, 0x13], "OpusHead");
const MP3_ID3 = bytes("ID3", [4, 0]);
const MP3_FRAME = bytes([0xff, 0xfb, 0x90, 0x64]);
const EXE = bytes("MZ", [0x90, 0]);
const ELF = bytes([0x7f], "ELF", [2, 1, 1]);

describe("media detection", () => {
  it("recognises each supported type by its magic bytes", () => {
    assert.deepEqual(sniffMedia(JPEG), { kind: "image", mimetype: "image/jpeg" });
    assert.deepEqual(sniffMedia(PNG), { kind: "image", mimetype: "image/png" });
    assert.deepEqual(sniffMedia(WEBP), { kind: "image", mimetype: "image/webp" });
    assert.deepEqual(sniffMedia(MP4), { kind: "video", mimetype: "video/mp4" });
    assert.deepEqual(sniffMedia(PDF), { kind: "document", mimetype: "application/pdf" });
    assert.deepEqual(sniffMedia(OPUS), { kind: "audio", mimetype: "audio/ogg; codecs=opus" });
    assert.deepEqual(sniffMedia(MP3_ID3), { kind: "audio", mimetype: "audio/mpeg" });
    assert.deepEqual(sniffMedia(MP3_FRAME), { kind: "audio", mimetype: "audio/mpeg" });
    assert.equal(sniffMedia(bytes("hello")), undefined);
  });

  it("believes the bytes over the name: a PNG named .jpg is an image/png", () => {
    assert.deepEqual(detectMedia(PNG, 100, { fileName: "photo.jpg", mimetype: "image/jpeg" }), {
      ok: true,
      kind: "image",
      mimetype: "image/png",
    });
  });

  it("refuses a program whatever it is named, and a .jpg that is not an image", () => {
    const exe = detectMedia(EXE, 100, { fileName: "cat.jpg", mimetype: "image/jpeg" });
    assert.equal(exe.ok, false);
    assert.equal(!exe.ok && exe.status, 415);
    assert.equal(!detectMedia(ELF, 100, { fileName: "tool.pdf" }).ok, true);
    const text = detectMedia(bytes("just text"), 9, { fileName: "cat.jpg" });
    assert.equal(!text.ok && text.status, 415);
    const pdfAsImage = detectMedia(PDF, 9, { mimetype: "image/png" });
    assert.equal(!pdfAsImage.ok && pdfAsImage.status, 415);
    const empty = detectMedia(new Uint8Array(), 0, { fileName: "a.pdf" });
    assert.equal(!empty.ok && empty.status, 415);
  });

  it("sends any other file as a document with its own label", () => {
    assert.deepEqual(detectMedia(bytes("a,b\n1,2\n"), 8, { fileName: "list.csv", mimetype: "text/csv" }), {
      ok: true,
      kind: "document",
      mimetype: "text/csv",
    });
    assert.deepEqual(detectMedia(bytes("PK", [3, 4]), 8, { fileName: "a.zip" }), {
      ok: true,
      kind: "document",
      mimetype: "application/octet-stream",
    });
  });

  it("holds each kind to WhatsApp's limit, in decimal megabytes", () => {
    assert.deepEqual(MEDIA_SIZE_LIMITS, {
      image: 5_000_000,
      video: 16_000_000,
      audio: 16_000_000,
      document: 100_000_000,
    });
    assert.equal(detectMedia(JPEG, 5_000_000).ok, true);
    const bigImage = detectMedia(JPEG, 5_000_001);
    assert.equal(!bigImage.ok && bigImage.status, 413);
    assert.equal(detectMedia(MP4, 16_000_000).ok, true);
    assert.equal(!detectMedia(MP3_ID3, 16_000_001).ok, true);
    assert.equal(detectMedia(PDF, 100_000_000).ok, true);
    const mebibytes = detectMedia(PDF, 100 * 1024 * 1024);
    assert.equal(!mebibytes.ok && mebibytes.status, 413);
  });

  it("keeps a file name to a plain, bounded base name", () => {
    assert.equal(mediaFileName("../../etc/pass\u0000wd", "file"), "passwd");
    assert.equal(mediaFileName(undefined, "file"), "file");
    assert.equal(mediaFileName("x".repeat(300), "file").length, 200);
  });
});

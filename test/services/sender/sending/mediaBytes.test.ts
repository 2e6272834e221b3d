// A blast's attachment is read from the library once per sender process, however many recipients
// and sessions send it at once; bytes that are not what the blast was created with are never sent.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MediaBytes } from "../../../../services/sender/sending/mediaBytes.ts";
import type { MediaRef } from "../../../../shared/domain/media.ts";

const refOf = (mediaId: string, bytes: Uint8Array): MediaRef => ({
  mediaId,
  kind: "document",
  mimetype: "application/pdf",
  fileName: `${mediaId}.pdf`,
  sha256: createHash("sha256").update(bytes).digest("hex"),
  size: bytes.byteLength,
});

describe("media bytes cache", () => {
  it("reads each file once for concurrent and later sends", async () => {
    const file = new Uint8Array(1000).fill(7);
    let reads = 0;
    const cache = new MediaBytes(async () => {
      reads++;
      await new Promise((r) => setTimeout(r, 5));
      return file;
    });
    const ref = refOf("m_a", file);
    const got = await Promise.all(Array.from({ length: 20 }, () => cache.get(ref)));
    assert.ok(got.every((bytes) => bytes === file));
    await cache.get(ref);
    assert.equal(reads, 1);
  });

  it("refuses bytes that changed or are gone, and drops the least recently used past its size", async () => {
    const files = new Map<string, Uint8Array>([
      ["m_a", new Uint8Array(600).fill(1)],
      ["m_b", new Uint8Array(600).fill(2)],
    ]);
    const reads: string[] = [];
    const cache = new MediaBytes(async (id) => {
      reads.push(id);
      return files.get(id);
    }, 1000);
    const a = refOf("m_a", files.get("m_a")!);
    const b = refOf("m_b", files.get("m_b")!);
    await cache.get(a);
    await cache.get(b);
    await cache.get(a);
    assert.deepEqual(reads, ["m_a", "m_b", "m_a"], "a was dropped to make room for b");
    assert.equal(await cache.get({ ...a, sha256: "0".repeat(64) }), undefined);
    assert.equal(await cache.get(refOf("m_gone", new Uint8Array(3))), undefined);
  });
});

// A blast's attachment, read from the media library once per sender process and kept in memory
// while blasts send it: every recipient (and every account this sender runs) gets the same bytes
// without another read of the Object Store. Bounded by total size, least recently used out first.
import { createHash } from "node:crypto";
import type { MediaRef } from "../../../shared/domain/media.ts";
import type { MediaContent } from "../transports/transport.ts";

/** Enough for a few large documents at once; a 100 MB document alone still fits. */
const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

export class MediaBytes {
  private readonly held = new Map<string, Uint8Array>();
  private readonly loading = new Map<string, Promise<Uint8Array | undefined>>();
  private heldBytes = 0;

  constructor(
    /** Reads the whole file from the library; undefined when it is gone. */
    private readonly load: (mediaId: string) => Promise<Uint8Array | undefined>,
    private readonly maxBytes = DEFAULT_MAX_BYTES,
  ) {}

  /**
   * The attachment's bytes, or undefined when the library no longer has them as the blast was
   * created with them (deleted, or replaced by other bytes under the same id).
   */
  async get(media: MediaRef): Promise<Uint8Array | undefined> {
    const key = `${media.mediaId}:${media.sha256}`;
    const held = this.held.get(key);
    if (held) {
      // Refreshed as most recently used.
      this.held.delete(key);
      this.held.set(key, held);
      return held;
    }
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.read(key, media).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  private async read(key: string, media: MediaRef): Promise<Uint8Array | undefined> {
    const bytes = await this.load(media.mediaId);
    if (!bytes || createHash("sha256").update(bytes).digest("hex") !== media.sha256) return undefined;
    if (bytes.byteLength <= this.maxBytes) {
      this.held.set(key, bytes);
      this.heldBytes += bytes.byteLength;
      for (const [oldest, old] of this.held) {
        if (this.heldBytes <= this.maxBytes) break;
        this.held.delete(oldest);
        this.heldBytes -= old.byteLength;
      }
    }
    return bytes;
  }
}

/** What the transport sends for an attachment: the message as its caption, none under audio. */
export function mediaContentOf(media: MediaRef, body: Uint8Array, text: string): MediaContent {
  const { mediaId, kind, mimetype, fileName, sha256 } = media;
  return {
    kind,
    body,
    mimetype,
    fileName,
    sha256,
    mediaId,
    ...(text !== "" && kind !== "audio" ? { caption: text } : {}),
    // WhatsApp plays an Opus file as a voice note; an MP3 goes as an audio file.
    ...(kind === "audio" ? { voiceNote: mimetype.startsWith("audio/ogg") } : {}),
  };
}

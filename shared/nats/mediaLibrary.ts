// The media library: attachments kept in the JetStream Object Store bucket MEDIA_BUCKET, one object
// per media id, chunked by NATS, with what the API shows of it (kind, mimetype, name, SHA-256) in
// the object's metadata. The bytes never go to Redis nor into send work; senders read them here.
import { Readable } from "node:stream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import type { MediaKind, MediaRef } from "../domain/media.ts";
import { MEDIA_BUCKET, mediaBucketConfig } from "./topology.ts";

/** One file of the library, as listed. */
export interface StoredMedia extends MediaRef {
  readonly createdAt: string;
}

const KINDS: ReadonlySet<string> = new Set<MediaKind>(["image", "video", "document", "audio"]);

/**
 * Creates the bucket with `replicas` copies if it is missing; safe to run from every process at
 * every start. An existing bucket is kept as it is (`ensureStreams` sets its replicas).
 */
export async function ensureMediaBucket(jsm: JetStreamManager, replicas = 1): Promise<void> {
  try {
    await new Objm(jsm.jetstream()).create(MEDIA_BUCKET, mediaBucketConfig(replicas));
  } catch (err) {
    // Another process created it between the library's look and its add.
    if (!String(err).includes("already in use")) throw err;
  }
}

function storedOf(info: ObjectInfo): StoredMedia | undefined {
  const m = info.metadata ?? {};
  if (info.deleted || !m.kind || !KINDS.has(m.kind) || !m.sha256 || !m.mimetype) return undefined;
  return {
    mediaId: info.name,
    kind: m.kind as MediaKind,
    mimetype: m.mimetype,
    fileName: m.fileName ?? info.name,
    sha256: m.sha256,
    size: info.size,
    createdAt: m.createdAt ?? "",
  };
}

export class MediaLibrary {
  private constructor(private readonly store: ObjectStore) {}

  static async open(js: JetStreamClient): Promise<MediaLibrary> {
    return new MediaLibrary(await new Objm(js).open(MEDIA_BUCKET));
  }

  /** Streams the file into the bucket; its metadata is what `describe` tells of it later. */
  async put(media: StoredMedia, body: AsyncIterable<Uint8Array>): Promise<void> {
    const { mediaId, kind, mimetype, fileName, sha256, createdAt } = media;
    const stream = Readable.toWeb(Readable.from(body)) as ReadableStream<Uint8Array>;
    await this.store.put(
      { name: mediaId, metadata: { kind, mimetype, fileName, sha256, createdAt } },
      stream,
    );
  }

  async describe(mediaId: string): Promise<StoredMedia | undefined> {
    const info = await this.store.info(mediaId);
    return info ? storedOf(info) : undefined;
  }

  /** Every file, newest first (ids are time-ordered). */
  async list(): Promise<StoredMedia[]> {
    const all = (await this.store.list()).map(storedOf).filter((m): m is StoredMedia => m !== undefined);
    return all.sort((a, b) => (a.mediaId < b.mediaId ? 1 : a.mediaId > b.mediaId ? -1 : 0));
  }

  /** The whole file, checked against NATS' digest on the way; undefined when it is gone. */
  async read(mediaId: string): Promise<Uint8Array | undefined> {
    const bytes = await this.store.getBlob(mediaId);
    return bytes ?? undefined;
  }

  /** True when there was such a file. */
  async delete(mediaId: string): Promise<boolean> {
    if (!(await this.store.info(mediaId))) return false;
    await this.store.delete(mediaId);
    return true;
  }
}

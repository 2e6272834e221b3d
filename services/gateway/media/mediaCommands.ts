// The media library behind the API: an uploaded file is checked from its bytes (kind, WhatsApp's
// limit for it) while it is still a spooled temporary file, then streamed into the Object Store.
// Nothing of a refused file reaches NATS.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import {
  detectMedia,
  MEDIA_SNIFF_BYTES,
  mediaFileName,
  type MediaRef,
} from "../../../shared/domain/media.ts";
import { isTerminal } from "../../../shared/domain/blast.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { Nats } from "../../../shared/nats/connection.ts";
import { MediaLibrary, type StoredMedia } from "../../../shared/nats/mediaLibrary.ts";
import { appKeys } from "../../../shared/redis/keys.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { uploadChunks, type UploadedFile } from "../http/uploads.ts";

const libraries = new WeakMap<Nats, Promise<MediaLibrary>>();

/** The library on this gateway's NATS connection, opened once. */
export function mediaLibraryOf(nats: Nats): Promise<MediaLibrary> {
  let library = libraries.get(nats);
  if (!library) {
    library = MediaLibrary.open(nats.js);
    library.catch(() => libraries.delete(nats));
    libraries.set(nats, library);
  }
  return library;
}

async function headOf(path: string): Promise<Uint8Array> {
  const file = await open(path, "r");
  try {
    const head = new Uint8Array(MEDIA_SNIFF_BYTES);
    const { bytesRead } = await file.read(head, 0, MEDIA_SNIFF_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

async function sha256Of(file: UploadedFile): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of uploadChunks(file)) hash.update(chunk);
  return hash.digest("hex");
}

/** What the spooled upload is as an attachment, or the 413/415 that refuses it. */
export async function checkUpload(file: UploadedFile): Promise<Omit<MediaRef, "mediaId">> {
  const verdict = detectMedia(await headOf(file.path), file.size, {
    fileName: file.filename,
    mimetype: file.mimetype,
  });
  if (!verdict.ok) throw new HttpError(verdict.status, verdict.reason);
  return {
    kind: verdict.kind,
    mimetype: verdict.mimetype,
    fileName: mediaFileName(file.filename, verdict.kind === "document" ? "document" : verdict.kind),
    sha256: await sha256Of(file),
    size: file.size,
  };
}

/** Files this process stored for the request at hand (not found in the library): only those are discarded. */
const freshUploads = new WeakSet<object>();

const contentField = (media: Pick<MediaRef, "kind" | "fileName">) => `${media.kind}:${media.fileName}`;

/**
 * Checks the upload and stores it in the library under a new id, unless the library has the same
 * bytes under the same name already: then that file is the answer, and nothing is stored twice.
 */
export async function storeUpload(deps: GatewayDeps, file: UploadedFile): Promise<StoredMedia> {
  const checked = await checkUpload(file);
  const library = await mediaLibraryOf(deps.nats);
  const byContent = appKeys(deps.config.REDIS_PREFIX).mediaByContent(checked.sha256);
  const known = await deps.redis.hget(byContent, contentField(checked));
  const existing = known ? await library.describe(known) : undefined;
  if (existing && existing.sha256 === checked.sha256) return existing;
  const media: StoredMedia = { mediaId: newId("m"), ...checked, createdAt: new Date().toISOString() };
  try {
    await library.put(media, uploadChunks(file));
  } catch (err) {
    throw new HttpError(503, `could not store the file: ${(err as Error).message}`);
  }
  await deps.redis.hset(byContent, contentField(media), media.mediaId);
  freshUploads.add(media);
  return media;
}

export async function getMedia(deps: GatewayDeps, mediaId: string): Promise<StoredMedia> {
  const media = await (await mediaLibraryOf(deps.nats)).describe(mediaId);
  if (!media) throw new HttpError(404, `media ${mediaId} not found`);
  return media;
}

export async function listMedia(deps: GatewayDeps): Promise<StoredMedia[]> {
  return (await mediaLibraryOf(deps.nats)).list();
}

/** Remembers that a blast sends this file, so it is not deleted under the blast. */
export async function recordMediaUse(deps: GatewayDeps, mediaId: string, blastId: string): Promise<void> {
  await deps.redis.sadd(appKeys(deps.config.REDIS_PREFIX).mediaBlasts(mediaId), blastId);
}

/**
 * Deletes a file no unfinished blast sends (409 otherwise: cancel the blast first, or wait for it
 * to complete). A finished blast keeps its media reference; its file is gone.
 */
export async function deleteMedia(deps: GatewayDeps, mediaId: string): Promise<void> {
  const library = await mediaLibraryOf(deps.nats);
  if (!(await library.describe(mediaId))) throw new HttpError(404, `media ${mediaId} not found`);
  const usesKey = appKeys(deps.config.REDIS_PREFIX).mediaBlasts(mediaId);
  const blastIds = await deps.redis.smembers(usesKey);
  const states = await Promise.all(blastIds.map((id) => deps.projection.summary(id)));
  const busy = blastIds.filter((_, i) => {
    const status = states[i]?.status;
    return status !== undefined && !isTerminal(status);
  });
  if (busy.length > 0) {
    throw new HttpError(409, `media ${mediaId} is sent by unfinished blast(s) ${busy.join(", ")}`, {
      blastIds: busy,
    });
  }
  await forget(deps, library, mediaId);
}

async function forget(deps: GatewayDeps, library: MediaLibrary, mediaId: string): Promise<void> {
  const media = await library.describe(mediaId);
  await library.delete(mediaId);
  const keys = appKeys(deps.config.REDIS_PREFIX);
  await deps.redis.del(keys.mediaBlasts(mediaId));
  if (media) await deps.redis.hdel(keys.mediaByContent(media.sha256), contentField(media));
}

/**
 * A blast's attachment: a library file by id, or one uploaded with the request (`store`: kept in
 * the library under a new id; a preview only checks it). Undefined for a text blast.
 */
export async function blastMediaOf(
  deps: GatewayDeps,
  mediaId: string | undefined,
  upload: UploadedFile | undefined,
  store: boolean,
): Promise<MediaRef | undefined> {
  if (mediaId !== undefined && upload) {
    throw new HttpError(400, "give mediaId (a library file) or a `media` upload, not both");
  }
  if (mediaId !== undefined) {
    const { createdAt: _createdAt, ...media } = await getMedia(deps, mediaId);
    return media;
  }
  if (!upload) return undefined;
  if (!store) return { mediaId: "", ...(await checkUpload(upload)) };
  const stored = await storeUpload(deps, upload);
  const { createdAt: _createdAt, ...media } = stored;
  if (freshUploads.has(stored)) freshUploads.add(media);
  return media;
}

/**
 * Removes a file uploaded with a blast that was then refused, if this request stored it: nobody
 * was told its id. A file the library already had stays.
 */
export async function discardUpload(deps: GatewayDeps, media: MediaRef): Promise<void> {
  if (!freshUploads.has(media)) return;
  await forget(deps, await mediaLibraryOf(deps.nats), media.mediaId);
}

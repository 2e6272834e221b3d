// One upload per account per file. Baileys reuses an upload only for media given by URL, through
// its `mediaCache` keyed `<kind>:<url>`: an attachment with a known SHA-256 is handed over as a
// file named by that hash, so the key names the bytes, and the cache lives in Redis per account,
// where a restarted sender finds it. A hit sends WhatsApp's copy again (same URL and media key,
// thumbnail included) with this recipient's caption; the bytes are not read at all.
import { randomUUID } from "node:crypto";
import { mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CacheStore } from "@whiskeysockets/baileys";
import type { Redis } from "ioredis";
import { appKeys } from "../../../../shared/redis/keys.ts";

/** An upload is reused for a day: long enough for a blast's sending day, well within WhatsApp's keep. */
const UPLOAD_REUSE_SECONDS = 24 * 3600;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const CACHE_KEY = /^([a-z-]+):.*[\\/]([0-9a-f]{64})$/;

/** This process' own folder (mode 0700, made on first use): nobody else can plant a file in it. */
let spoolDir: Promise<string> | undefined;

/** Baileys' media cache for one account, in Redis. Keys that are not our hashed files are not kept. */
export function redisMediaUploads(redis: Redis, prefix: string, sessionId: string): CacheStore {
  const keys = appKeys(prefix);
  const redisKey = (key: string) => {
    const match = CACHE_KEY.exec(key);
    return match?.[1] && match[2] ? keys.mediaUpload(sessionId, match[1], match[2]) : undefined;
  };
  return {
    async get<T>(key: string): Promise<T> {
      const k = redisKey(key);
      const stored = k ? await redis.getBuffer(k) : null;
      // Baileys' type says T; a miss is `undefined`, which it checks for.
      return (stored ? new Uint8Array(stored) : undefined) as T;
    },
    async set<T>(key: string, value: T): Promise<void> {
      const k = redisKey(key);
      if (k && value instanceof Uint8Array)
        await redis.set(k, Buffer.from(value), "EX", UPLOAD_REUSE_SECONDS);
    },
    async del(key: string): Promise<void> {
      const k = redisKey(key);
      if (k) await redis.del(k);
    },
    flushAll: () => undefined,
  };
}

/**
 * The bytes as a file named by their SHA-256, written once per process (a failure halfway leaves
 * only a temporary name), for Baileys to read on a cache miss.
 */
export async function hashedMediaFile(sha256: string, body: Uint8Array): Promise<string | undefined> {
  if (!SHA256_HEX.test(sha256)) return undefined;
  spoolDir ??= mkdtemp(join(tmpdir(), "wa-blast-media-")).catch((err: unknown) => {
    spoolDir = undefined;
    throw err;
  });
  const path = join(await spoolDir, sha256);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.size === body.byteLength) return path;
  const partial = `${path}.${randomUUID()}.part`;
  await writeFile(partial, body, { mode: 0o600 });
  await rename(partial, path);
  return path;
}

/** Removes this process's hashed files (at stop): a sender that is killed leaves them to the OS's tmp cleaning. */
export async function removeHashedMediaFiles(): Promise<void> {
  const dir = spoolDir;
  spoolDir = undefined;
  if (dir) await rm(await dir, { recursive: true, force: true }).catch(() => undefined);
}

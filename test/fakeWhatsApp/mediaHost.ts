// A loopback stand-in for WhatsApp's media host (mmg.whatsapp.net). Real Baileys encrypts media,
// uploads it over HTTPS to the host named in the server's `media_conn` answer and sends only the
// keys and the path in the message; without a host that stores the upload, the fake recipient could
// never check that what it receives is the exact file that was sent. The recipient side
// (`decryptMedia`) is written from the protocol, not with Baileys' downloader, so a bug in Baileys'
// media encryption shows up as a failed check instead of being mirrored.
import { getMediaKeys, MEDIA_PATH_MAP, type BinaryNode, type proto } from "@whiskeysockets/baileys";
import { execFile } from "node:child_process";
import { createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isIPv6 } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The media kinds a campaign sends; each has its own upload path and HKDF info string. */
export type MediaKind = "image" | "video" | "document" | "audio";

const MEDIA_KINDS: readonly MediaKind[] = ["image", "video", "document", "audio"];

/** The `t62.*` segment the real CDN puts in direct paths, so paths look like the ones phones see. */
const CDN_PATH_SEGMENT: Record<MediaKind, string> = {
  image: "t62.7118-24",
  video: "t62.7161-24",
  document: "t62.7119-24",
  audio: "t62.7117-24",
};

/** Baileys sends the file's MAC as the last 10 bytes of the upload. */
const MAC_LENGTH = 10;
const AES_BLOCK = 16;

export interface StoredUpload {
  readonly kind: MediaKind;
  /** The upload path prefix, e.g. "/mms/image". */
  readonly mediaPath: string;
  /** fileEncSha256 as it appeared in the URL (base64url, no padding). */
  readonly encSha256: string;
  /** The `auth` query parameter the client sent. */
  readonly auth: string;
  /** What the client uploaded: ciphertext followed by the 10-byte MAC. */
  readonly bytes: Buffer;
  readonly directPath: string;
  readonly url: string;
  readonly at: number;
}

/** Every POST the host answered, accepted or not, so a test can see retries and rejections. */
export interface UploadAttempt {
  readonly mediaPath: string;
  readonly encSha256: string;
  readonly auth: string;
  readonly byteLength: number;
  readonly status: number;
  /** Why the host refused it; undefined when stored. */
  readonly reason: string | undefined;
}

export interface UploadRejection {
  readonly status: number;
  readonly reason: string;
  /** How many uploads fail; every one until cleared when omitted. */
  times?: number;
}

export interface MediaHostOptions {
  /** Loopback address to listen on; 127.0.0.1 by default. */
  readonly host?: string;
  /** Announced in media_conn and enforced on uploads; 100 MiB by default. */
  readonly maxContentLengthBytes?: number;
}

export interface MediaHost {
  /** `<address>:<port>`, what media_conn's `host` carries and what URLs are built from. */
  readonly hostname: string;
  /** The throw-away self-signed certificate; trust it to talk to the host. */
  readonly caPem: string;
  /** The upload token media_conn hands out. */
  readonly auth: string;
  /** An agent trusting `caPem`; pass it as Baileys' `fetchAgent`. */
  agent(): https.Agent;
  /** The `<media_conn>` child of the `w:m` iq result that points Baileys at this host. */
  mediaConnNode(): BinaryNode;
  rejectUploads(rule: UploadRejection | null): void;
  uploads(): StoredUpload[];
  attempts(): UploadAttempt[];
  /** Replaces the stored bytes behind `directPath`, as a corrupting CDN would. */
  tamperUpload(directPath: string, mutate: (bytes: Buffer) => Buffer): void;
  close(): Promise<void>;
}

/** The fields of an image/video/document/audio message the recipient needs to fetch and check it. */
export interface DownloadableMedia {
  readonly mediaKey?: Uint8Array | null;
  readonly directPath?: string | null;
  readonly fileSha256?: Uint8Array | null;
  readonly fileEncSha256?: Uint8Array | null;
}

interface Certificate {
  readonly keyPem: string;
  readonly certPem: string;
}

/** A fresh key and certificate per host: nothing long-lived to leak, nothing to check in. */
async function selfSignedCertificate(address: string): Promise<Certificate> {
  const dir = await mkdtemp(join(tmpdir(), "fake-wa-media-"));
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    const altNames = ["IP:127.0.0.1", "IP:::1", "DNS:localhost"];
    if (address !== "127.0.0.1" && address !== "::1" && address !== "localhost") {
      altNames.push(isIPv6(address) || /^[\d.]+$/.test(address) ? `IP:${address}` : `DNS:${address}`);
    }
    await execFileAsync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=fake-whatsapp-media",
      "-addext",
      `subjectAltName=${altNames.join(",")}`,
    ]);
    return { keyPem: await readFile(keyPath, "utf8"), certPem: await readFile(certPath, "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function kindOfMediaPath(mediaPath: string): MediaKind | undefined {
  return MEDIA_KINDS.find((kind) => MEDIA_PATH_MAP[kind] === mediaPath);
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a whole body, keeping at most `limit` bytes: the rest is drained, not stored. */
async function readBody(
  stream: IncomingMessage,
  limit = Infinity,
): Promise<{ bytes: Buffer; length: number }> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const piece = chunk as Buffer;
    length += piece.length;
    if (length <= limit) chunks.push(piece);
  }
  return { bytes: Buffer.concat(chunks), length };
}

export async function startMediaHost(options: MediaHostOptions = {}): Promise<MediaHost> {
  const address = options.host ?? "127.0.0.1";
  const maxContentLengthBytes = options.maxContentLengthBytes ?? 100 * 1024 * 1024;
  const { keyPem, certPem } = await selfSignedCertificate(address);
  // Base64 with "+" and "/" on purpose: Baileys URL-encodes the token, and the host must decode it.
  const auth = randomBytes(30).toString("base64");
  const stored = new Map<string, StoredUpload>();
  const attempts: UploadAttempt[] = [];
  let rejection: UploadRejection | null = null;
  let hostname = "";

  const handleUpload = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const slash = url.pathname.lastIndexOf("/");
    const mediaPath = url.pathname.slice(0, slash);
    const encSha256 = decodeURIComponent(url.pathname.slice(slash + 1));
    const authSeen = url.searchParams.get("auth") ?? "";
    // The body is drained before any answer so the client never sees a reset mid-upload.
    const { bytes, length } = await readBody(req, maxContentLengthBytes);
    const refuse = (status: number, reason: string) => {
      attempts.push({ mediaPath, encSha256, auth: authSeen, byteLength: length, status, reason });
      // No `url`/`direct_path` in the body: that, not the status code, is what Baileys treats as failure.
      sendJson(res, status, { status, reason });
    };
    const kind = kindOfMediaPath(mediaPath);
    if (!kind) return refuse(404, `no media upload path ${mediaPath}`);
    if (rejection) {
      const { status, reason } = rejection;
      if (rejection.times !== undefined && --rejection.times <= 0) rejection = null;
      return refuse(status, reason);
    }
    if (authSeen !== auth) return refuse(401, "bad auth token");
    if (length > maxContentLengthBytes) return refuse(413, "content too large");
    if (url.searchParams.get("token") !== encSha256) return refuse(400, "token does not match the path");
    if (!sha256(bytes).equals(Buffer.from(encSha256, "base64url"))) {
      return refuse(400, "body sha256 does not match the fileEncSha256 in the path");
    }
    const objectId = `${randomBytes(4).readUInt32BE()}_${randomBytes(8).readBigUInt64BE()}`;
    const signature = randomBytes(24).toString("base64url");
    const expiry = (Math.floor(Date.now() / 1000) + 30 * 24 * 3600).toString(16).toUpperCase();
    const directPath = `/v/${CDN_PATH_SEGMENT[kind]}/${objectId}_n.enc?ccb=11-4&oh=01_${signature}&oe=${expiry}&_nc_sid=5e03e0`;
    const upload: StoredUpload = {
      kind,
      mediaPath,
      encSha256,
      auth: authSeen,
      bytes,
      directPath,
      url: `https://${hostname}${directPath}&mms3=true`,
      at: Date.now(),
    };
    stored.set(new URL(directPath, "https://media.invalid").pathname, upload);
    attempts.push({
      mediaPath,
      encSha256,
      auth: authSeen,
      byteLength: bytes.length,
      status: 200,
      reason: undefined,
    });
    sendJson(res, 200, { url: upload.url, direct_path: directPath, handle: null, object_id: objectId });
  };

  const handleDownload = (res: ServerResponse, url: URL) => {
    const upload = stored.get(url.pathname);
    if (!upload) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": upload.bytes.length });
    res.end(upload.bytes);
  };

  const server = https.createServer({ key: keyPem, cert: certPem }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://media.invalid");
    const handled =
      req.method === "POST"
        ? handleUpload(req, res, url)
        : req.method === "GET"
          ? Promise.resolve(handleDownload(res, url))
          : Promise.resolve(void res.writeHead(405).end());
    handled.catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { status: 500, reason: String(error) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  hostname = `${isIPv6(address) ? `[${address}]` : address}:${port}`;
  const trustingAgent = new https.Agent({ ca: certPem });

  return {
    hostname,
    caPem: certPem,
    auth,
    agent: () => trustingAgent,
    mediaConnNode: () => ({
      tag: "media_conn",
      attrs: { auth, ttl: "21600", auth_ttl: "21600", max_buckets: "12" },
      content: [{ tag: "host", attrs: { hostname, maxContentLengthBytes: `${maxContentLengthBytes}` } }],
    }),
    rejectUploads: (rule) => {
      rejection = rule ? { ...rule } : null;
    },
    uploads: () => [...stored.values()],
    attempts: () => [...attempts],
    tamperUpload: (directPath, mutate) => {
      const key = new URL(directPath, "https://media.invalid").pathname;
      const upload = stored.get(key);
      if (!upload) throw new Error(`no upload stored at ${directPath}`);
      stored.set(key, { ...upload, bytes: mutate(Buffer.from(upload.bytes)) });
    },
    close: async () => {
      trustingAgent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function download(host: MediaHost, directPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `https://${host.hostname}${directPath}`,
      { agent: host.agent(), headers: { Origin: "https://web.whatsapp.com" } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`media download of ${directPath} answered HTTP ${res.statusCode}`));
          return;
        }
        readBody(res).then(({ bytes }) => resolve(bytes), reject);
      },
    );
    request.on("error", reject);
  });
}

function required<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined || (value instanceof Uint8Array && value.length === 0)) {
    throw new Error(`media message has no ${field}`);
  }
  return value;
}

/**
 * What the recipient's phone does with a media message: fetch the upload, check it is the file the
 * sender hashed, check its MAC, decrypt it and check the plaintext hash. Throws on the first mismatch.
 */
export async function decryptMedia(
  host: MediaHost,
  media: DownloadableMedia,
  kind: MediaKind,
): Promise<Buffer> {
  const mediaKey = required(media.mediaKey, "mediaKey");
  const directPath = required(media.directPath, "directPath");
  const fileSha256 = Buffer.from(required(media.fileSha256, "fileSha256"));
  const fileEncSha256 = Buffer.from(required(media.fileEncSha256, "fileEncSha256"));

  const encrypted = await download(host, directPath);
  if (!sha256(encrypted).equals(fileEncSha256)) {
    throw new Error(
      `${kind} media: fileEncSha256 mismatch, the downloaded file is not the one the sender encrypted`,
    );
  }
  const cipherLength = encrypted.length - MAC_LENGTH;
  if (cipherLength < AES_BLOCK || cipherLength % AES_BLOCK !== 0) {
    throw new Error(
      `${kind} media: ${encrypted.length} bytes is not AES-CBC ciphertext plus a ${MAC_LENGTH}-byte MAC`,
    );
  }
  const ciphertext = encrypted.subarray(0, cipherLength);
  const mac = encrypted.subarray(cipherLength);
  const { iv, cipherKey, macKey } = await getMediaKeys(mediaKey, kind);
  if (!macKey) throw new Error(`${kind} media: no MAC key derived from the mediaKey`);
  const expectedMac = createHmac("sha256", macKey)
    .update(iv)
    .update(ciphertext)
    .digest()
    .subarray(0, MAC_LENGTH);
  if (!timingSafeEqual(mac, expectedMac)) {
    throw new Error(
      `${kind} media: MAC mismatch, wrong mediaKey or media type, or the ciphertext was altered`,
    );
  }
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-cbc", cipherKey, iv);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (error) {
    throw new Error(`${kind} media: AES-256-CBC decryption failed (${String(error)})`);
  }
  if (!sha256(plaintext).equals(fileSha256)) {
    throw new Error(
      `${kind} media: fileSha256 mismatch, the decrypted file is not the one the sender hashed`,
    );
  }
  return plaintext;
}

const MESSAGE_FIELD: Record<MediaKind, "imageMessage" | "videoMessage" | "documentMessage" | "audioMessage"> =
  {
    image: "imageMessage",
    video: "videoMessage",
    document: "documentMessage",
    audio: "audioMessage",
  };

/** The media part of a received message and its kind, or undefined for a message without media. */
export function mediaInMessage(
  message: proto.IMessage | null | undefined,
): { kind: MediaKind; media: DownloadableMedia } | undefined {
  if (!message) return undefined;
  // Phones wrap a captioned document (Baileys sends it bare); a recipient accepts both.
  const inner = message.documentWithCaptionMessage?.message ?? message;
  for (const kind of MEDIA_KINDS) {
    const media = inner[MESSAGE_FIELD[kind]];
    if (media) return { kind, media };
  }
  return undefined;
}

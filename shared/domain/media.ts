// What an attachment is, told from its bytes (never from its name alone), and whether WhatsApp
// takes it. Pure: callers read the first bytes of a file and its size, and ask.

export type MediaKind = "image" | "video" | "document" | "audio";

/**
 * WhatsApp's limits per kind, in decimal bytes as WhatsApp states them: image 5 MB, video and
 * audio 16 MB, document 100 MB. A file over its kind's limit is refused (413).
 */
export const MEDIA_SIZE_LIMITS: Readonly<Record<MediaKind, number>> = {
  image: 5_000_000,
  video: 16_000_000,
  audio: 16_000_000,
  document: 100_000_000,
};

/** The largest attachment of any kind: what an upload may be before its kind is known. */
export const MEDIA_MAX_BYTES = Math.max(...Object.values(MEDIA_SIZE_LIMITS));

/** How many leading bytes `detectMedia` needs to recognise every type it knows. */
export const MEDIA_SNIFF_BYTES = 64;

/** A file WhatsApp can carry: its kind and the mimetype it is sent with. */
export interface DetectedMedia {
  readonly kind: MediaKind;
  readonly mimetype: string;
}

/** Why a file cannot be an attachment, with the HTTP status that says so. */
export interface MediaRefusal {
  readonly status: 413 | 415;
  readonly reason: string;
}

export type MediaVerdict = ({ ok: true } & DetectedMedia) | ({ ok: false } & MediaRefusal);

/** What the client said the file is; only used to catch a file that pretends to be media. */
export interface DeclaredFile {
  readonly fileName?: string;
  readonly mimetype?: string;
}

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0) =>
  bytes.length >= at + signature.length && signature.every((b, i) => bytes[at + i] === b);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

function containsAscii(bytes: Uint8Array, text: string): boolean {
  const needle = ascii(text);
  for (let i = 0; i + needle.length <= bytes.length; i++) if (startsWith(bytes, needle, i)) return true;
  return false;
}

/** MPEG-1/2/2.5 layer III frame header: 11 sync bits, a valid version, layer bits 01. */
function isMp3Frame(bytes: Uint8Array): boolean {
  const [b0, b1] = [bytes[0] ?? 0, bytes[1] ?? 0];
  return b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x18) !== 0x08 && (b1 & 0x06) === 0x02;
}

/** Programs a campaign must never carry, whatever they are named: Windows, Linux, macOS, scripts. */
function isExecutable(bytes: Uint8Array): boolean {
  return (
    startsWith(bytes, ascii("MZ")) ||
    startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46]) ||
    startsWith(bytes, [0xfe, 0xed, 0xfa, 0xce]) ||
    startsWith(bytes, [0xfe, 0xed, 0xfa, 0xcf]) ||
    startsWith(bytes, [0xce, 0xfa, 0xed, 0xfe]) ||
    startsWith(bytes, [0xcf, 0xfa, 0xed, 0xfe]) ||
    startsWith(bytes, [0xca, 0xfe, 0xba, 0xbe]) ||
    startsWith(bytes, ascii("#!"))
  );
}

/** The media types WhatsApp plays inline, recognised by their magic bytes; undefined otherwise. */
export function sniffMedia(head: Uint8Array): DetectedMedia | undefined {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { kind: "image", mimetype: "image/jpeg" };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    return { kind: "image", mimetype: "image/png" };
  if (startsWith(head, ascii("RIFF")) && startsWith(head, ascii("WEBP"), 8))
    return { kind: "image", mimetype: "image/webp" };
  if (startsWith(head, ascii("ftyp"), 4)) return { kind: "video", mimetype: "video/mp4" };
  if (startsWith(head, ascii("%PDF-"))) return { kind: "document", mimetype: "application/pdf" };
  // An Ogg page whose first packet is an Opus header: what WhatsApp plays as a voice note.
  if (startsWith(head, ascii("OggS")) && containsAscii(head, "OpusHead"))
    return { kind: "audio", mimetype: "audio/ogg; codecs=opus" };
  if (startsWith(head, ascii("ID3")) || isMp3Frame(head)) return { kind: "audio", mimetype: "audio/mpeg" };
  return undefined;
}

const EXTENSION_KINDS: Readonly<Record<string, MediaKind>> = {
  jpg: "image",
  jpeg: "image",
  jpe: "image",
  png: "image",
  webp: "image",
  gif: "image",
  bmp: "image",
  heic: "image",
  mp4: "video",
  m4v: "video",
  mov: "video",
  "3gp": "video",
  webm: "video",
  ogg: "audio",
  opus: "audio",
  oga: "audio",
  mp3: "audio",
  m4a: "audio",
  wav: "audio",
  aac: "audio",
};

/** The media kind a file claims to be by its name or label, if it claims one. */
export function declaredKind(declared: DeclaredFile): MediaKind | undefined {
  const extension = /\.([A-Za-z0-9]+)$/.exec(declared.fileName ?? "")?.[1]?.toLowerCase();
  const byName = extension !== undefined ? EXTENSION_KINDS[extension] : undefined;
  if (byName) return byName;
  const label = /^(image|video|audio)\//i.exec(declared.mimetype ?? "")?.[1]?.toLowerCase();
  return label as MediaKind | undefined;
}

const DOCUMENT_LABEL = /^[a-z]+\/[a-z0-9][a-z0-9.+-]*$/i;

/**
 * Decides what an uploaded file is from its first bytes (`MEDIA_SNIFF_BYTES` suffice) and its size.
 * Images, videos and audio are what their bytes say; anything else is a document, unless the file
 * claims to be media (a `.jpg`, an `image/…` label): a file that pretends is refused (415), as is
 * any program, whatever its name. Over its kind's WhatsApp limit is a 413.
 */
export function detectMedia(head: Uint8Array, size: number, declared: DeclaredFile = {}): MediaVerdict {
  if (size === 0) return { ok: false, status: 415, reason: "the file is empty" };
  if (isExecutable(head)) {
    return { ok: false, status: 415, reason: "the file is a program; programs are never sent" };
  }
  const claimed = declaredKind(declared);
  const sniffed = sniffMedia(head);
  const detected: DetectedMedia = sniffed ?? {
    kind: "document",
    mimetype: documentMimetype(declared.mimetype),
  };
  if (claimed !== undefined && claimed !== detected.kind) {
    const what = sniffed ? `a ${sniffed.mimetype} file` : "not a supported image, video or audio file";
    return {
      ok: false,
      status: 415,
      reason:
        `the file is named or labelled as ${claimed} but its bytes are ${what}; ` +
        "images: JPEG, PNG, WebP; video: MP4; audio: OGG (Opus) or MP3",
    };
  }
  const limit = MEDIA_SIZE_LIMITS[detected.kind];
  if (size > limit) {
    return {
      ok: false,
      status: 413,
      reason: `a ${detected.kind} may be at most ${limit / 1_000_000} MB on WhatsApp; this one is ${size} bytes`,
    };
  }
  return { ok: true, ...detected };
}

/** A document keeps the label its uploader gave it when that is a plain type, else a generic one. */
function documentMimetype(label: string | undefined): string {
  const type = label?.split(";")[0]?.trim() ?? "";
  if (DOCUMENT_LABEL.test(type) && !/^(image|video|audio)\//i.test(type)) return type.toLowerCase();
  return "application/octet-stream";
}

/** A file name safe to show and to send: no path, no control characters, bounded. */
export function mediaFileName(name: string | undefined, fallback: string): string {
  const base = [...((name ?? "").split(/[\\/]/).pop() ?? "")]
    .filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f)
    .join("")
    .trim();
  return (base || fallback).slice(0, 200);
}

/** What a blast carries of its attachment (the bytes stay in the media library). */
export interface MediaRef {
  readonly mediaId: string;
  readonly kind: MediaKind;
  readonly mimetype: string;
  readonly fileName: string;
  /** Hex SHA-256 of the bytes. */
  readonly sha256: string;
  readonly size: number;
}

/**
 * The blast's message is the caption of its image, video or document (optional there); WhatsApp
 * shows none under audio, so an audio blast takes no message rather than silently dropping one.
 */
export function captionProblem(kind: MediaKind | undefined, template: string): string | undefined {
  if (kind === undefined)
    return template === "" ? "give message (one template) or variants (several)" : undefined;
  if (kind === "audio" && template !== "") {
    return "audio carries no caption on WhatsApp: leave message and variants out of an audio blast";
  }
  return undefined;
}

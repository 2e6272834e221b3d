// Multipart requests become an ordinary body (text fields) plus the uploaded file, before schema
// validation runs, so one TypeBox schema validates the JSON and the form variants of a route.
import type { FastifyError, FastifyRequest } from "fastify";
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { MultipartFile } from "@fastify/multipart";
import { HttpError } from "./errors.ts";

/**
 * An upload spooled to a temporary file as it arrives: the request holds a path, never the bytes,
 * so a large file costs disk, not memory, and is read back as a stream (it is removed when the
 * response is sent).
 */
export interface UploadedFile {
  readonly filename: string;
  readonly mimetype: string;
  readonly path: string;
  readonly size: number;
}

/** Reads the upload back in chunks. */
export function uploadChunks(file: UploadedFile): AsyncIterable<Uint8Array> {
  return createReadStream(file.path, { highWaterMark: 256 * 1024 });
}

export async function removeUpload(file: UploadedFile | undefined): Promise<void> {
  if (file) await rm(file.path, { force: true });
}

async function spool(
  part: MultipartFile,
  maxBytes?: number,
  media = false,
): Promise<{ path: string; size: number }> {
  const path = join(tmpdir(), `wa-blast-upload-${randomUUID()}`);
  let size = 0;
  part.file.on("data", (chunk: Buffer) => (size += chunk.length));
  try {
    await pipeline(part.file, createWriteStream(path, { mode: 0o600 }));
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  if (part.file.truncated || (maxBytes !== undefined && size > maxBytes)) {
    await rm(path, { force: true });
    throw new HttpError(
      413,
      media
        ? `the attachment is too large: over ${maxBytes ?? 0} bytes, WhatsApp's limit for any file`
        : "the uploaded file is too large (over MAX_UPLOAD_BYTES)",
    );
  }
  return { path, size };
}

declare module "fastify" {
  interface FastifyRequest {
    uploadedFile?: UploadedFile;
    /** An attachment uploaded with the request (a blast's `media`, the library's `file`). */
    uploadedMedia?: UploadedFile;
  }
}

const MAX_FIELD_LENGTH = 64 * 1024;
/** Room for a pool named one account per repeated field (at most 100) besides the other fields. */
const MAX_FIELDS = 120;
// Browsers label CSV and .xlsx files inconsistently (text/csv, application/vnd.ms-excel,
// application/octet-stream, application/zip...), so the importer decides by name and content;
// only labels that can never be a spreadsheet are refused here.
const NEVER_A_SPREADSHEET =
  /^(image|audio|video|font|model)\/|^application\/(pdf|x-msdownload|javascript|wasm)$/i;
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** JSON in a form field, held to the rules of JSON bodies: no prototype-polluting keys. */
function parseJsonField(name: string, value: string): unknown {
  try {
    return JSON.parse(value, (key, inner: unknown) => {
      if (PROTOTYPE_KEYS.has(key)) throw new HttpError(400, `field "${name}" has a forbidden key "${key}"`);
      return inner;
    }) as unknown;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `field "${name}" must be JSON`);
  }
}

/**
 * `jsonFields` are form fields that carry JSON (an object the schema then validates); `listFields`
 * become arrays, from a field repeated or given once with commas (`a,b`), as forms send lists.
 */
export async function readMultipartBody(
  request: FastifyRequest,
  fileField: string,
  jsonFields: string[] = [],
  listFields: string[] = [],
  mediaField?: MediaField,
): Promise<void> {
  if (!request.isMultipart()) return;
  const files: FileField[] = [
    // Beside an attachment the multipart limit is lifted to its; the spreadsheet keeps its own.
    { field: fileField, spreadsheet: true, ...(mediaField ? { maxBytes: mediaField.uploadMaxBytes } : {}) },
  ];
  if (mediaField) files.push({ field: mediaField.field, maxBytes: mediaField.maxBytes, media: true });
  await readMultipartForm(request, files, jsonFields, listFields);
}

/** A form's attachment field and the most bytes it may carry (the multipart limit may be lower). */
export interface MediaField {
  readonly field: string;
  readonly maxBytes: number;
  /** MAX_UPLOAD_BYTES: what any other file of the form may be. */
  readonly uploadMaxBytes: number;
}

interface FileField {
  readonly field: string;
  /** Lands in `request.uploadedMedia` instead of `request.uploadedFile`. */
  readonly media?: boolean;
  /** Labels that are never a spreadsheet are refused at once. */
  readonly spreadsheet?: boolean;
  readonly maxBytes?: number;
}

/** A form whose only file is an attachment (`field`), spooled like any upload. */
export async function readMediaForm(
  request: FastifyRequest,
  media: Omit<MediaField, "uploadMaxBytes">,
): Promise<void> {
  if (!request.isMultipart()) return;
  await readMultipartForm(request, [{ field: media.field, maxBytes: media.maxBytes, media: true }], [], []);
}

async function readMultipartForm(
  request: FastifyRequest,
  files: readonly FileField[],
  jsonFields: string[],
  listFields: string[],
): Promise<void> {
  try {
    request.body = await readParts(request, files, jsonFields, listFields);
  } catch (err) {
    // Busboy throws plain errors for a body that does not match its boundary or ends early:
    // the client's mistake, not the server's.
    if (err instanceof HttpError || typeof (err as FastifyError).statusCode === "number") throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new HttpError(400, `the multipart/form-data body is malformed: ${reason}`);
  }
}

async function readParts(
  request: FastifyRequest,
  files: readonly FileField[],
  jsonFields: string[],
  listFields: string[],
): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const mediaBytes = files.flatMap((f) => (f.maxBytes !== undefined ? [f.maxBytes] : []));
  // An attachment may be larger than MAX_UPLOAD_BYTES (WhatsApp takes 100 MB documents): the
  // stream is cut past the largest field's limit, and each field's own limit is checked after.
  const fileSize = mediaBytes.length > 0 ? Math.max(...mediaBytes) + 1 : undefined;
  for await (const part of request.parts({
    limits: {
      fieldSize: MAX_FIELD_LENGTH,
      files: files.length,
      fields: MAX_FIELDS,
      parts: MAX_FIELDS + files.length,
      ...(fileSize !== undefined ? { fileSize } : {}),
    },
  })) {
    if (part.type === "file") {
      const rule = files.find((f) => f.field === part.fieldname);
      if (!rule) {
        await part.toBuffer();
        throw new HttpError(
          400,
          `unexpected file field "${part.fieldname}"; send the file as ${files.map((f) => `"${f.field}"`).join(" or ")}`,
        );
      }
      if (body[part.fieldname] !== undefined) {
        // A second file under one field would orphan the first's spool: read past it, keep none.
        for await (const chunk of part.file) void chunk;
        throw new HttpError(400, `send one file as "${part.fieldname}", not several`);
      }
      const spooled = await spool(part, rule.maxBytes, rule.media);
      const uploaded = { filename: part.filename, mimetype: part.mimetype, ...spooled };
      if (rule.media) request.uploadedMedia = uploaded;
      else request.uploadedFile = uploaded;
      if (rule.spreadsheet && NEVER_A_SPREADSHEET.test(part.mimetype)) {
        throw new HttpError(415, `"${part.mimetype}" is not a spreadsheet: upload an .xlsx or .csv file`);
      }
      body[part.fieldname] = part.filename;
    } else {
      if (part.valueTruncated) throw new HttpError(413, `field "${part.fieldname}" is too long`);
      const value = String(part.value);
      if (listFields.includes(part.fieldname)) {
        const items = value
          .split(",")
          .map((item) => item.trim())
          .filter(Boolean);
        const before = body[part.fieldname];
        body[part.fieldname] = Array.isArray(before) ? [...(before as string[]), ...items] : items;
      } else if (!jsonFields.includes(part.fieldname)) body[part.fieldname] = value;
      else body[part.fieldname] = parseJsonField(part.fieldname, value);
    }
  }
  return body;
}

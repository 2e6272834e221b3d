// Multipart requests become an ordinary body (text fields) plus the uploaded file, before schema
// validation runs, so one TypeBox schema validates the JSON and the form variants of a route.
import type { FastifyRequest } from "fastify";
import type {} from "@fastify/multipart";
import { HttpError } from "./errors.ts";

export interface UploadedFile {
  readonly filename: string;
  readonly mimetype: string;
  readonly data: Buffer;
}

declare module "fastify" {
  interface FastifyRequest {
    uploadedFile?: UploadedFile;
  }
}

const MAX_FIELD_LENGTH = 64 * 1024;

/** `jsonFields` are form fields that carry JSON (an object the schema then validates). */
export async function readMultipartBody(
  request: FastifyRequest,
  fileField: string,
  jsonFields: string[] = [],
): Promise<void> {
  if (!request.isMultipart()) return;
  const body: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for await (const part of request.parts({ limits: { fieldSize: MAX_FIELD_LENGTH, files: 1, fields: 20 } })) {
    if (part.type === "file") {
      if (part.fieldname !== fileField) {
        await part.toBuffer();
        throw new HttpError(
          400,
          `unexpected file field "${part.fieldname}"; send the file as "${fileField}"`,
        );
      }
      const data = await part.toBuffer();
      request.uploadedFile = { filename: part.filename, mimetype: part.mimetype, data };
      body[fileField] = part.filename;
    } else {
      if (part.valueTruncated) throw new HttpError(413, `field "${part.fieldname}" is too long`);
      const value = String(part.value);
      if (!jsonFields.includes(part.fieldname)) body[part.fieldname] = value;
      else {
        try {
          body[part.fieldname] = JSON.parse(value) as unknown;
        } catch {
          throw new HttpError(400, `field "${part.fieldname}" must be JSON`);
        }
      }
    }
  }
  request.body = body;
}

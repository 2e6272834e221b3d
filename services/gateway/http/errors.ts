// Every error leaves the API as JSON `{statusCode, error, message}` with the right status; this is
// the one place where domain and adapter errors become HTTP.
import type { FastifyError, FastifyInstance } from "fastify";
import { BlastError } from "../../../shared/domain/blast.ts";
import { TemplateError } from "../../../shared/domain/templates.ts";
import { ImportError } from "../../../shared/import/recipientsFile.ts";

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const names: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof ImportError) return err.status;
  if (err instanceof TemplateError) return 400;
  if (err instanceof BlastError) return err.code === "not_found" ? 404 : err.code === "conflict" ? 409 : 400;
  const fastifyError = err as FastifyError;
  if (fastifyError.validation) return 400;
  if (fastifyError.code === "FST_REQ_FILE_TOO_LARGE" || fastifyError.code === "FST_FILES_LIMIT") return 413;
  if (fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE") return 413;
  if (fastifyError.code === "FST_INVALID_MULTIPART_CONTENT_TYPE") return 415;
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400)
    return fastifyError.statusCode;
  return 500;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const statusCode = statusOf(err);
    if (statusCode >= 500) request.log.error({ err }, "request failed");
    const message =
      statusCode >= 500 && !(err instanceof HttpError) ? "internal error" : (err as Error).message;
    const details = err instanceof HttpError ? err.details : undefined;
    void reply.status(statusCode).send({
      statusCode,
      error: names[statusCode] ?? "Error",
      message,
      ...(details !== undefined ? { details } : {}),
    });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send({ statusCode: 404, error: "Not Found", message: `no route ${request.method} ${request.url}` });
  });
}

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { MAX_TEMPLATE_LENGTH } from "../../../shared/domain/templates.ts";
import { changeBlast, createBlast, type BlastChange } from "../blasts/blastCommands.ts";
import { RequestIdempotency } from "../blasts/requestIdempotency.ts";
import { HttpError } from "../http/errors.ts";
import {
  BlastId,
  BlastProgress,
  CampaignId,
  PacingSettings,
  Page,
  RecipientRecord,
  Rejected,
  SessionId,
  errors,
} from "../http/schemas.ts";
import { readMultipartBody } from "../http/uploads.ts";
import type { GatewayDeps } from "../deps.ts";

const CreateBlastBody = Type.Object(
  {
    sessionId: SessionId,
    message: Type.String({
      minLength: 1,
      maxLength: MAX_TEMPLATE_LENGTH,
      description: "Template: `{name}` or any recipient column in braces; `{{` and `}}` for literal braces",
      examples: ["Hi {name}, our sale starts today!"],
    }),
    campaignId: Type.Optional(CampaignId),
    recipients: Type.Optional(
      Type.Array(RecipientRecord, { maxItems: 10_000, description: "recipients given inline" }),
    ),
    pacing: Type.Optional(PacingSettings),
    recipientsFile: Type.Optional(
      Type.String({ format: "binary", description: "multipart only: .xlsx or .csv with a `phone` column" }),
    ),
  },
  { additionalProperties: false },
);

const BlastSummary = Type.Intersect([
  BlastProgress,
  Type.Object({
    sessionId: Type.String(),
    campaignId: Type.Optional(Type.String()),
    template: Type.String(),
    rejected: Type.Integer(),
    duplicates: Type.Integer(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    reason: Type.String({ description: "why the blast is paused, when it is" }),
  }),
]);

const BlastParams = Type.Object({ blastId: BlastId });

export const blastRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const requests = new RequestIdempotency(deps.redis, deps.config.REDIS_PREFIX);
  app.post(
    "/api/blasts",
    {
      preValidation: async (request) => readMultipartBody(request, "recipientsFile", ["pacing"]),
      schema: {
        tags: ["blasts"],
        summary: "Start a blast to a campaign and/or an uploaded .xlsx/.csv",
        description:
          "Answers at once with the blast id and the rows that cannot be sent; sending runs in the background. " +
          "Send JSON, or multipart/form-data with `sessionId`, `message`, optional `campaignId` and `recipientsFile`.",
        consumes: ["application/json", "multipart/form-data"],
        headers: Type.Object({
          "idempotency-key": Type.Optional(
            Type.String({
              pattern: "^[A-Za-z0-9_-]{1,128}$",
              description:
                "Retrying with the same key returns the first answer instead of starting a second blast (24 h)",
            }),
          ),
        }),
        body: CreateBlastBody,
        response: {
          202: Type.Object({
            blastId: Type.String(),
            status: Type.Literal("running"),
            total: Type.Integer({ description: "recipients queued" }),
            duplicates: Type.Integer({ description: "rows merged because their phone was already listed" }),
            rejected: Rejected,
          }),
          ...errors(400, 404, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { sessionId, message, campaignId, recipients, pacing } = request.body;
      if (request.body.recipientsFile !== undefined && !request.uploadedFile) {
        throw new HttpError(400, "recipientsFile must be uploaded as a file in multipart/form-data");
      }
      const file = request.uploadedFile;
      const { result, replayed } = await requests.once(request.headers["idempotency-key"], () =>
        createBlast(deps, {
          sessionId,
          message,
          ...(campaignId ? { campaignId } : {}),
          ...(recipients ? { recipients } : {}),
          ...(pacing ? { pacing } : {}),
          ...(file ? { file } : {}),
        }),
      );
      if (replayed) void reply.header("idempotent-replayed", "true");
      return reply.status(202).send(result);
    },
  );

  app.get(
    "/api/blasts",
    {
      schema: {
        tags: ["blasts"],
        summary: "List blasts, newest first",
        querystring: Page,
        response: {
          200: Type.Object({
            items: Type.Array(BlastSummary),
            total: Type.Integer(),
            page: Type.Integer(),
            pageSize: Type.Integer(),
          }),
          ...errors(400),
        },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const { total, items } = await deps.projection.list((page - 1) * pageSize, pageSize);
      return { items, total, page, pageSize };
    },
  );

  app.get(
    "/api/blasts/:blastId",
    {
      schema: {
        tags: ["blasts"],
        summary: "A blast's progress and settings",
        params: BlastParams,
        response: { 200: BlastSummary, ...errors(400, 404) },
      },
    },
    async (request) => {
      const summary = await deps.projection.summary(request.params.blastId);
      if (!summary) throw new HttpError(404, `blast ${request.params.blastId} not found`);
      return summary;
    },
  );

  app.get(
    "/api/blasts/:blastId/failures",
    {
      schema: {
        tags: ["blasts"],
        summary: "Recipients that failed or are in doubt, with the reason",
        params: BlastParams,
        response: {
          200: Type.Object({
            blastId: Type.String(),
            items: Type.Array(
              Type.Object({ idx: Type.Integer(), phone: Type.String(), reason: Type.String() }),
            ),
          }),
          ...errors(400, 404),
        },
      },
    },
    async (request) => {
      const { blastId } = request.params;
      if (!(await deps.projection.summary(blastId))) throw new HttpError(404, `blast ${blastId} not found`);
      return { blastId, items: await deps.projection.failures(blastId) };
    },
  );

  for (const change of ["pause", "resume", "cancel"] as const satisfies readonly BlastChange[]) {
    app.post(
      `/api/blasts/:blastId/${change}`,
      {
        schema: {
          tags: ["blasts"],
          summary: `${change[0]?.toUpperCase()}${change.slice(1)} a blast`,
          params: BlastParams,
          response: { 200: BlastProgress, ...errors(400, 404, 409) },
        },
      },
      async (request) => changeBlast(deps, request.params.blastId, change),
    );
  }
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import { REPLY_TEXT_MAX } from "../../../shared/domain/blast.ts";
import { ID_PATTERN } from "../../../shared/domain/ids.ts";
import { MEDIA_MAX_BYTES } from "../../../shared/domain/media.ts";
import { MAX_TEMPLATE_LENGTH } from "../../../shared/domain/templates.ts";
import { MAX_VARIANTS } from "../../../shared/domain/variants.ts";
import { parseSendAt } from "../../../shared/domain/sendAt.ts";
import {
  changeBlast,
  createBlast,
  MAX_POOL,
  PREVIEW_MESSAGES,
  PREVIEW_REJECTED,
  PREVIEW_VARIANTS,
  resumeAccount,
  planBlast,
  type BlastChange,
  type CreateBlastInput,
} from "../blasts/blastCommands.ts";
import { recipientResults } from "../blasts/blastResults.ts";
import { csvLine } from "../http/csv.ts";
import { RequestIdempotency } from "../blasts/requestIdempotency.ts";
import { HttpError } from "../http/errors.ts";
import {
  BlastId,
  BlastProgress,
  CampaignId,
  errors,
  FrequencyCapSettings,
  MediaId,
  MediaItem,
  PacingSettings,
  Page,
  PageOf,
  pageOffset,
  RecipientRecord,
  Rejected,
  RejectedRow,
  SessionId,
} from "../http/schemas.ts";
import { readMultipartBody } from "../http/uploads.ts";
import { MAX_TEST_RECIPIENTS, testSend } from "../blasts/testSend.ts";
import { blastMediaOf, discardUpload } from "../media/mediaCommands.ts";
import type { GatewayDeps } from "../deps.ts";

/** When a blast waits until: in a create and in an edit. */
export const ScheduleFields = {
  sendAt: Type.Optional(
    Type.String({
      maxLength: 40,
      description:
        "Schedule the blast: an ISO 8601 time with its offset (`2026-12-07T09:00:00+07:00`), or a wall-clock " +
        "time (`2026-12-07T09:00`) read in `timeZone`. Its recipients are checked and kept at once; nothing is " +
        "sent before then. At most a year ahead; a time that has passed is refused.",
      examples: ["2026-12-07T09:00:00+07:00", "2026-12-07T09:00"],
    }),
  ),
  timeZone: Type.Optional(
    Type.String({
      maxLength: 64,
      description: "The IANA zone a wall-clock `sendAt` is read in (`Asia/Jakarta`), kept to show the time",
      examples: ["Asia/Jakarta"],
    }),
  ),
};

const CreateBlastBody = Type.Object(
  {
    sessionId: Type.Optional(SessionId),
    sessionIds: Type.Optional(
      Type.Array(SessionId, {
        maxItems: MAX_POOL,
        description:
          "The pool: accounts that share the sending, each at its own pace and caps; each recipient is sent " +
          "by exactly one. In a form, repeat the field or separate ids with commas. `sessionId` is a pool of one.",
      }),
    ),
    message: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_TEMPLATE_LENGTH,
        description:
          "Template: `{name}` or any recipient column in braces; `{{` and `}}` for literal braces. " +
          "`[[Hi|Hello|Hey]]` is a spin group: each recipient gets one option, the same every time; " +
          "`\\[[`, `\\]]` (and `\\|` inside a group) write them literally. Give `message` or `variants`.",
        examples: ["Hi {name}, our sale starts today!", "[[Hi|Hello]] {name}, our sale starts today!"],
      }),
    ),
    variants: Type.Optional(
      Type.Array(
        Type.Object(
          {
            text: Type.String({ minLength: 1, maxLength: MAX_TEMPLATE_LENGTH, description: "a template" }),
            weight: Type.Optional(
              Type.Number({ exclusiveMinimum: 0, description: "relative odds of this variant (default 1)" }),
            ),
          },
          { additionalProperties: false },
        ),
        {
          minItems: 1,
          maxItems: MAX_VARIANTS,
          description:
            "Texts to rotate instead of one `message`: each recipient gets one, chosen by weight from " +
            "their number (the same every time). In multipart/form-data, a JSON string of the array.",
        },
      ),
    ),
    campaignId: Type.Optional(CampaignId),
    mediaId: Type.Optional(MediaId),
    media: Type.Optional(
      Type.String({
        format: "binary",
        description:
          "multipart only: an attachment uploaded with the blast (kept in the media library); " +
          "`message` is then its caption, optional, and left out for audio",
      }),
    ),
    recipients: Type.Optional(
      Type.Array(RecipientRecord, { maxItems: 10_000, description: "recipients given inline" }),
    ),
    pacing: Type.Optional(PacingSettings),
    frequencyCap: Type.Optional(FrequencyCapSettings),
    recipientsFile: Type.Optional(
      Type.String({ format: "binary", description: "multipart only: .xlsx or .csv with a `phone` column" }),
    ),
    ...ScheduleFields,
    draft: Type.Optional(
      Type.Boolean({
        description:
          "Save the blast without sending it: its recipients are checked and kept; edit it, then start or schedule it",
      }),
    ),
  },
  { additionalProperties: false },
);

/** The preview's body, and who gets the test and from which account. */
const TestSendBody = Type.Object(
  {
    ...CreateBlastBody.properties,
    to: Type.Array(Type.String({ minLength: 1, maxLength: 32 }), {
      minItems: 1,
      maxItems: MAX_TEST_RECIPIENTS,
      description:
        "The numbers that get the test (read as DEFAULT_COUNTRY without a country code). In a form, " +
        "repeat the field or separate numbers with commas.",
    }),
  },
  { additionalProperties: false },
);

export const BlastSummary = Type.Intersect([
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
    media: Type.Optional(MediaItem),
    variants: Type.Optional(Type.Array(Type.Object({ text: Type.String(), weight: Type.Number() }))),
    pacing: Type.Optional(PacingSettings),
    frequencyCap: Type.Optional(FrequencyCapSettings),
    timeZone: Type.Optional(Type.String({ description: "the zone a scheduled blast's time was given in" })),
  }),
]);

export const BlastParams = Type.Object({ blastId: BlastId });

const BlastReply = Type.Object({
  idx: Type.Integer({ description: "the recipient's position in the blast" }),
  phone: Type.String(),
  sessionId: Type.String({ description: "the account the reply reached" }),
  text: Type.String({ description: `the reply as written, cut to ${REPLY_TEXT_MAX} characters` }),
  at: Type.String({ description: "when it was recorded" }),
});
const RESULT_COLUMNS = [
  "idx",
  "phone",
  "name",
  "outcome",
  "reason",
  "message_id",
  "session_id",
  "settled_at",
  "delivered_at",
  "read_at",
  "replied_at",
  "reply",
  // Last, so scripts that read the columns by position before variants existed still work.
  "variant",
];

/** The request as the blast commands take it, from either the JSON or the multipart form. */
const ImportIdHeader = Type.Optional(
  Type.String({
    pattern: ID_PATTERN,
    description:
      "A name you choose for this import: open a WebSocket on `/?importId=<it>` first to follow " +
      "`import_progress` (rows read, recipients, rejected) while a large upload is read",
  }),
);

function blastInputOf(
  body: Static<typeof CreateBlastBody>,
  file: FastifyRequest["uploadedFile"],
  importId: string | undefined,
  media?: FastifyRequest["uploadedMedia"],
): CreateBlastInput {
  if (body.recipientsFile !== undefined && !file) {
    throw new HttpError(400, "recipientsFile must be uploaded as a file in multipart/form-data");
  }
  if (body.media !== undefined && !media) {
    throw new HttpError(400, "media must be uploaded as a file in multipart/form-data");
  }
  // With an attachment the message is its caption, which may be left out.
  const withMedia = body.mediaId !== undefined || media !== undefined;
  const { sessionId, sessionIds, message, variants, campaignId, recipients, pacing, frequencyCap } = body;
  const schedule = scheduleOf(body, new Date());
  if (sessionId !== undefined && sessionIds !== undefined) {
    throw new HttpError(400, "give sessionId (one account) or sessionIds (a pool), not both");
  }
  if (message !== undefined && variants !== undefined) {
    throw new HttpError(400, "give message (one template) or variants (several), not both");
  }
  const text = message ?? variants?.[0]?.text ?? (withMedia ? "" : undefined);
  if (text === undefined) throw new HttpError(400, "give message (one template) or variants (several)");
  return {
    sessionIds: sessionIds ?? (sessionId !== undefined ? [sessionId] : []),
    message: text,
    ...(variants ? { variants } : {}),
    ...(campaignId ? { campaignId } : {}),
    ...(recipients ? { recipients } : {}),
    ...(pacing ? { pacing } : {}),
    ...(frequencyCap !== undefined ? { frequencyCap } : {}),
    ...(file ? { file } : {}),
    ...(importId ? { importId } : {}),
    ...schedule,
  };
}

/** When a blast waits until, from `sendAt` and `timeZone`, or that it is a draft. */
export function scheduleOf(
  body: { sendAt?: string; timeZone?: string; draft?: boolean },
  now: Date,
): { scheduledFor?: Date; timeZone?: string; draft?: true } {
  const { sendAt, timeZone, draft } = body;
  if (draft && sendAt !== undefined) {
    throw new HttpError(400, "a draft has no time: give draft or sendAt, not both");
  }
  if (sendAt === undefined) {
    if (timeZone !== undefined)
      throw new HttpError(400, "timeZone is the zone of sendAt: give sendAt with it");
    return draft ? { draft: true } : {};
  }
  const at = parseSendAt(sendAt, timeZone, now);
  if (!at.ok) throw new HttpError(400, `sendAt: ${at.reason}`);
  return { scheduledFor: at.at, ...(timeZone !== undefined ? { timeZone } : {}) };
}

export const blastRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const requests = new RequestIdempotency(deps.redis, deps.config.REDIS_PREFIX);
  const mediaField = {
    field: "media",
    maxBytes: MEDIA_MAX_BYTES,
    uploadMaxBytes: deps.config.MAX_UPLOAD_BYTES,
  };
  /** A blast's multipart form, for its start and its preview alike. */
  const readBlastForm = async (request: FastifyRequest) =>
    readMultipartBody(
      request,
      "recipientsFile",
      ["pacing", "frequencyCap", "variants", "draft"],
      ["sessionIds"],
      mediaField,
    );
  app.post(
    "/api/blasts",
    {
      preValidation: readBlastForm,
      schema: {
        tags: ["blasts"],
        summary: "Start a blast to a campaign and/or an uploaded .xlsx/.csv",
        description:
          "Answers at once with the blast id and the rows that cannot be sent; sending runs in the background. " +
          "Send JSON, or multipart/form-data with `sessionId` (one account) or `sessionIds` (a pool: repeated or " +
          "comma-separated), `message` (or `variants` as a JSON string), optional `campaignId` and `recipientsFile`.",
        consumes: ["application/json", "multipart/form-data"],
        headers: Type.Object({
          "import-id": ImportIdHeader,
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
            status: Type.Union([Type.Literal("running"), Type.Literal("scheduled"), Type.Literal("draft")], {
              description: "`scheduled` with `sendAt`, `draft` with `draft`: nothing is sent until it starts",
            }),
            scheduledFor: Type.Optional(Type.String({ description: "when it starts, ISO 8601 in UTC" })),
            total: Type.Integer({ description: "recipients queued" }),
            duplicates: Type.Integer({ description: "rows merged because their phone was already listed" }),
            rejected: Rejected,
          }),
          ...errors(400, 404, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { body, uploadedMedia } = request;
      const input = blastInputOf(body, request.uploadedFile, request.headers["import-id"], uploadedMedia);
      const { result, replayed } = await requests.once(request.headers["idempotency-key"], async () => {
        const media = await blastMediaOf(deps, body.mediaId, uploadedMedia, true);
        try {
          return await createBlast(deps, { ...input, ...(media ? { media } : {}) }, request.log);
        } catch (err) {
          if (uploadedMedia && media) {
            await discardUpload(deps, media).catch((discardErr: unknown) =>
              request.log.warn({ err: discardErr, mediaId: media.mediaId }, "could not discard the upload"),
            );
          }
          throw err;
        }
      });
      if (replayed) void reply.header("idempotent-replayed", "true");
      return reply.status(202).send(result);
    },
  );

  app.post(
    "/api/blasts/preview",
    {
      preValidation: readBlastForm,
      schema: {
        tags: ["blasts"],
        summary: "Check a blast and render its first messages without sending anything",
        description:
          "Takes exactly what POST /api/blasts takes and runs the same checks, but queues nothing: " +
          "the first rendered messages, how many would be sent, and the rows that would be rejected.",
        consumes: ["application/json", "multipart/form-data"],
        headers: Type.Object({ "import-id": ImportIdHeader }),
        body: CreateBlastBody,
        response: {
          200: Type.Object({
            total: Type.Integer({ description: "recipients that would be queued" }),
            duplicates: Type.Integer(),
            rejected: Type.Object({
              count: Type.Integer(),
              sample: Type.Array(RejectedRow, { description: `the first ${PREVIEW_REJECTED} rejected rows` }),
            }),
            messages: Type.Array(
              Type.Object({
                idx: Type.Integer(),
                phone: Type.String(),
                name: Type.Optional(Type.String()),
                text: Type.String(),
                variant: Type.Optional(Type.String({ description: "the variant it was rendered from" })),
              }),
              { description: `the first ${PREVIEW_MESSAGES} messages as they would be sent` },
            ),
            variants: Type.Optional(
              Type.Array(
                Type.Object({
                  variant: Type.String({
                    description:
                      'its number in `variants` ("2"), the options of the spin groups ("1.3"), or both ("2:1.3")',
                  }),
                  count: Type.Integer({ description: "recipients that would get it" }),
                  sample: Type.Optional(Type.String({ description: "the first of them's message" })),
                }),
                {
                  description: `with variants or spintax: recipients per variant (the ${PREVIEW_VARIANTS} largest shares)`,
                },
              ),
            ),
          }),
          ...errors(400, 404, 413, 415),
        },
      },
    },
    async (request) => {
      const { body, uploadedMedia } = request;
      const input = blastInputOf(body, request.uploadedFile, request.headers["import-id"], uploadedMedia);
      const media = await blastMediaOf(deps, body.mediaId, uploadedMedia, false);
      return planBlast(deps, { ...input, ...(media ? { media } : {}) });
    },
  );

  app.post(
    "/api/blasts/test-send",
    {
      preValidation: async (request) =>
        readMultipartBody(
          request,
          "recipientsFile",
          ["pacing", "frequencyCap", "variants"],
          ["sessionIds", "to"],
          mediaField,
        ),
      schema: {
        tags: ["blasts"],
        summary: "Send the blast's first message to a few numbers now, as a test",
        description:
          "Takes what POST /api/blasts/preview takes, plus `to`. Renders the first recipient's message " +
          "(its variant, the attachment) and has `sessionId` (with a pool in `sessionIds`, its first " +
          "account when left out) send it to each number now, at the account's pace. No blast is " +
          "created or counted; the sender logs it as a test. An uploaded `media` is kept in the library (once: the same file again is the one already there).",
        consumes: ["application/json", "multipart/form-data"],
        body: TestSendBody,
        response: {
          200: Type.Object({
            sessionId: Type.String({ description: "the account it was sent from" }),
            text: Type.String({ description: "the text, or the attachment's caption" }),
            variant: Type.Optional(Type.String({ description: "the variant it was rendered from" })),
            media: Type.Optional(MediaItem),
            sent: Type.Array(Type.Object({ to: Type.String(), messageId: Type.String() })),
          }),
          ...errors(400, 404, 413, 415, 503),
        },
      },
    },
    async (request) => {
      const { body, uploadedMedia } = request;
      const { to, ...blastBody } = body;
      // With a pool, `sessionId` names the account of the test, not a pool of one.
      const { sessionId, ...poolBody } = blastBody;
      const planned = blastBody.sessionIds !== undefined ? poolBody : blastBody;
      const input = blastInputOf(planned, request.uploadedFile, undefined, uploadedMedia);
      // Stored, since the sender reads the bytes from the library.
      const media = await blastMediaOf(deps, body.mediaId, uploadedMedia, true);
      try {
        return await testSend(deps, { ...input, ...(media ? { media } : {}) }, to, sessionId);
      } catch (err) {
        // A refused test leaves no file nobody was told the id of.
        if (uploadedMedia && media) {
          await discardUpload(deps, media).catch((discardErr: unknown) =>
            request.log.warn({ err: discardErr, mediaId: media.mediaId }, "could not discard the upload"),
          );
        }
        throw err;
      }
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
          200: PageOf(BlastSummary),
          ...errors(400),
        },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const { total, items } = await deps.projection.list(pageOffset(page, pageSize), pageSize);
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

  app.get(
    "/api/blasts/:blastId/replies",
    {
      schema: {
        tags: ["blasts"],
        summary: "Recipients' first replies to a blast, newest first",
        description:
          "One entry per recipient who replied: their first reply (later ones are not blast facts), " +
          `its text cut to ${REPLY_TEXT_MAX} characters. \`total\` is the blast's \`replied\` count.`,
        params: BlastParams,
        querystring: Page,
        response: { 200: PageOf(BlastReply), ...errors(400, 404) },
      },
    },
    async (request) => {
      const { blastId } = request.params;
      const { page, pageSize } = request.query;
      const offset = pageOffset(page, pageSize);
      if (!(await deps.projection.summary(blastId))) throw new HttpError(404, `blast ${blastId} not found`);
      const { total, items } = await deps.projection.replies(blastId, offset, pageSize);
      return { items, total, page, pageSize };
    },
  );

  app.get(
    "/api/blasts/:blastId/results.csv",
    {
      schema: {
        tags: ["blasts"],
        summary:
          "Per-recipient results as CSV (outcome, reason, message id, the account that sent it, delivery and read times, first reply, message variant)",
        description:
          "Read from the blast's event log. Cells that start like a spreadsheet formula (a reply's text too) are prefixed with a quote.",
        produces: ["text/csv"],
        params: BlastParams,
        response: {
          200: Type.String({ description: "text/csv", examples: ["idx,phone,name,outcome,reason\r\n"] }),
          ...errors(400, 404),
        },
      },
    },
    async (request, reply) => {
      const { blastId } = request.params;
      if (!(await deps.projection.summary(blastId))) throw new HttpError(404, `blast ${blastId} not found`);
      const rows = await recipientResults(deps, blastId);
      let csv = csvLine(RESULT_COLUMNS);
      for (const r of rows) {
        csv += csvLine([
          r.idx,
          r.phone,
          r.name,
          r.outcome,
          r.reason,
          r.messageId,
          r.sessionId,
          r.settledAt,
          r.deliveredAt,
          r.readAt,
          r.repliedAt,
          r.reply,
          r.variant,
        ]);
      }
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${blastId}-results.csv"`)
        .send(csv);
    },
  );

  for (const change of ["pause", "cancel"] as const satisfies readonly BlastChange[]) {
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

  app.post(
    "/api/blasts/:blastId/resume",
    {
      schema: {
        tags: ["blasts"],
        summary: "Resume a blast, or one account of its pool",
        description:
          "Without `sessionId`: the blast runs again with every account of its pool. With it: that account " +
          "takes work again (after WhatsApp lifted a restriction, or it was linked again); a blast that had " +
          "stopped because no account could send runs again with it.",
        params: BlastParams,
        querystring: Type.Object({ sessionId: Type.Optional(SessionId) }),
        response: { 200: BlastProgress, ...errors(400, 404, 409) },
      },
    },
    async (request) => changeBlast(deps, request.params.blastId, "resume", request.query.sessionId),
  );

  app.post(
    "/api/sessions/:sessionId/resume",
    {
      schema: {
        tags: ["sessions"],
        summary: "Let an account send again on every blast it was paused on",
        params: Type.Object({ sessionId: SessionId }),
        response: {
          200: Type.Object({
            sessionId: Type.String(),
            resumed: Type.Array(Type.String(), { description: "blast ids" }),
          }),
          ...errors(400, 404),
        },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      if (!(await deps.sessions.exists(sessionId)))
        throw new HttpError(404, `session ${sessionId} not found`);
      return { sessionId, resumed: await resumeAccount(deps, sessionId) };
    },
  );
};

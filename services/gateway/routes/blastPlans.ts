// Routes for a blast before it starts: edit its plan, start it now. (Cancelling is the same route
// as for any blast.)
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { MAX_TEMPLATE_LENGTH } from "../../../shared/domain/templates.ts";
import { MAX_VARIANTS } from "../../../shared/domain/variants.ts";
import type { BlastSummary as ProjectedSummary } from "../../../shared/redis/projection.ts";
import { editBlast, startBlastNow } from "../blasts/blastEdits.ts";
import { MAX_POOL } from "../blasts/blastCommands.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { errors, FrequencyCapSettings, MediaId, PacingSettings, SessionId } from "../http/schemas.ts";
import { BlastParams, BlastSummary, ScheduleFields, scheduleOf } from "./blasts.ts";

const EditBlastBody = Type.Object(
  {
    sessionId: Type.Optional(SessionId),
    sessionIds: Type.Optional(Type.Array(SessionId, { minItems: 1, maxItems: MAX_POOL })),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TEMPLATE_LENGTH })),
    variants: Type.Optional(
      Type.Array(
        Type.Object(
          {
            text: Type.String({ minLength: 1, maxLength: MAX_TEMPLATE_LENGTH }),
            weight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: MAX_VARIANTS },
      ),
    ),
    mediaId: Type.Optional(
      Type.Union([MediaId, Type.Null()], {
        description: "a media library file, or null to send no attachment",
      }),
    ),
    pacing: Type.Optional(PacingSettings),
    frequencyCap: Type.Optional(FrequencyCapSettings),
    ...ScheduleFields,
    draft: Type.Optional(Type.Literal(true, { description: "unschedule: keep it as a draft" })),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** How long an answer waits for the projection to show the change (it is logged already). */
const PROJECTED_WITHIN_MS = 3000;

async function projected(
  deps: GatewayDeps,
  blastId: string,
  shows: (summary: ProjectedSummary) => boolean,
): Promise<ProjectedSummary> {
  const until = Date.now() + PROJECTED_WITHIN_MS;
  for (;;) {
    const summary = await deps.projection.summary(blastId);
    if (!summary) throw new HttpError(404, `blast ${blastId} not found`);
    if (shows(summary) || Date.now() > until) return summary;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const blastPlanRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.patch(
    "/api/blasts/:blastId",
    {
      schema: {
        tags: ["blasts"],
        summary: "Edit a scheduled blast or a draft",
        description:
          "Only before it starts. What is given replaces what the blast had: the pool, the message (or " +
          "variants), the attachment (`mediaId`, null for none), pacing, the frequency cap, and the time " +
          "(`sendAt` with `timeZone`, or `draft: true` to unschedule). A new message is rendered for every " +
          "kept recipient first: one it cannot be sent to is a 400. 409 once it started (or if it was " +
          "changed meanwhile: read it again).",
        params: BlastParams,
        body: EditBlastBody,
        response: { 200: BlastSummary, ...errors(400, 404, 409) },
      },
    },
    async (request) => {
      const { blastId } = request.params;
      const { sessionId, sessionIds, sendAt, timeZone, draft, ...rest } = request.body;
      if (sessionId !== undefined && sessionIds !== undefined) {
        throw new HttpError(400, "give sessionId (one account) or sessionIds (a pool), not both");
      }
      const schedule = scheduleOf({ sendAt, timeZone, draft }, new Date());
      const pool = sessionIds ?? (sessionId !== undefined ? [sessionId] : undefined);
      const at = await editBlast(deps, blastId, {
        ...rest,
        ...(pool ? { sessionIds: pool } : {}),
        ...schedule,
      });
      // Answered once the projection shows this edit (an edit sets the blast's updatedAt to its time).
      return projected(deps, blastId, (s) => s.updatedAt >= at);
    },
  );

  app.post(
    "/api/blasts/:blastId/start",
    {
      schema: {
        tags: ["blasts"],
        summary: "Start a scheduled blast or a draft now",
        description:
          "Its recipients, checked and kept when it was saved, are rendered with its message as it stands " +
          "and queued; sending begins at once. 409 once it started or ended.",
        params: BlastParams,
        response: { 202: BlastSummary, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { blastId } = request.params;
      await startBlastNow(deps, blastId);
      const summary = await projected(deps, blastId, (s) => s.status !== "scheduled" && s.status !== "draft");
      return reply.status(202).send(summary);
    },
  );
};

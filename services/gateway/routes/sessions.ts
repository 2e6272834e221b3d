import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { PacingSettings, SessionId, errors } from "../http/schemas.ts";
import { validatePacing } from "../../../shared/domain/pacing.ts";

const Session = Type.Object({
  sessionId: Type.String(),
  status: Type.String({
    description: "idle, connecting, qr, open, reconnecting, logged_out, closed, restricted",
  }),
  reason: Type.Optional(Type.String({ description: "why the session is in this state" })),
  account: Type.Optional(Type.String({ description: "the WhatsApp number once logged in" })),
  owner: Type.Optional(Type.String({ description: "the sender process that runs this session" })),
  updatedAt: Type.Optional(Type.String()),
});

const SessionParams = Type.Object({ sessionId: SessionId });
const COMMAND_TIMEOUT_MS = 15_000;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

type CommandAnswer = { ok: boolean; owner?: string; error?: string; code?: string };

/** Asks whichever sender runs the session; 503 when none answers. */
async function commandSession(
  deps: GatewayDeps,
  sessionId: string,
  command: "connect" | "logout" | "pairing-code",
  payload?: object,
): Promise<CommandAnswer> {
  if (!(await deps.sessions.exists(sessionId))) throw new HttpError(404, `session ${sessionId} not found`);
  let answer: CommandAnswer;
  try {
    const msg = await deps.nats.nc.request(
      subjects.sessionCommand(sessionId, command),
      payload ? encoder.encode(JSON.stringify(payload)) : undefined,
      { timeout: COMMAND_TIMEOUT_MS },
    );
    answer = JSON.parse(decoder.decode(msg.data)) as CommandAnswer;
  } catch {
    throw new HttpError(503, `no sender is running session ${sessionId} right now; try again shortly`);
  }
  if (!answer.ok) throw new HttpError(409, answer.error ?? `the sender could not ${command} ${sessionId}`);
  return answer;
}

export const sessionRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.get(
    "/api/sessions",
    {
      schema: {
        tags: ["sessions"],
        summary: "WhatsApp sessions, their status and which sender runs them",
        response: { 200: Type.Array(Session) },
      },
    },
    async () => deps.sessions.list(),
  );

  app.post(
    "/api/sessions",
    {
      schema: {
        tags: ["sessions"],
        summary: "Add a WhatsApp session; a sender picks it up within seconds",
        body: Type.Object({ sessionId: SessionId }, { additionalProperties: false }),
        response: { 201: Session, ...errors(400, 409) },
      },
    },
    async (request, reply) => {
      const { sessionId } = request.body;
      if (!(await deps.sessions.add(sessionId)))
        throw new HttpError(409, `session ${sessionId} already exists`);
      return reply.status(201).send({ sessionId, status: "idle" });
    },
  );

  for (const command of ["connect", "logout"] as const) {
    app.post(
      `/api/sessions/:sessionId/${command}`,
      {
        schema: {
          tags: ["sessions"],
          summary:
            command === "connect"
              ? "Connect a session: watch `ws://…/?sessionId=` for the QR code and status"
              : "Log a session out and forget its credentials",
          params: SessionParams,
          response: {
            202: Type.Object({
              sessionId: Type.String(),
              accepted: Type.Boolean(),
              owner: Type.Optional(Type.String()),
            }),
            ...errors(400, 404, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const { sessionId } = request.params;
        const answer = await commandSession(deps, sessionId, command);
        return reply
          .status(202)
          .send({ sessionId, accepted: true, ...(answer.owner ? { owner: answer.owner } : {}) });
      },
    );
  }

  app.post(
    "/api/sessions/:sessionId/pairing-code",
    {
      schema: {
        tags: ["sessions"],
        summary: "Link by phone number instead of QR: returns the code to enter on the phone",
        description: "On the phone: WhatsApp > Linked devices > Link with phone number, then type the code.",
        params: SessionParams,
        body: Type.Object(
          {
            phone: Type.String({
              pattern: "^\\+?[0-9]{6,16}$",
              description: "the account's number, with country code",
              examples: ["+6281234567890"],
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            sessionId: Type.String(),
            code: Type.String(),
            owner: Type.Optional(Type.String()),
          }),
          ...errors(400, 404, 409, 503),
        },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      const answer = await commandSession(deps, sessionId, "pairing-code", { phone: request.body.phone });
      return { sessionId, code: answer.code ?? "", ...(answer.owner ? { owner: answer.owner } : {}) };
    },
  );

  app.put(
    "/api/sessions/:sessionId/pacing",
    {
      schema: {
        tags: ["sessions"],
        summary: "Set this account's pacing (delays, caps, typing, number check, sending hours)",
        params: SessionParams,
        body: PacingSettings,
        response: { 200: PacingSettings, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      if (!(await deps.sessions.exists(sessionId)))
        throw new HttpError(404, `session ${sessionId} not found`);
      const problems = validatePacing(request.body);
      if (problems.length > 0) throw new HttpError(400, `invalid pacing: ${problems.join("; ")}`);
      await deps.sessions.setPacing(sessionId, request.body);
      return request.body;
    },
  );

  app.get(
    "/api/sessions/:sessionId/pacing",
    {
      schema: {
        tags: ["sessions"],
        summary: "This account's own pacing settings",
        params: SessionParams,
        response: { 200: PacingSettings, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      if (!(await deps.sessions.exists(sessionId)))
        throw new HttpError(404, `session ${sessionId} not found`);
      return deps.sessions.pacing(sessionId);
    },
  );
};

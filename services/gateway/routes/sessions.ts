import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { pacingDefaults, sendLimitDefaults } from "../../../shared/config/config.ts";
import { mergePacing, validatePacing, warmupToday } from "../../../shared/domain/pacing.ts";
import {
  MAX_UNREPLIED_BUDGET,
  sendLimitsFor,
  validateUnrepliedBudget,
} from "../../../shared/domain/sendLimits.ts";
import { checkProxyUrl } from "../../../shared/domain/proxy.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { SessionRecord } from "../../../shared/redis/sessions.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { ProxyUrl, SessionId, SessionPacingSettings, errors } from "../http/schemas.ts";

const Warmup = Type.Object(
  {
    day: Type.Integer({ description: "1 from the first send until 24 hours after it, then 2, ..." }),
    todayCap: Type.Integer({ description: "most messages in the trailing 24 hours today" }),
    sentToday: Type.Integer({ description: "messages in the trailing 24 hours, as the caps count them" }),
    complete: Type.Boolean({ description: "the ramp reached perDay: only the ordinary caps apply" }),
    startedAt: Type.Optional(Type.String({ description: "the first send; absent until the account sends" })),
    nextDayAt: Type.Optional(Type.String({ description: "when the next day, and its larger cap, begins" })),
  },
  { description: "The account's warm-up ramp today; absent when the ramp is off" },
);

const Unreplied = Type.Object(
  {
    month: Type.String({ description: "the calendar month counted, in UTC (YYYY-MM)" }),
    sent: Type.Integer({
      description: "messages the account sent this month to numbers that had not written to it",
    }),
    budget: Type.Integer({
      description:
        "the month's budget of such messages (0: none): reached, the account takes no new recipients",
    }),
    ownBudget: Type.Optional(
      Type.Integer({ description: "the account's own budget; absent: the deployment's applies" }),
    ),
    reached: Type.Boolean({ description: "the budget is reached: only numbers that wrote to it are sent" }),
  },
  {
    description:
      "WhatsApp caps an account's monthly messages to people who have not replied; this is the account's count",
  },
);

const Session = Type.Object({
  sessionId: Type.String(),
  status: Type.String({
    description: "idle, connecting, qr, open, reconnecting, logged_out, closed, restricted",
  }),
  reason: Type.Optional(Type.String({ description: "why the session is in this state" })),
  account: Type.Optional(Type.String({ description: "the WhatsApp number once logged in" })),
  owner: Type.Optional(Type.String({ description: "the sender process that runs this session" })),
  updatedAt: Type.Optional(Type.String()),
  proxy: Type.Optional(Type.String({ description: "the account's proxy, password shown as ***" })),
  warmup: Type.Optional(Warmup),
  unreplied: Unreplied,
});

const UnrepliedBudgetBody = Type.Object(
  {
    perMonth: Type.Integer({
      minimum: 0,
      maximum: MAX_UNREPLIED_BUDGET,
      description: "messages a calendar month (UTC) to people who have not replied; 0: no budget",
    }),
  },
  { additionalProperties: false },
);

const ProxyBody = Type.Object({ proxy: ProxyUrl }, { additionalProperties: false });

/** The URL to store, or a 400 naming what is wrong with it (never the URL: it holds a password). */
function validProxy(proxy: string): string {
  const check = checkProxyUrl(proxy);
  if (!check.ok) throw new HttpError(400, `invalid proxy: ${check.reason}`);
  return proxy;
}

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
  const defaults = pacingDefaults(deps.config);
  const limitDefaults = sendLimitDefaults(deps.config);

  /**
   * The record with what its sending looks like now: the warm-up today, under the deployment's and
   * its own pacing, and this month's messages to people who have not replied against its budget.
   */
  async function withSending(record: SessionRecord) {
    const now = Date.now();
    const [own, sending, unreplied] = await Promise.all([
      deps.sessions.pacing(record.sessionId),
      deps.sessions.sending(record.sessionId, now),
      deps.sessions.unreplied(record.sessionId, now),
    ]);
    const { ownBudget } = unreplied;
    const account = ownBudget !== undefined ? { unrepliedBudgetPerMonth: ownBudget } : {};
    const budget = sendLimitsFor(limitDefaults, account, {}).unrepliedBudget;
    const withUnreplied = {
      ...record,
      unreplied: {
        month: unreplied.month,
        sent: unreplied.sends,
        budget,
        ...(ownBudget !== undefined ? { ownBudget } : {}),
        reached: budget > 0 && unreplied.sends >= budget,
      },
    };
    const today = warmupToday(mergePacing(defaults, own), sending.firstSendAt, now);
    if (!today) return withUnreplied;
    return {
      ...withUnreplied,
      warmup: {
        day: today.day,
        todayCap: today.cap,
        sentToday: sending.sentLastDay,
        complete: today.complete,
        ...(sending.firstSendAt !== undefined
          ? { startedAt: new Date(sending.firstSendAt).toISOString() }
          : {}),
        ...(today.nextDayAt !== undefined ? { nextDayAt: new Date(today.nextDayAt).toISOString() } : {}),
      },
    };
  }

  async function existing(sessionId: string): Promise<SessionRecord> {
    const record = await deps.sessions.get(sessionId);
    if (!record) throw new HttpError(404, `session ${sessionId} not found`);
    return record;
  }

  app.get(
    "/api/sessions",
    {
      schema: {
        tags: ["sessions"],
        summary: "WhatsApp sessions, their status, warm-up and which sender runs them",
        response: { 200: Type.Array(Session) },
      },
    },
    async () => Promise.all((await deps.sessions.list()).map(withSending)),
  );

  app.get(
    "/api/sessions/:sessionId",
    {
      schema: {
        tags: ["sessions"],
        summary: "One WhatsApp session: status, proxy (masked) and warm-up today",
        params: SessionParams,
        response: { 200: Session, ...errors(400, 404) },
      },
    },
    async (request) => withSending(await existing(request.params.sessionId)),
  );

  app.post(
    "/api/sessions",
    {
      schema: {
        tags: ["sessions"],
        summary: "Add a WhatsApp session; a sender picks it up within seconds",
        description: "With `proxy`, the account reaches WhatsApp (socket and media) only through it.",
        body: Type.Object(
          { sessionId: SessionId, proxy: Type.Optional(ProxyUrl) },
          { additionalProperties: false },
        ),
        response: { 201: Session, ...errors(400, 409) },
      },
    },
    async (request, reply) => {
      const { sessionId, proxy } = request.body;
      const options = proxy === undefined ? {} : { proxy: validProxy(proxy) };
      if (!(await deps.sessions.add(sessionId, options)))
        throw new HttpError(409, `session ${sessionId} already exists`);
      return reply.status(201).send(await withSending(await existing(sessionId)));
    },
  );

  app.put(
    "/api/sessions/:sessionId/proxy",
    {
      schema: {
        tags: ["sessions"],
        summary: "Set the account's proxy",
        description:
          "Used from the next time a sender opens the session (a sender restart or a hand-over); " +
          "the answer shows the password as ***.",
        params: SessionParams,
        body: ProxyBody,
        response: { 200: Session, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      const proxy = validProxy(request.body.proxy);
      await existing(sessionId);
      await deps.sessions.setProxy(sessionId, proxy);
      return withSending(await existing(sessionId));
    },
  );

  app.delete(
    "/api/sessions/:sessionId/proxy",
    {
      schema: {
        tags: ["sessions"],
        summary: "Connect the account directly again, without a proxy (from its next opening)",
        params: SessionParams,
        response: { 204: Type.Null(), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      const { sessionId } = request.params;
      await existing(sessionId);
      await deps.sessions.setProxy(sessionId, undefined);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/api/sessions/:sessionId/warmup/restart",
    {
      schema: {
        tags: ["sessions"],
        summary: "Start the account's warm-up ramp over: its next send is day 1 again",
        description:
          "The last 24 hours' sends still count against day 1's cap. Set the ramp itself with " +
          "`warmup` in PUT /api/sessions/{sessionId}/pacing.",
        params: SessionParams,
        response: { 200: Session, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      await existing(sessionId);
      await deps.sessions.restartWarmup(sessionId);
      return withSending(await existing(sessionId));
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
        summary: "Set this account's pacing (delays, caps, typing, number check, sending hours, warm-up)",
        description:
          "Replaces the account's settings; `warmup: null` turns a deployment-wide ramp off for " +
          "an account that is already established. A blast's settings cannot raise the warm-up.",
        params: SessionParams,
        body: SessionPacingSettings,
        response: { 200: SessionPacingSettings, ...errors(400, 404) },
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

  app.put(
    "/api/sessions/:sessionId/unreplied-budget",
    {
      schema: {
        tags: ["sessions"],
        summary: "Set this account's monthly budget of messages to people who have not replied",
        description:
          "WhatsApp caps how many messages an account sends in a month to people who have not replied " +
          "(its threshold is not published). Once this month's count (UTC) reaches the budget, the account " +
          "takes no new recipients from its blasts (it pauses on them, and the rest of each pool carries on); " +
          "numbers that wrote to it are never counted nor refused. 0 turns the budget off for this account; " +
          "DELETE falls back to the deployment's UNREPLIED_BUDGET_PER_MONTH.",
        params: SessionParams,
        body: UnrepliedBudgetBody,
        response: { 200: Session, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      const { perMonth } = request.body;
      await existing(sessionId);
      const problems = validateUnrepliedBudget(perMonth);
      if (problems.length > 0) throw new HttpError(400, `invalid budget: ${problems.join("; ")}`);
      await deps.sessions.setUnrepliedBudget(sessionId, perMonth);
      return withSending(await existing(sessionId));
    },
  );

  app.delete(
    "/api/sessions/:sessionId/unreplied-budget",
    {
      schema: {
        tags: ["sessions"],
        summary: "Use the deployment's unreplied budget for this account again (UNREPLIED_BUDGET_PER_MONTH)",
        params: SessionParams,
        response: { 200: Session, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { sessionId } = request.params;
      await existing(sessionId);
      await deps.sessions.setUnrepliedBudget(sessionId, undefined);
      return withSending(await existing(sessionId));
    },
  );

  app.get(
    "/api/sessions/:sessionId/pacing",
    {
      schema: {
        tags: ["sessions"],
        summary: "This account's own pacing settings",
        params: SessionParams,
        response: { 200: SessionPacingSettings, ...errors(400, 404) },
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

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { GatewayDeps } from "../deps.ts";
import { errors } from "../http/schemas.ts";
import { discardDeadLetter, retryDeadLetter } from "../queues/deadLetters.ts";
import { queueDashboard } from "../queues/queueDashboard.ts";
import type { QueueMonitor } from "../queues/queueMonitor.ts";

const Stream = Type.Object({
  name: Type.String(),
  subjects: Type.Array(Type.String()),
  retention: Type.String(),
  messages: Type.Integer(),
  bytes: Type.Integer(),
  firstSeq: Type.Integer(),
  lastSeq: Type.Integer(),
  consumers: Type.Integer(),
});

const Consumer = Type.Object({
  stream: Type.String(),
  name: Type.String(),
  durable: Type.Boolean(),
  filterSubject: Type.String(),
  numPending: Type.Integer({ description: "stream messages not yet delivered to this consumer" }),
  numAckPending: Type.Integer({ description: "delivered, not yet acknowledged" }),
  numRedelivered: Type.Integer(),
  numWaiting: Type.Integer({ description: "pull requests waiting for a message" }),
  lastActive: Type.Union([Type.String(), Type.Null()], { description: "last delivery" }),
});

const SessionQueue = Type.Object({
  sessionId: Type.String(),
  queued: Type.Integer({ description: "send work stored for the session (queued plus in flight)" }),
  runnable: Type.Integer({ description: "of which belongs to running blasts" }),
  consumers: Type.Integer(),
  attached: Type.Boolean({ description: "a consumer of the session pulled or waits to pull lately" }),
  warning: Type.Optional(Type.String()),
});

const Advisory = Type.Object({
  subject: Type.String(),
  kind: Type.String({ examples: ["CONSUMER.MAX_DELIVERIES"] }),
  at: Type.String(),
  stream: Type.Optional(Type.String()),
  consumer: Type.Optional(Type.String()),
  streamSeq: Type.Optional(Type.Integer()),
  deliveries: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
});

const DeadLetter = Type.Object({
  stream: Type.String(),
  consumer: Type.String(),
  streamSeq: Type.Integer(),
  deliveries: Type.Integer(),
  at: Type.String(),
  subject: Type.String(),
  size: Type.Integer(),
});

const DeadLetterParams = Type.Object({
  stream: Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$", examples: ["SEND_WORK"] }),
  seq: Type.Integer({ minimum: 1 }),
});

/** The JSON the queue dashboard (/admin/queues) polls, and its dead-letter actions. */
export const queueRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps; monitor: QueueMonitor }> = async (
  app,
  { deps, monitor },
) => {
  app.get(
    "/api/admin/queues",
    {
      schema: {
        tags: ["admin"],
        summary: "Streams, consumers, queued work per session, lag over the last hour, advisories",
        description: "Figures come from the JetStream API at the time of the request.",
        response: {
          200: Type.Object({
            at: Type.String(),
            streams: Type.Array(Stream),
            consumers: Type.Array(Consumer),
            sessions: Type.Array(SessionQueue),
            lag: Type.Array(
              Type.Object({
                sessionId: Type.String(),
                points: Type.Array(Type.Object({ at: Type.String(), queued: Type.Integer() })),
              }),
            ),
            advisories: Type.Array(Advisory, { description: "newest first" }),
            deadLetters: Type.Array(DeadLetter),
          }),
        },
      },
    },
    async () => queueDashboard(deps, monitor),
  );

  app.post(
    "/api/admin/dead-letters/:stream/:seq/retry",
    {
      schema: {
        tags: ["admin"],
        summary: "Queue a dead letter again (a copy at the end of its subject) and delete the original",
        params: DeadLetterParams,
        response: {
          200: Type.Object({ stream: Type.String(), seq: Type.Integer(), newSeq: Type.Integer() }),
          ...errors(400, 404),
        },
      },
    },
    async (request) => {
      const { stream, seq } = request.params;
      return { stream, seq, newSeq: await retryDeadLetter(deps.nats, monitor.advisories, stream, seq) };
    },
  );

  app.post(
    "/api/admin/dead-letters/:stream/:seq/discard",
    {
      schema: {
        tags: ["admin"],
        summary: "Delete a dead letter from its stream",
        params: DeadLetterParams,
        response: { 204: Type.Null(), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      await discardDeadLetter(deps.nats, monitor.advisories, request.params.stream, request.params.seq);
      return reply.status(204).send(null);
    },
  );
};

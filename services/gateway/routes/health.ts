import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { streamConfigs } from "../../../shared/nats/connection.ts";
import type { GatewayDeps } from "../deps.ts";

export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["health"],
        summary: "The process is alive",
        response: { 200: Type.Object({ ok: Type.Boolean() }) },
      },
    },
    async () => ({ ok: true }),
  );

  const Checks = Type.Object({
    ok: Type.Boolean(),
    nats: Type.Boolean(),
    redis: Type.Boolean(),
    streams: Type.Boolean(),
  });
  app.get(
    "/readyz",
    {
      schema: {
        tags: ["health"],
        summary: "NATS, Redis and the streams are reachable",
        response: { 200: Checks, 503: Checks },
      },
    },
    async (_request, reply) => {
      const nats = !deps.nats.nc.isClosed() && deps.nats.nc.status !== undefined;
      const redis = await deps.redis.ping().then(
        (r) => r === "PONG",
        () => false,
      );
      const streams = await Promise.all(streamConfigs.map((s) => deps.nats.jsm.streams.info(s.name))).then(
        () => true,
        () => false,
      );
      const ok = nats && redis && streams;
      return reply.status(ok ? 200 : 503).send({ ok, nats, redis, streams });
    },
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Registry } from "prom-client";
import { Type } from "typebox";

export const metricsRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["health"],
        summary: "Prometheus metrics (send the API key as a bearer token)",
        produces: ["text/plain"],
        response: {
          200: Type.String({
            description: "Prometheus text exposition format",
            examples: ['wa_blast_recipients_total{session_id="marketing",outcome="sent"} 42'],
          }),
        },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
};

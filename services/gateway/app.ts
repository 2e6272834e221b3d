// The gateway as a set of plugins: docs, uploads, sockets, errors, and one plugin per resource.
import fastifyMultipart from "@fastify/multipart";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import fastifyWebsocket from "@fastify/websocket";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { GatewayDeps } from "./deps.ts";
import { apiKeysOf } from "../../shared/config/config.ts";
import { ApiKeys, registerAuth } from "./http/auth.ts";
import { registerErrorHandling } from "./http/errors.ts";
import { registerRateLimits } from "./http/rateLimits.ts";
import { removeUpload } from "./http/uploads.ts";
import { liveUpdates } from "./live/liveUpdates.ts";
import { blastPlanRoutes } from "./routes/blastPlans.ts";
import { blastRoutes } from "./routes/blasts.ts";
import { campaignRoutes } from "./routes/campaigns.ts";
import { mediaRoutes } from "./routes/media.ts";
import { authRoutes } from "./routes/auth.ts";
import { healthRoutes } from "./routes/health.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { suppressionRoutes } from "./routes/suppression.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { consoleRoutes } from "./console/consoleRoutes.ts";
import { createGatewayMetrics } from "./metrics/gatewayMetrics.ts";
import { QueueMonitor } from "./queues/queueMonitor.ts";
import { projectedPools } from "./queues/queueSnapshot.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { queueRoutes } from "./routes/queues.ts";

export interface GatewayOptions {
  /** How often the queue dashboard samples lag per session (its chart covers the last hour). */
  readonly lagSampleMs?: number;
}

export async function buildApp(
  deps: GatewayDeps,
  logger: FastifyBaseLogger | false,
  options: GatewayOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger === false ? undefined : logger,
    // JSON bodies only: multipart uploads are streamed and bounded by MAX_UPLOAD_BYTES instead.
    bodyLimit: deps.config.MAX_JSON_BODY_BYTES,
    // Fastify already refuses "__proto__" keys by default but lets "constructor.prototype" through.
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  registerErrorHandling(app);
  // A spooled upload lives as long as its request, whatever the answer was: gone before the
  // answer leaves, and again after it for a request that ended some other way.
  app.addHook("onSend", async (request, _reply, payload) => {
    await removeUpload(request.uploadedFile);
    await removeUpload(request.uploadedMedia);
    return payload;
  });
  app.addHook("onResponse", async (request) => {
    await removeUpload(request.uploadedFile);
    await removeUpload(request.uploadedMedia);
  });
  // Before auth: the plugin's own hooks must see a refused upgrade, or its socket is never closed.
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
  const keys = new ApiKeys(apiKeysOf(deps.config));
  // Before auth, so floods without a valid key are limited too.
  await registerRateLimits(app, deps, keys);
  registerAuth(app, keys);
  const metrics = createGatewayMetrics(app, deps);
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "wa-blast API",
        version: "0.1.0",
        description:
          "Send WhatsApp campaigns to segments or uploaded lists, with live progress over WebSockets.",
      },
      tags: [
        { name: "blasts", description: "Start, follow and control blasts" },
        { name: "campaigns", description: "Saved recipient segments" },
        { name: "media", description: "The media library: attachments for blasts" },
        { name: "sessions", description: "WhatsApp accounts" },
        { name: "suppression", description: "Numbers that opted out: never sent a blast" },
        { name: "webhooks", description: "Signed HTTP callbacks for blast, reply and consent events" },
        { name: "health", description: "Liveness, readiness and metrics" },
        { name: "admin", description: "JetStream queues, advisories and dead letters" },
        { name: "auth", description: "The web console's sign-in" },
      ],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/api/docs" });
  await app.register(fastifyMultipart, {
    limits: { fileSize: deps.config.MAX_UPLOAD_BYTES, files: 1, fields: 20, parts: 25 },
    throwFileSizeLimit: true,
  });
  await app.register(async (scope) => liveUpdates(scope, deps));
  await app.register(healthRoutes, { deps });
  await app.register(authRoutes, { deps });
  await app.register(sessionRoutes, { deps });
  await app.register(campaignRoutes, { deps });
  await app.register(blastRoutes, { deps });
  await app.register(blastPlanRoutes, { deps });
  await app.register(mediaRoutes, { deps });
  await app.register(suppressionRoutes, { deps });
  await app.register(webhookRoutes, { deps });
  const monitor = new QueueMonitor(
    deps.nats,
    projectedPools(deps.projection),
    options.lagSampleMs ?? 15_000,
    (err) => app.log.warn({ err }, "queue lag sample failed"),
  );
  app.addHook("onReady", async () => monitor.start());
  app.addHook("onClose", async () => monitor.stop());
  await app.register(queueRoutes, { deps, monitor });
  await app.register(metricsRoutes, { registry: metrics });
  await app.register(consoleRoutes);
  return app as unknown as FastifyInstance;
}

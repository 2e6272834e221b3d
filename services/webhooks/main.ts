// Wires the webhooks service: the fan-out from the source streams, and the delivery loops per
// endpoint. Run as many as you like: they share the durable consumers.
import { ApiKeys } from "../../shared/auth/apiKeys.ts";
import {
  apiKeysOf,
  loadConfig,
  natsSecurityOf,
  redisTlsOf,
  webhookRetryPolicy,
} from "../../shared/config/config.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { connectNats, ensureStreams } from "../../shared/nats/connection.ts";
import { onStopSignal } from "../../shared/process/stopSignals.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { DeliveryLog } from "../../shared/redis/webhookDeliveries.ts";
import { WebhookEndpoints } from "../../shared/redis/webhooks.ts";
import { DeliverySupervisor } from "./deliverySupervisor.ts";
import { EndpointCatalog } from "./endpointCatalog.ts";
import { WebhookFanOut } from "./fanOut.ts";
import { serveMetrics } from "../../shared/metrics/metricsServer.ts";
import { WebhookClient } from "./webhookClient.ts";
import { createWebhookMetrics } from "./webhookMetrics.ts";

const config = loadConfig();
const log = createLogger("webhooks", config.LOG_LEVEL);
const nats = await connectNats(config.NATS_URL, "webhooks", natsSecurityOf(config));
await ensureStreams(nats.jsm, { replicas: config.NATS_REPLICAS, log });
const redis = connectRedis(config.REDIS_URL, redisTlsOf(config), log);
const endpoints = new WebhookEndpoints(redis, config.REDIS_PREFIX);
const client = new WebhookClient(
  { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_TARGETS },
  config.WEBHOOK_TIMEOUT_MS,
);
const metrics = createWebhookMetrics();
const fanOut = new WebhookFanOut({ nats, catalog: new EndpointCatalog(endpoints), log });
const supervisor = new DeliverySupervisor({
  nats,
  endpoints,
  deliveries: new DeliveryLog(redis, config.REDIS_PREFIX),
  client,
  retry: webhookRetryPolicy(config),
  timeoutMs: config.WEBHOOK_TIMEOUT_MS,
  log,
  metrics,
});
await fanOut.start();
await supervisor.start();
const metricsServer =
  config.WEBHOOKS_METRICS_PORT > 0
    ? await serveMetrics(
        metrics.registry,
        new ApiKeys(apiKeysOf(config)),
        config.WEBHOOKS_METRICS_HOST,
        config.WEBHOOKS_METRICS_PORT,
      )
    : undefined;
log.info(
  { allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS, endpoints: supervisor.endpointIds().length },
  "webhooks ready",
);

onStopSignal(async () => {
  await supervisor.stop();
  await fanOut.stop();
  client.close();
  metricsServer?.close();
  await nats.nc.drain();
  redis.disconnect();
});

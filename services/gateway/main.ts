// Wires the gateway: config, NATS, Redis, the stores, and the Fastify app.
import { loadConfig, natsSecurityOf, redisTlsOf, sessionIdsOf } from "../../shared/config/config.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { connectNats, ensureStreams } from "../../shared/nats/connection.ts";
import { onStopSignal } from "../../shared/process/stopSignals.ts";
import { CampaignStore } from "../../shared/redis/campaigns.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { BlastProjection } from "../../shared/redis/projection.ts";
import { SessionRegistry } from "../../shared/redis/sessions.ts";
import { SuppressionList } from "../../shared/redis/suppression.ts";
import { buildApp } from "./app.ts";
import { startBlastScheduler } from "./blasts/blastScheduler.ts";

const config = loadConfig();
const log = createLogger("gateway", config.LOG_LEVEL);
const nats = await connectNats(config.NATS_URL, "gateway", natsSecurityOf(config));
await ensureStreams(nats.jsm, { replicas: config.NATS_REPLICAS, log });
const redis = connectRedis(config.REDIS_URL, redisTlsOf(config), log);
const sessions = new SessionRegistry(redis, config.REDIS_PREFIX);
for (const sessionId of sessionIdsOf(config)) await sessions.add(sessionId);

const deps = {
  config,
  nats,
  redis,
  sessions,
  projection: new BlastProjection(redis, config.REDIS_PREFIX),
  campaigns: new CampaignStore(redis, config.REDIS_PREFIX),
  suppression: new SuppressionList(redis, config.REDIS_PREFIX),
};
const app = await buildApp(deps, log);
const scheduler = await startBlastScheduler(deps, log);
await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });

onStopSignal(async () => {
  await scheduler.stop();
  await app.close();
  await nats.nc.drain();
  redis.disconnect();
});

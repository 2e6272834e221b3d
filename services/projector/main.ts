import { loadConfig, natsSecurityOf, redisTlsOf } from "../../shared/config/config.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { connectNats, ensureStreams } from "../../shared/nats/connection.ts";
import { onStopSignal } from "../../shared/process/stopSignals.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { BlastProjection } from "../../shared/redis/projection.ts";
import { Projector } from "./projector.ts";

const config = loadConfig();
const log = createLogger("projector", config.LOG_LEVEL);
const nats = await connectNats(config.NATS_URL, "projector", natsSecurityOf(config));
await ensureStreams(nats.jsm, { replicas: config.NATS_REPLICAS, log });
const redis = connectRedis(config.REDIS_URL, redisTlsOf(config), log);
const projector = new Projector(nats, new BlastProjection(redis, config.REDIS_PREFIX), log);
await projector.start();
log.info("projector ready");

onStopSignal(async () => {
  await projector.stop();
  await nats.nc.drain();
  redis.disconnect();
});

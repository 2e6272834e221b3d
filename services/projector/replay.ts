// `npm run replay -- [--prefix P]`: rebuilds the Redis projection from the event log alone.
// Into the live prefix (stop the projector first), or into another prefix to compare with live.
import { parseArgs } from "node:util";
import { loadConfig, natsSecurityOf, redisTlsOf } from "../../shared/config/config.ts";
import { connectNats } from "../../shared/nats/connection.ts";
import { readEvents } from "../../shared/nats/eventLog.ts";
import { subjects } from "../../shared/nats/topology.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { BlastProjection } from "../../shared/redis/projection.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import type { Redis } from "ioredis";

export async function rebuildProjection(nats: Nats, redis: Redis, prefix: string): Promise<number> {
  const projection = new BlastProjection(redis, prefix);
  await projection.clear();
  return readEvents(nats.js, subjects.allBlastEvents, async ({ seq, event }) => {
    await projection.apply(seq, event);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const { values } = parseArgs({ options: { prefix: { type: "string", default: config.REDIS_PREFIX } } });
  const prefix = values.prefix ?? config.REDIS_PREFIX;
  if (!/^[A-Za-z0-9_:-]{1,64}$/.test(prefix)) throw new Error(`invalid prefix "${prefix}"`);
  const nats = await connectNats(config.NATS_URL, "replay", natsSecurityOf(config));
  const redis = connectRedis(config.REDIS_URL, redisTlsOf(config));
  const count = await rebuildProjection(nats, redis, prefix);
  console.log(`replayed ${count} events into ${prefix}proj:*`);
  await nats.nc.close();
  redis.disconnect();
}

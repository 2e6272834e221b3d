// The gateway app in-process (for app.inject) against the harness' real servers, with the
// projector running in-process too, so blast state follows the event log as in production.
import type { FastifyBaseLogger, FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { buildApp, type GatewayOptions } from "../../services/gateway/app.ts";
import { startBlastScheduler } from "../../services/gateway/blasts/blastScheduler.ts";
import { Projector } from "../../services/projector/projector.ts";
import { loadConfig } from "../../shared/config/config.ts";
import { connectNats, ensureStreams, type Nats } from "../../shared/nats/connection.ts";
import { CampaignStore } from "../../shared/redis/campaigns.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { BlastProjection } from "../../shared/redis/projection.ts";
import { SessionRegistry } from "../../shared/redis/sessions.ts";
import { SuppressionList } from "../../shared/redis/suppression.ts";
import { startServers, type Servers } from "./servers.ts";

export const TEST_API_KEY = "test-key-0123456789abcdef";

export interface GatewayUnderTest {
  app: FastifyInstance;
  /** app.inject with the test API key. */
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse>;
  nats: Nats;
  redis: Redis;
  projection: BlastProjection;
  close(): Promise<void>;
}

export async function startGatewayApp(
  servers: Servers,
  env: Record<string, string> = {},
  options: GatewayOptions = {},
  logger: FastifyBaseLogger | false = false,
): Promise<GatewayUnderTest> {
  const config = loadConfig({
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    MAX_UPLOAD_BYTES: "200000",
    API_KEYS: TEST_API_KEY,
    // Tests send far more than a person would; the rate-limit tests set their own budgets.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_UPLOADS_PER_MINUTE: "1000000",
    ...env,
  });
  const nats = await connectNats(config.NATS_URL, "gateway-test");
  await ensureStreams(nats.jsm);
  const redis = connectRedis(config.REDIS_URL);
  const sessions = new SessionRegistry(redis, config.REDIS_PREFIX);
  await sessions.add("s1");
  const projection = new BlastProjection(redis, config.REDIS_PREFIX);
  const projector = new Projector(nats, projection, pino({ level: "silent" }), 20);
  await projector.start();
  const deps = {
    config,
    nats,
    redis,
    sessions,
    projection,
    campaigns: new CampaignStore(redis, config.REDIS_PREFIX),
    suppression: new SuppressionList(redis, config.REDIS_PREFIX),
  };
  const app = await buildApp(deps, logger, options);
  // As every gateway does: scheduled blasts start from here.
  const scheduler = await startBlastScheduler(deps, pino({ level: "silent" }));
  await app.ready();
  return {
    app,
    inject: (options) => {
      const opts = typeof options === "string" ? { url: options } : options;
      return app.inject({
        ...opts,
        headers: { authorization: `Bearer ${TEST_API_KEY}`, ...(opts.headers ?? {}) },
      });
    },
    nats,
    redis,
    projection,
    async close() {
      await scheduler.stop();
      await app.close();
      await projector.stop();
      await nats.nc.close();
      redis.disconnect();
    },
  };
}

/** Its own nats-server and redis-server, and a gateway on them; `close()` stops all three. */
export async function startGatewayWithServers(
  env: Record<string, string> = {},
  options: GatewayOptions = {},
  logger: FastifyBaseLogger | false = false,
): Promise<GatewayUnderTest> {
  const servers = await startServers();
  try {
    const gateway = await startGatewayApp(servers, env, options, logger);
    return {
      ...gateway,
      async close() {
        await gateway.close();
        await servers.dispose();
      },
    };
  } catch (err) {
    await servers.dispose();
    throw err;
  }
}

/** Redis keys holding data, leaving out the rate limiter's counters that every request touches. */
export async function dataKeyCount(redis: Redis): Promise<number> {
  return (await redis.keys("*")).filter((key) => !key.includes(":rate:")).length;
}

/** A multipart/form-data body for app.inject. */
export function multipart(
  fields: Record<string, string>,
  file?: { field: string; filename: string; data: Buffer | string },
) {
  const boundary = `----wa-blast-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  if (file) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      ),
      Buffer.isBuffer(file.data) ? file.data : Buffer.from(file.data),
      Buffer.from("\r\n"),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  };
}

import { readFileSync } from "node:fs";
import { Redis } from "ioredis";

/** The two log calls the connection makes; a pino logger fits. */
export interface ConnectionLog {
  warn(details: object, msg: string): void;
  info(msg: string): void;
}

/**
 * `rediss://` URLs use TLS; `caFile` trusts a private CA. User and password go in the URL.
 * Connection trouble goes to `log` once per outage, instead of ioredis' own stack trace on stderr
 * at every retry.
 */
export function connectRedis(url: string, tls: { caFile?: string } = {}, log?: ConnectionLog): Redis {
  // A command issued while Redis restarts waits for the reconnect instead of failing at once.
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
    ...(tls.caFile ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
  });
  let down = false;
  redis.on("error", (err: Error) => {
    if (!down) log?.warn({ err }, "Redis connection lost; commands wait for the reconnect");
    down = true;
  });
  redis.on("ready", () => {
    if (down) log?.info("Redis connection back");
    down = false;
  });
  return redis;
}

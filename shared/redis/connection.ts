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
  // A command issued while Redis restarts (or fails over) waits for the reconnect instead of failing at once.
  const options = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
    ...(tls.caFile ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
  };
  const sentinels = sentinelsOf(url);
  const redis = sentinels
    ? new Redis({
        ...options,
        sentinels: sentinels.sentinels,
        name: sentinels.name,
        // Sentinels behind auth (Bitnami's chart, `requirepass` on them) take the primary's password.
        ...(sentinels.password ? { password: sentinels.password, sentinelPassword: sentinels.password } : {}),
        ...(sentinels.username ? { username: sentinels.username } : {}),
        // After a failover the old primary may come back as a replica: never write to it.
        role: "master",
      })
    : new Redis(url, options);
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

export interface SentinelAddress {
  readonly sentinels: Array<{ host: string; port: number }>;
  /** The name the sentinels monitor the primary under. */
  readonly name: string;
  readonly username?: string;
  readonly password?: string;
}

/**
 * `redis+sentinel://[user:password@]host:port,host:port/<name>`: Redis behind Sentinel, found by
 * asking the sentinels for the primary named `name` (the password is the primary's, and the
 * sentinels' if they ask for one). Any other
 * URL is a single server; undefined then.
 */
export function sentinelsOf(url: string): SentinelAddress | undefined {
  const match = /^redis\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/([A-Za-z0-9._-]+)\/?$/.exec(url);
  if (!match) {
    if (url.startsWith("redis+sentinel:")) {
      throw new Error("REDIS_URL: use redis+sentinel://host:port,host:port/<name> for Redis behind Sentinel");
    }
    return undefined;
  }
  const [, username, password, hosts = "", name = ""] = match;
  const sentinels = hosts.split(",").map((hostPort) => {
    const cut = hostPort.lastIndexOf(":");
    const port = cut > 0 ? Number(hostPort.slice(cut + 1)) : 26379;
    const host = cut > 0 ? hostPort.slice(0, cut) : hostPort;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`REDIS_URL: "${hostPort}" is not a sentinel's host:port`);
    }
    return { host, port };
  });
  return {
    sentinels,
    name,
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}

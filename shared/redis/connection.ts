import { readFileSync } from "node:fs";
import { Redis } from "ioredis";

/** `rediss://` URLs use TLS; `caFile` trusts a private CA. User and password go in the URL. */
export function connectRedis(url: string, tls: { caFile?: string } = {}): Redis {
  // A command issued while Redis restarts waits for the reconnect instead of failing at once.
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
    ...(tls.caFile ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
  });
}

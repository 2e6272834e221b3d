import { Redis } from "ioredis";

export function connectRedis(url: string): Redis {
  // A command issued while Redis restarts waits for the reconnect instead of failing at once.
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

// Whether Redis keeps every write it acknowledged. The idempotency claims that stop a second send
// and the WhatsApp credentials live there: with AOF off, or fsync once a second, a crash of
// redis-server alone can forget confirmed writes (measured in docs/RELIABILITY.md).
import type { Redis } from "ioredis";

export interface PersistenceSettings {
  readonly appendonly: string;
  readonly appendfsync: string;
}

/** What is wrong with these settings for wa-blast, or undefined when nothing is. */
export function durabilityProblem(settings: PersistenceSettings): string | undefined {
  if (settings.appendonly !== "yes") {
    return "Redis runs without AOF (appendonly no): a restart forgets idempotency claims and credentials";
  }
  if (settings.appendfsync !== "always") {
    return `Redis fsyncs its AOF with "${settings.appendfsync}": a crash of redis-server can lose writes it acknowledged, and a lost idempotency claim can mean a second send; set appendfsync always`;
  }
  return undefined;
}

/** Reads the server's settings; a server that refuses CONFIG GET (managed Redis) gets a reminder. */
export async function durabilityWarning(redis: Redis): Promise<string | undefined> {
  try {
    const [, appendonly = ""] = (await redis.config("GET", "appendonly")) as string[];
    const [, appendfsync = ""] = (await redis.config("GET", "appendfsync")) as string[];
    return durabilityProblem({ appendonly, appendfsync });
  } catch (err) {
    return `could not read Redis persistence settings (${(err as Error).message}); it needs appendonly yes and appendfsync always`;
  }
}

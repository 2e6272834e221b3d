// API keys compared as SHA-256 digests in constant time, all of them every time, so neither timing
// nor length tells anything about a key. Used by every HTTP surface (gateway, sender metrics).
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value).digest();

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error("at least one API key is required");
    this.digests = keys.map(digest);
  }

  matches(candidate: string | undefined): boolean {
    const probe = digest(candidate ?? "");
    let found = false;
    for (const known of this.digests) found = timingSafeEqual(known, probe) || found;
    return candidate !== undefined && candidate !== "" && found;
  }
}

/** The key of `Authorization: Bearer <key>` or `X-API-Key`, as sent by a client or Prometheus. */
export function keyFromHeaders(headers: {
  authorization?: string;
  "x-api-key"?: string | string[];
}): string | undefined {
  const { authorization } = headers;
  if (authorization?.startsWith("Bearer ")) return authorization.slice(7).trim();
  const header = headers["x-api-key"];
  return typeof header === "string" ? header : undefined;
}

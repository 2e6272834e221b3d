// API keys on every route but liveness/readiness and the sign-in itself. A key comes as
// `Authorization: Bearer <key>`, `X-API-Key`, or the console's HttpOnly cookie (browsers cannot set
// headers on WebSockets). Keys are compared as SHA-256 digests in constant time, all of them every
// time, so neither timing nor length tells anything; they are never logged.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const SESSION_COOKIE = "wa_blast_key";
const PUBLIC_PATHS = new Set(["/healthz", "/readyz", "/signin", "/auth/sign-in", "/auth/sign-out"]);
const PUBLIC_PREFIXES = ["/console/assets/"];

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

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

export function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization?.startsWith("Bearer ")) return authorization.slice(7).trim();
  const header = request.headers["x-api-key"];
  if (typeof header === "string") return header;
  return cookieValue(request.headers.cookie, SESSION_COOKIE);
}

function wantsHtml(request: FastifyRequest): boolean {
  return request.method === "GET" && (request.headers.accept ?? "").includes("text/html");
}

export function registerAuth(app: FastifyInstance, keys: ApiKeys): void {
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] ?? "/";
    if (PUBLIC_PATHS.has(path) || PUBLIC_PREFIXES.some((p) => path.startsWith(p))) return;
    if (keys.matches(presentedKey(request))) return;
    if (wantsHtml(request) && !request.headers.upgrade) {
      return reply.redirect(`/signin?next=${encodeURIComponent(request.url)}`, 302);
    }
    return reply.status(401).header("www-authenticate", 'Bearer realm="wa-blast"').send({
      statusCode: 401,
      error: "Unauthorized",
      message: "a valid API key is required (Authorization: Bearer <key>)",
    });
  });
}

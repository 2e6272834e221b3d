// API keys on every route but liveness/readiness and the sign-in itself. A key comes as
// `Authorization: Bearer <key>`, `X-API-Key`, or the console's HttpOnly cookie (browsers cannot set
// headers on WebSockets). Keys are never logged.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiKeys, keyFromHeaders } from "../../../shared/auth/apiKeys.ts";

export { ApiKeys };

export const SESSION_COOKIE = "wa_blast_key";
const PUBLIC_PATHS = new Set(["/healthz", "/readyz", "/signin", "/auth/sign-in", "/auth/sign-out"]);
const PUBLIC_PREFIXES = ["/console/assets/"];

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

export function presentedKey(request: FastifyRequest): string | undefined {
  return keyFromHeaders(request.headers) ?? cookieValue(request.headers.cookie, SESSION_COOKIE);
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

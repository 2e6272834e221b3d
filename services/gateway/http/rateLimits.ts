// Request budgets per client, counted in Redis so every gateway behind a load balancer draws on
// the same budget. A client is its API key (as a SHA-256 digest: counters in Redis must never
// hold a key), or its address when it has no valid key, so neither a flood without a key nor one
// with a new made-up key each time escapes the limit. Uploads (blasts, previews, campaigns) parse
// whole spreadsheets and get a stricter budget of their own.
import { createHash } from "node:crypto";
import fastifyRateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { GatewayDeps } from "../deps.ts";
import { presentedKey, type ApiKeys } from "./auth.ts";
import { HttpError } from "./errors.ts";

const WINDOW_MS = 60_000;
const EXEMPT_PATHS = new Set(["/healthz", "/readyz"]);
const UPLOAD_ROUTES = new Set([
  "POST /api/blasts",
  "POST /api/blasts/preview",
  "POST /api/blasts/test-send",
  "POST /api/campaigns",
  "POST /api/media",
  "POST /api/suppression/import",
]);

/** Who a request counts against: the digest of a valid key, else the client's address. */
export function clientIdentity(request: FastifyRequest, keys: ApiKeys): string {
  const key = presentedKey(request);
  if (key !== undefined && keys.matches(key)) return `key:${createHash("sha256").update(key).digest("hex")}`;
  return `ip:${request.ip}`;
}

type Limiter = ReturnType<FastifyInstance["createRateLimit"]>;

async function spend(limiter: Limiter, request: FastifyRequest, reply: FastifyReply, what: string) {
  const budget = await limiter(request);
  if (budget.isAllowed) return;
  void reply.header("x-ratelimit-limit", budget.max);
  void reply.header("x-ratelimit-remaining", budget.remaining);
  void reply.header("x-ratelimit-reset", budget.ttlInSeconds);
  if (!budget.isExceeded) return;
  void reply.header("retry-after", budget.ttlInSeconds);
  throw new HttpError(
    429,
    `too many ${what}: at most ${budget.max} a minute; retry in ${budget.ttlInSeconds} s`,
  );
}

export async function registerRateLimits(
  app: FastifyInstance,
  deps: GatewayDeps,
  keys: ApiKeys,
): Promise<void> {
  await app.register(fastifyRateLimit, {
    global: false,
    redis: deps.redis,
    nameSpace: `${deps.config.REDIS_PREFIX}rate:`,
    // When Redis is down the API cannot work anyway (readyz says so); refusing every request
    // with a 500 from the limiter would only hide the cause.
    skipOnError: true,
  });
  const identity = (request: FastifyRequest) => clientIdentity(request, keys);
  const requests = app.createRateLimit({
    max: deps.config.RATE_LIMIT_PER_MINUTE,
    timeWindow: WINDOW_MS,
    keyGenerator: identity,
  });
  const uploads = app.createRateLimit({
    max: deps.config.RATE_LIMIT_UPLOADS_PER_MINUTE,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => `uploads:${identity(request)}`,
  });
  app.addHook("onRequest", async (request, reply) => {
    if (EXEMPT_PATHS.has(request.url.split("?")[0] ?? "")) return;
    await spend(requests, request, reply, "requests");
    if (UPLOAD_ROUTES.has(`${request.method} ${request.routeOptions.url ?? ""}`)) {
      await spend(uploads, request, reply, "uploads");
    }
  });
}

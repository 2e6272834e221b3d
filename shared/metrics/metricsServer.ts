// GET /metrics for Prometheus, behind the same API keys as the gateway: the sender and the webhooks
// service have no other HTTP surface, so node:http is enough and keeps Fastify out of processes
// that never serve users.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { keyFromHeaders, type ApiKeys } from "../auth/apiKeys.ts";

export async function serveMetrics(
  registry: Registry,
  keys: ApiKeys,
  host: string,
  port: number,
): Promise<Server> {
  const server = createServer((request, response) => {
    const json = (status: number, error: string, message: string) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify({ statusCode: status, error, message }));
    };
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      return json(404, "Not Found", "only GET /metrics is served here");
    }
    if (!keys.matches(keyFromHeaders(request.headers))) {
      response.setHeader("www-authenticate", 'Bearer realm="wa-blast"');
      return json(401, "Unauthorized", "a valid API key is required (Authorization: Bearer <key>)");
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { "content-type": registry.contentType });
        response.end(text);
      },
      (err: unknown) => json(500, "Internal Server Error", (err as Error).message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

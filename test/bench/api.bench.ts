// The HTTP API under load from autocannon: GET /api/blasts/:id (a Redis read) and POST /api/blasts
// for a saved campaign of 10k recipients (which publishes 10k work messages before answering).
import autocannon from "autocannon";
import type { Platform } from "../harness/platform.ts";
import { startServers } from "../harness/servers.ts";
import { log, postJsonBlast, recipientsOf, startBenchPlatform, TEMPLATE } from "./benchSupport.ts";

export interface ApiFigures {
  readonly route: string;
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
}

export interface ApiResult {
  readonly getBlast: ApiFigures;
  readonly postBlast: ApiFigures;
}

async function load(
  platform: Platform,
  route: string,
  options: { path: string; method: "GET" | "POST"; body?: string; connections: number; seconds: number },
): Promise<ApiFigures> {
  const result = await autocannon({
    url: `${platform.baseUrl}${options.path}`,
    method: options.method,
    connections: options.connections,
    duration: options.seconds,
    headers: { ...platform.authHeaders, "content-type": "application/json" },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const figures: ApiFigures = {
    route,
    connections: options.connections,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx + result.errors + result.timeouts,
  };
  log(`api ${route}: ${Math.round(figures.requestsPerSecond)} req/s, p99 ${figures.p99Ms} ms`);
  return figures;
}

async function createCampaign(platform: Platform, recipients: number): Promise<string> {
  const res = await platform.api("/api/campaigns", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", recipients: recipientsOf(recipients) }),
  });
  if (!res.ok) throw new Error(`POST /api/campaigns answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { campaignId: string }).campaignId;
}

/** Gateway and projector only: no sender drains the work, so the POSTs measure queueing alone. */
export async function measureApi(seconds: number): Promise<ApiResult> {
  const servers = await startServers();
  // A campaign of 10k recipients is a JSON body bigger than the default 1 MB.
  const platform = await startBenchPlatform(servers, { MAX_JSON_BODY_BYTES: String(16 * 1024 * 1024) });
  try {
    await platform.start("gateway");
    await platform.start("projector");
    const blastId = await postJsonBlast(platform, "s1", recipientsOf(100));
    const getBlast = await load(platform, "GET /api/blasts/:id", {
      path: `/api/blasts/${blastId}`,
      method: "GET",
      connections: 50,
      seconds,
    });
    const campaignId = await createCampaign(platform, 10_000);
    const postBlast = await load(platform, "POST /api/blasts (campaign of 10k)", {
      path: "/api/blasts",
      method: "POST",
      body: JSON.stringify({ sessionId: "s1", message: TEMPLATE, campaignId }),
      connections: 4,
      seconds,
    });
    return { getBlast, postBlast };
  } finally {
    await platform.stop();
    await servers.dispose();
  }
}

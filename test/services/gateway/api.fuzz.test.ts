// Random requests against the real routes with a valid key, through app.inject against real NATS
// and Redis: every answer is below 500 and, from 400 up, JSON `{statusCode, error, message}`.
// Only the pages meant for browsers and Prometheus (console, Swagger UI, /metrics) answer in
// other formats. Fixed seed: a failure found here is found again on every run.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

const SEED = 42;
const NUM_RUNS = 1500;

/** The real routes with their methods, so most requests get past routing to validation and handlers. */
const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ["POST", "/api/blasts"],
  ["GET", "/api/blasts"],
  ["POST", "/api/blasts/preview"],
  ["POST", "/api/blasts/test-send"],
  ["GET", "/api/blasts/{id}"],
  ["GET", "/api/blasts/{id}/failures"],
  ["GET", "/api/blasts/{id}/results.csv"],
  ["POST", "/api/blasts/{id}/pause"],
  ["POST", "/api/blasts/{id}/resume"],
  ["POST", "/api/blasts/{id}/cancel"],
  ["POST", "/api/campaigns"],
  ["GET", "/api/campaigns"],
  ["GET", "/api/campaigns/recipients"],
  ["GET", "/api/campaigns/{id}"],
  ["DELETE", "/api/campaigns/{id}"],
  ["GET", "/api/sessions"],
  ["POST", "/api/sessions"],
  ["PUT", "/api/sessions/{id}/pacing"],
  ["GET", "/api/sessions/{id}/pacing"],
  ["POST", "/api/sessions/{id}/connect"],
  ["POST", "/api/sessions/{id}/logout"],
  ["POST", "/api/sessions/{id}/pairing-code"],
  ["POST", "/api/webhooks"],
  ["GET", "/api/webhooks"],
  ["GET", "/api/webhooks/{id}"],
  ["PATCH", "/api/webhooks/{id}"],
  ["DELETE", "/api/webhooks/{id}"],
  ["POST", "/api/webhooks/{id}/rotate-secret"],
  ["GET", "/api/webhooks/{id}/deliveries"],
  ["POST", "/api/webhooks/{id}/deliveries/{id}/redeliver"],
  ["POST", "/api/webhooks/{id}/test"],
  ["GET", "/api/admin/queues"],
  ["POST", "/api/admin/dead-letters/{id}/{id}/retry"],
  ["POST", "/api/admin/dead-letters/{id}/{id}/discard"],
  ["POST", "/auth/sign-in"],
  ["POST", "/auth/sign-out"],
  ["GET", "/healthz"],
  ["GET", "/readyz"],
  ["GET", "/api/docs/json"],
  ["GET", "/"],
];
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
/** Answers meant for browsers and Prometheus, in HTML, JavaScript, CSS or text. */
const NOT_JSON = [/^\/console/, /^\/signin/, /^\/admin\/queues/, /^\/metrics/, /^\/api\/docs(?!\/json)/];

const hostileText = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("s1", "c1", "b_1", "BLAST_EVENTS", "1", "50") },
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    "s1",
    "nope",
    "a.b",
    "*",
    ">",
    "s1 x",
    "..",
    "__proto__",
    "constructor",
    "-1",
    "0",
    "1e999",
    "NaN",
    "BLAST_EVENTS",
    "SEND_WORK",
    "x".repeat(70),
    "%00",
    "%",
    "😀",
  ),
);
const segment = hostileText.map((text) => encodeURIComponent(text).replace(/%25/g, "%"));

type Target = readonly [method: string, path: string];

const routeAndMethod: fc.Arbitrary<Target> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...ROUTES), segment, segment)
      .map(([[method, template], first, second]) => {
        let i = 0;
        return [method, template.replace(/\{id\}/g, () => (i++ === 0 ? first : second))] as const;
      }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(...METHODS),
      fc.oneof(
        fc.constantFrom(...ROUTES.map(([, template]) => template.replace(/\{id\}/g, "s1"))),
        fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join("/")}`),
      ),
    ),
  },
);

const query = fc
  .dictionary(
    fc.constantFrom("page", "pageSize", "campaignId", "blastId", "sessionId", "__proto__", "x"),
    hostileText,
    {
      maxKeys: 3,
    },
  )
  .map((params) =>
    Object.keys(params).length === 0
      ? ""
      : `?${Object.entries(params)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join("&")}`,
  );

const recipient = fc.dictionary(
  fc.constantFrom("phone", "name", "city", "__proto__", "constructor", "Phone Number", ""),
  fc.oneof(hostileText, fc.constantFrom("+12025550100", "2025550101", "+6281234567890"), fc.integer()),
  { maxKeys: 4 },
);
const blastLike = fc.record(
  {
    sessionId: hostileText,
    message: fc.oneof(hostileText, fc.constantFrom("Hi {name}", "{{x}}", "{", "Hi {city}")),
    campaignId: hostileText,
    name: hostileText,
    recipients: fc.array(recipient, { maxLength: 4 }),
    pacing: fc.dictionary(
      fc.constantFrom("minDelayMs", "perHour", "window", "typing", "constructor"),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 3 },
    ),
    phone: hostileText,
    apiKey: hostileText,
    page: fc.integer(),
  },
  { requiredKeys: [] },
);
/** Requests a client could mean: they reach the handlers, the event log and Redis. */
const plausibleRecipients = fc.array(
  fc.record({
    phone: fc.constantFrom("+12025550100", "2025550101", "+6281234567890", "bad", ""),
    name: fc.constantFrom("Ana", "", "=cmd|' /C calc'!A0"),
  }),
  { minLength: 1, maxLength: 3 },
);
const plausible = fc
  .oneof(
    fc.record(
      {
        sessionId: fc.constantFrom("s1", "s1", "nope"),
        message: fc.constantFrom("Hi {name}", "Hello", "Hi {city}", "{{literal}}"),
        recipients: plausibleRecipients,
        campaignId: fc.constantFrom("c1", "c2"),
      },
      { requiredKeys: ["sessionId", "message"] },
    ),
    fc.record(
      {
        name: fc.constantFrom("VIP", ""),
        recipients: plausibleRecipients,
        campaignId: fc.constantFrom("c1", "c2"),
      },
      { requiredKeys: ["name"] },
    ),
    fc.record(
      {
        url: fc.constantFrom("https://8.8.8.8/hook", "http://127.0.0.1/", "https://u:p@8.8.8.8/", "ftp://x/"),
        events: fc.constantFrom(["recipient.sent"], [], ["nope"], ["recipient.sent", "recipient.sent"]),
        enabled: fc.boolean(),
      },
      { requiredKeys: ["url", "events"] },
    ),
  )
  .map((value) => JSON.stringify(value));
/** Mostly random requests, some aimed at the routes that write, so handlers run past validation. */
const request = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      target: routeAndMethod,
      search: query,
      payload: fc.oneof(
        fc.constant(undefined),
        { weight: 2, arbitrary: plausible },
        blastLike.map((value) => JSON.stringify(value)),
        fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          '{"__proto__":{"x":1}}',
          '{"constructor":{"prototype":{"x":1}}}',
          "{",
          "",
          "null",
          "[]",
        ),
      ),
      type: fc.constantFrom(
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/xml",
        undefined,
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      target: fc.constantFrom<Target>(
        ["POST", "/api/blasts"],
        ["POST", "/api/blasts/preview"],
        ["POST", "/api/blasts/test-send"],
        ["POST", "/api/campaigns"],
      ),
      search: fc.constant(""),
      payload: plausible,
      type: fc.constant("application/json"),
    }),
  },
);

describe("the HTTP API under fuzzing", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  it("answers every random request below 500, and from 400 up with a JSON error", async (t) => {
    let cases = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        request,
        fc.option(fc.constantFrom("text/html", "application/json", "*/*", "text/csv"), { nil: undefined }),
        fc.option(hostileText, { nil: undefined }),
        async ({ target: [method, url], search, payload, type }, accept, idempotencyKey) => {
          cases++;
          const headers: Record<string, string> = {};
          if (type !== undefined && payload !== undefined) headers["content-type"] = type;
          if (accept !== undefined) headers.accept = accept;
          if (idempotencyKey !== undefined) headers["idempotency-key"] = encodeURIComponent(idempotencyKey);
          const request: InjectOptions = {
            method: method as InjectOptions["method"],
            url: `${url}${search}`,
            headers,
            ...(payload !== undefined && method !== "GET" && method !== "HEAD" ? { payload } : {}),
          };
          const res = await gw.inject(request);
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          const what = `${method} ${url}${search} ${JSON.stringify(payload)?.slice(0, 200)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
          // A session command with no sender running is the one designed 503 ("try again shortly").
          const noSender = res.statusCode === 503 && /no sender is running session/.test(res.body);
          assert.ok(res.statusCode < 500 || noSender, what);
          if (res.statusCode < 400 || method === "HEAD" || NOT_JSON.some((p) => p.test(url))) return;
          const error = res.json<{ statusCode: unknown; error: unknown; message: unknown }>();
          assert.equal(error.statusCode, res.statusCode, what);
          assert.equal(typeof error.error, "string", what);
          assert.equal(typeof error.message, "string", what);
          assert.match(String(res.headers["content-type"]), /application\/json/, what);
        },
      ),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    const summary = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
    t.diagnostic(`HTTP API fuzz cases: ${cases} (${summary})`);
    console.log(`HTTP API fuzz cases: ${cases} (${summary})`);
    assert.ok(cases >= NUM_RUNS);
  });
});

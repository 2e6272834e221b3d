// What the console relies on besides the existing API: a preview that runs the real checks and
// queues nothing, a per-recipient CSV that is safe to open in a spreadsheet, every route in the
// OpenAPI document, and pages that no other site can frame or inject scripts into.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { BLAST_EVENTS, SEND_WORK } from "../../../shared/nats/topology.ts";
import { csvCell } from "../../../services/gateway/http/csv.ts";
import { parseCsv } from "../../harness/csvText.ts";
import { eventually } from "../../harness/platform.ts";
import { multipart, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

/** Full "METHOD /path" routes from Fastify's printed route tree (a node's path extends its parent's). */
function servedRoutes(tree: string): string[] {
  const parents: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split("\n")) {
    const m = line.match(/^(.*?)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (parents[depth - 1] ?? "") + m[2]!;
    parents[depth] = path;
    for (const method of m[3]?.split(", ") ?? []) {
      if (method !== "HEAD" && method !== "OPTIONS") routes.push(`${method} ${path}`);
    }
  }
  return routes;
}

describe("console API", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  const storedMessages = async () => ({
    events: (await gw.nats.jsm.streams.info(BLAST_EVENTS)).state.messages,
    work: (await gw.nats.jsm.streams.info(SEND_WORK)).state.messages,
  });

  it("previews a blast as POST /api/blasts would send it, and queues nothing", async () => {
    const csv =
      "Phone,Name,City\n+1 202 555 0100,Ana,Paris\n(202) 555-0101,Bob,Rome\n2025550100,Ana again,Oslo\n" +
      "not a phone,Cy,Lima\n+12025550102,,Lima\n";
    const fields = { sessionId: "s1", message: "Hi {name} from {city}" };
    const file = { field: "recipientsFile", filename: "people.csv", data: csv };
    const before = await storedMessages();
    const preview = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      ...multipart(fields, file),
    });
    assert.equal(preview.statusCode, 200, preview.body);
    assert.deepEqual(preview.json(), {
      total: 2,
      duplicates: 1,
      rejected: {
        count: 2,
        sample: [
          { source: "file", row: 5, phone: "not a phone", reason: "phone has invalid characters" },
          { source: "file", row: 6, phone: "+12025550102", reason: "missing value for {name}" },
        ],
      },
      messages: [
        { idx: 0, phone: "+12025550100", name: "Ana", text: "Hi Ana from Paris" },
        { idx: 1, phone: "+12025550101", name: "Bob", text: "Hi Bob from Rome" },
      ],
    });
    assert.deepEqual(await storedMessages(), before, "a preview stores nothing in JetStream");
    assert.equal((await gw.inject("/api/blasts")).json<{ total: number }>().total, 0);

    const created = await gw.inject({ method: "POST", url: "/api/blasts", ...multipart(fields, file) });
    assert.equal(created.statusCode, 202);
    const body = created.json<{ total: number; duplicates: number; rejected: { count: number } }>();
    assert.deepEqual(
      { total: body.total, duplicates: body.duplicates, rejected: body.rejected.count },
      { total: 2, duplicates: 1, rejected: 2 },
      "the blast queues what the preview showed",
    );
  });

  it("refuses in the preview what the blast would refuse", async () => {
    const unknownColumn = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      payload: { sessionId: "s1", message: "Hi {nickname}", recipients: [{ phone: "+12025550100" }] },
    });
    assert.equal(unknownColumn.statusCode, 400);
    assert.match(unknownColumn.json<{ message: string }>().message, /\{nickname\}/);
    const unknownSession = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      payload: { sessionId: "nobody", message: "Hi", recipients: [{ phone: "+12025550100" }] },
    });
    assert.equal(unknownSession.statusCode, 404);
  });

  it("exports per-recipient results as CSV, with formula-looking cells defused", async () => {
    const names = ['=HYPERLINK("http://x")', "+SUM(1)", "-2", "@cmd", 'Ann, "Q" Lee', "Bo\nLee"];
    const recipients = names.map((name, i) => ({ phone: `+1202555020${i}`, name }));
    const created = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", message: "Hello {name}", recipients },
    });
    const { blastId } = created.json<{ blastId: string }>();
    const at = new Date().toISOString();
    // What a sender appends once it has tried the first two recipients.
    const outcomes: BlastEvent[] = [
      {
        type: "recipients.settled",
        data: {
          blastId,
          sessionId: "s1",
          at,
          outcomes: [
            { idx: 0, phone: "+12025550200", kind: "sent", messageId: "m-0" },
            { idx: 1, phone: "+12025550201", kind: "failed", reason: "=not_on_whatsapp" },
          ],
        },
      },
      { type: "recipient.delivered", data: { blastId, idx: 0, phone: "+12025550200", at, sessionId: "s1" } },
    ];
    await appendEvents(gw.nats.js, outcomes);
    await eventually(async () =>
      (await gw.projection.summary(blastId))?.delivered === 1 ? true : undefined,
    );

    const res = await gw.inject(`/api/blasts/${blastId}/results.csv`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /^text\/csv/);
    assert.match(
      String(res.headers["content-disposition"]),
      new RegExp(`attachment; filename="${blastId}-results.csv"`),
    );
    const [header, ...rows] = parseCsv(res.body);
    assert.deepEqual(header, [
      "idx",
      "phone",
      "name",
      "outcome",
      "reason",
      "message_id",
      "session_id",
      "settled_at",
      "delivered_at",
      "read_at",
      "replied_at",
      "reply",
      "variant",
    ]);
    assert.equal(rows.length, names.length);
    assert.deepEqual(
      rows.map((r) => r[2]),
      ['\'=HYPERLINK("http://x")', "'+SUM(1)", "'-2", "'@cmd", 'Ann, "Q" Lee', "Bo\nLee"],
    );
    assert.deepEqual(
      rows.map((r) => r[1]),
      recipients.map((r) => `'${r.phone}`),
      "phones start with +",
    );
    assert.deepEqual(rows[0]?.slice(3, 9), ["sent", "", "m-0", "s1", at, at]);
    assert.deepEqual(rows[1]?.slice(3, 7), ["failed", "'=not_on_whatsapp", "", "s1"]);
    assert.deepEqual(
      rows.slice(2).map((r) => r[3]),
      ["pending", "pending", "pending", "pending"],
    );
    assert.equal((await gw.inject("/api/blasts/b_missing/results.csv")).statusCode, 404);
    // Names are trimmed on import, so tab and carriage return starts only reach a cell through a reason.
    assert.deepEqual(
      [csvCell("\tx"), csvCell("\rx"), csvCell("a-b"), csvCell(7)],
      ["'\tx", `"'\rx"`, "a-b", "7"],
    );
  });

  it("documents every route of the API with its schemas", async () => {
    const doc = (await gw.inject("/api/docs/json")).json<{
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    }>();
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`),
      ),
    );
    const served = servedRoutes(gw.app.printRoutes({ commonPrefix: false }));
    // Pages, assets, Swagger UI's own files and the WebSocket are not API operations.
    const notApi = /^GET (\/|\/signin|\/console|\/admin\/queues|\/console\/assets\/:file|\/api\/docs.*)$/;
    const api = served.filter((route) => !notApi.test(route));
    assert.ok(api.length >= 25, `${api.length} API routes`);
    for (const route of api) assert.ok(documented.has(route), `${route} is in the OpenAPI document`);
    for (const route of [
      "POST /api/blasts/preview",
      "GET /api/blasts/:blastId/results.csv",
      "GET /api/admin/queues",
      "POST /api/admin/dead-letters/:stream/:seq/retry",
      "POST /api/admin/dead-letters/:stream/:seq/discard",
      "GET /metrics",
    ]) {
      assert.ok(documented.has(route), route);
    }
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const ok = Object.keys(operation.responses ?? {}).some((code) => code.startsWith("2"));
        assert.ok(ok, `${method} ${path} documents its answer`);
      }
    }
  });

  it("serves the console pages with security headers, and sends a browser at / to the console", async () => {
    for (const url of [
      "/signin",
      "/console",
      "/admin/queues",
      "/console/assets/console.js",
      "/console/assets/console.css",
    ]) {
      const res = await gw.inject({ url, headers: { accept: "text/html" } });
      assert.equal(res.statusCode, 200, url);
      const csp = String(res.headers["content-security-policy"]);
      assert.match(csp, /script-src 'self'(;|$)/, url);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url);
      assert.match(csp, /frame-ancestors 'none'/, url);
      assert.equal(res.headers["x-content-type-options"], "nosniff", url);
      assert.equal(res.headers["referrer-policy"], "no-referrer", url);
    }
    const page = await gw.inject("/console");
    assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]/, "no inline script");
    const root = await gw.inject({ url: "/", headers: { accept: "text/html" } });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, "/console");
    const signedOut = await gw.app.inject({ url: "/admin/queues", headers: { accept: "text/html" } });
    assert.equal(signedOut.statusCode, 302);
    assert.equal(signedOut.headers.location, "/signin?next=%2Fadmin%2Fqueues");
    assert.equal((await gw.app.inject({ url: "/signin" })).statusCode, 200, "sign-in is public");
    assert.equal((await gw.app.inject({ url: "/console/assets/signin.js" })).statusCode, 200);
  });
});

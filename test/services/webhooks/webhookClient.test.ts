// The webhook HTTP client against real loopback servers: the SSRF guard (literals and names),
// redirects not followed, one deadline, a closed socket, and what a receiver gets.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebhookClient } from "../../../services/webhooks/webhookClient.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function listen(handler: Handler): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}

describe("webhook client", () => {
  const open = new WebhookClient({ allowPrivate: true }, 400);
  const strict = new WebhookClient({ allowPrivate: false }, 400);
  let received: { headers: IncomingMessage["headers"]; body: string } | undefined;
  let ok: Awaited<ReturnType<typeof listen>>;
  let redirect: Awaited<ReturnType<typeof listen>>;
  let hang: Awaited<ReturnType<typeof listen>>;
  let slam: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    ok = await listen((req, res, body) => {
      received = { headers: req.headers, body };
      res.writeHead(204).end();
    });
    redirect = await listen((_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${ok.port}/` }).end(),
    );
    hang = await listen(() => undefined);
    slam = await listen((req) => req.socket.destroy());
  });

  after(() => {
    open.close();
    strict.close();
    for (const s of [ok, redirect, hang, slam]) s.server.closeAllConnections();
    for (const s of [ok, redirect, hang, slam]) s.server.close();
  });

  it("posts the body with the given headers and reports the status and latency", async () => {
    const result = await open.post(`http://127.0.0.1:${ok.port}/hook?x=1`, '{"a":1}', {
      "x-wablast-event-id": "evt_1",
    });
    assert.equal(result.delivered, true);
    assert.equal(result.httpStatus, 204);
    assert.ok(result.latencyMs >= 0 && result.latencyMs < 400);
    assert.equal(received?.body, '{"a":1}');
    assert.equal(received?.headers["x-wablast-event-id"], "evt_1");
    assert.equal(received?.headers["content-type"], "application/json");
  });

  it("refuses loopback targets without the flag, by address and by name, before connecting", async () => {
    const before = ok.hits();
    const literal = await strict.post(`http://127.0.0.1:${ok.port}/`, "{}", {});
    assert.equal(literal.delivered, false);
    assert.match(literal.error ?? "", /loopback/);
    const named = await strict.post(`http://localhost:${ok.port}/`, "{}", {});
    assert.equal(named.delivered, false);
    assert.match(named.error ?? "", /localhost resolves to .*loopback/);
    assert.equal(ok.hits(), before, "nothing reached the receiver");
  });

  it("does not follow redirects", async () => {
    const before = ok.hits();
    const result = await open.post(`http://127.0.0.1:${redirect.port}/`, "{}", {});
    assert.equal(result.delivered, false);
    assert.equal(result.httpStatus, 302);
    assert.match(result.error ?? "", /redirect .* not followed/);
    assert.equal(ok.hits(), before);
  });

  it("gives up on a receiver that does not answer within the timeout", async () => {
    const started = Date.now();
    const result = await open.post(`http://127.0.0.1:${hang.port}/`, "{}", {});
    assert.equal(result.delivered, false);
    assert.match(result.error ?? "", /no answer within 400 ms/);
    assert.ok(Date.now() - started < 2000);
  });

  it("reports a socket the receiver closed", async () => {
    const result = await open.post(`http://127.0.0.1:${slam.port}/`, "{}", {});
    assert.equal(result.delivered, false);
    assert.match(result.error ?? "", /closed by the receiver|ECONNRESET/);
  });

  it("reports a refused connection and a non-2xx answer as failures", async () => {
    const closed = await listen(() => undefined);
    const port = closed.port;
    await new Promise((r) => closed.server.close(r));
    const refused = await open.post(`http://127.0.0.1:${port}/`, "{}", {});
    assert.match(refused.error ?? "", /ECONNREFUSED/);
    const failing = await listen((_req, res) => res.writeHead(500).end("boom"));
    const result = await open.post(`http://127.0.0.1:${failing.port}/`, "{}", {});
    assert.deepEqual([result.delivered, result.httpStatus, result.error], [false, 500, "HTTP 500"]);
    failing.server.closeAllConnections();
    failing.server.close();
  });
});

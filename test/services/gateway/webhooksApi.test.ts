// Webhook endpoints through the API (app.inject against real NATS and Redis): registration with
// its secret shown once, the SSRF rule (malformed URLs and private targets refused unless the
// deployment allows them), bad event filters, edits, rotation, test events, the delivery log,
// redelivery of what is not dead, deletion with its queue, and the cap on endpoints.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { WEBHOOK_EVENT_TYPES } from "../../../shared/domain/webhookEvents.ts";
import { WEBHOOK_SOURCES } from "../../../shared/nats/durableConsumers.ts";
import {
  subjects,
  WEBHOOK_DELIVERIES,
  webhookFanoutConsumer,
  webhookSourceStream,
} from "../../../shared/nats/topology.ts";
import { startGatewayApp, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { startServers, type Servers } from "../../harness/servers.ts";

interface Webhook {
  webhookId: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  createdAt: string;
  previousSecretExpiresAt?: string;
  queued?: number;
  dead?: number;
  secret?: string;
}

interface DeliveryPage {
  items: Array<{ eventId: string; type: string; status: string; attempts: number }>;
  total: number;
}

const PUBLIC_URL = "https://8.8.8.8/hooks/wa-blast";

describe("the webhooks API", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });
  beforeEach(async () => {
    const list = (await gw.inject("/api/webhooks")).json<{ items: Webhook[] }>();
    for (const w of list.items) await gw.inject({ method: "DELETE", url: `/api/webhooks/${w.webhookId}` });
  });

  const register = (payload: unknown) =>
    gw.inject({ method: "POST", url: "/api/webhooks", payload: payload as object });
  const registered = async (payload: object = {}): Promise<Webhook> => {
    const res = await register({ url: PUBLIC_URL, events: ["recipient.sent"], ...payload });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Webhook>();
  };

  it("registers an endpoint and shows its secret in that answer only", async () => {
    const res = await register({
      url: "HTTPS://8.8.8.8/hooks/wa-blast?x=1",
      events: ["recipient.sent", "blast.completed"],
      description: "CRM sync",
    });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json<Webhook>();
    assert.match(created.webhookId, /^wh_[A-Za-z0-9_-]+$/);
    assert.equal(created.url, "https://8.8.8.8/hooks/wa-blast?x=1", "normalized");
    assert.deepEqual(created.events, ["recipient.sent", "blast.completed"]);
    assert.equal(created.enabled, true);
    assert.match(created.secret ?? "", /^whsec_[A-Za-z0-9_-]{43}$/);

    const one = await gw.inject(`/api/webhooks/${created.webhookId}`);
    assert.equal(one.statusCode, 200);
    assert.deepEqual(one.json<Webhook>(), {
      webhookId: created.webhookId,
      url: created.url,
      events: created.events,
      description: "CRM sync",
      enabled: true,
      createdAt: created.createdAt,
      queued: 0,
      dead: 0,
    });
    const list = await gw.inject("/api/webhooks");
    assert.equal(list.json<{ total: number }>().total, 1);
    for (const body of [one.body, list.body])
      assert.ok(!body.includes(created.secret ?? "?"), "secret never listed");
    for (const source of WEBHOOK_SOURCES) {
      // Made at registration: facts from now on reach the endpoint even before a webhooks service runs.
      const info = await gw.nats.jsm.consumers.info(
        webhookSourceStream(source),
        webhookFanoutConsumer(source),
      );
      assert.equal(info.config.deliver_policy, "new");
    }
  });

  it("refuses malformed URLs", async () => {
    const urls = [
      "",
      "not a url",
      "hooks.example.com/x",
      "ftp://8.8.8.8/x",
      "javascript:alert(1)",
      "file:///etc/passwd",
      "https://user:pw@8.8.8.8/",
      "https://8.8.8.8/#fragment",
      "https://8.8.8.8:0/",
      "https://8.8.8.8:99999/",
      "https://8.8.8.8/\nx",
      `https://8.8.8.8/${"a".repeat(2100)}`,
      "https://no-such-host.invalid/hook",
    ];
    for (const url of urls) {
      const res = await register({ url, events: ["recipient.sent"] });
      assert.equal(res.statusCode, 400, `${url.slice(0, 40)}: ${res.body}`);
    }
    assert.equal((await register({ url: 42, events: ["recipient.sent"] })).statusCode, 400);
  });

  it("refuses loopback, private, link-local, unique-local and CGNAT targets, by address and by name", async () => {
    const urls = [
      "http://127.0.0.1:8080/hook",
      "http://localhost:8080/hook",
      "http://[::1]/hook",
      "http://[::ffff:127.0.0.1]/hook",
      "http://2130706433/hook",
      "http://10.0.0.8/hook",
      "http://172.16.4.4/hook",
      "http://192.168.1.10/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://[fd00::1]/hook",
      "http://[fe80::1]/hook",
      "http://100.64.0.1/hook",
      "http://0.0.0.0:6379/",
    ];
    for (const url of urls) {
      const res = await register({ url, events: ["recipient.sent"] });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.match(
        res.json<{ message: string }>().message,
        /loopback|private|link-local|unique-local|carrier-grade|unspecified/,
        url,
      );
    }
    assert.equal((await gw.inject("/api/webhooks")).json<{ total: number }>().total, 0);
  });

  it("refuses empty, unknown, duplicated, huge and malformed event filters, and unknown fields", async () => {
    const filters: unknown[] = [
      [],
      ["recipient.exploded"],
      ["recipient.sent", "recipient.sent"],
      [...WEBHOOK_EVENT_TYPES, ...WEBHOOK_EVENT_TYPES].slice(0, 21),
      Array.from({ length: 50_000 }, () => "recipient.sent"),
      "recipient.exploded",
      [42],
      null,
    ];
    for (const events of filters) {
      const res = await register({ url: PUBLIC_URL, events });
      assert.equal(res.statusCode, 400, `${JSON.stringify(events).slice(0, 60)}: ${res.body}`);
    }
    assert.equal((await register({ url: PUBLIC_URL })).statusCode, 400, "events are required");
    assert.equal(
      (await register({ url: PUBLIC_URL, events: ["ping"] })).statusCode,
      400,
      "ping is not subscribable",
    );
    assert.equal(
      (await register({ url: PUBLIC_URL, events: ["recipient.sent"], secret: "mine" })).statusCode,
      400,
    );
    assert.equal(
      (await register({ url: PUBLIC_URL, events: ["recipient.sent"], description: "x".repeat(501) }))
        .statusCode,
      400,
    );
    const all = await register({ url: PUBLIC_URL, events: [...WEBHOOK_EVENT_TYPES] });
    assert.equal(all.statusCode, 201, "every event at once is fine");
  });

  it("edits an endpoint under the same rules, and 404s one that does not exist", async () => {
    const { webhookId } = await registered();
    const patch = (payload: object, id = webhookId) =>
      gw.inject({ method: "PATCH", url: `/api/webhooks/${id}`, payload });
    const changed = await patch({
      events: ["blast.completed", "consent.optout"],
      enabled: false,
      description: "off",
    });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.deepEqual(
      [changed.json<Webhook>().events, changed.json<Webhook>().enabled, changed.json<Webhook>().description],
      [["blast.completed", "consent.optout"], false, "off"],
    );
    assert.equal((await patch({ url: "http://10.1.1.1/" })).statusCode, 400);
    assert.equal((await patch({ events: [] })).statusCode, 400);
    assert.equal((await patch({})).statusCode, 400);
    assert.equal((await patch({ secret: "x" })).statusCode, 400);
    assert.equal((await patch({ enabled: true }, "wh_missing")).statusCode, 404);
    assert.equal((await patch({ enabled: true }, "bad.id")).statusCode, 400);
    assert.equal(
      (await gw.inject(`/api/webhooks/${webhookId}`)).json<Webhook>().url,
      PUBLIC_URL,
      "URL unchanged",
    );
  });

  it("rotates the secret: a new one shown once, the previous one signing until the grace ends", async () => {
    const created = await registered();
    const res = await gw.inject({ method: "POST", url: `/api/webhooks/${created.webhookId}/rotate-secret` });
    assert.equal(res.statusCode, 200, res.body);
    const { secret, previousSecretExpiresAt } = res.json<{
      secret: string;
      previousSecretExpiresAt: string;
    }>();
    assert.match(secret, /^whsec_/);
    assert.notEqual(secret, created.secret);
    const hours = (Date.parse(previousSecretExpiresAt) - Date.now()) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24, `grace ${hours} h`);
    const one = await gw.inject(`/api/webhooks/${created.webhookId}`);
    assert.equal(one.json<Webhook>().previousSecretExpiresAt, previousSecretExpiresAt);
    assert.ok(!one.body.includes(secret) && !one.body.includes(created.secret ?? "?"));
    assert.equal(
      (await gw.inject({ method: "POST", url: "/api/webhooks/wh_missing/rotate-secret" })).statusCode,
      404,
    );
  });

  it("queues a test event, shown queued in the log and the endpoint's figures", async () => {
    const { webhookId } = await registered();
    const res = await gw.inject({ method: "POST", url: `/api/webhooks/${webhookId}/test` });
    assert.equal(res.statusCode, 202, res.body);
    const { eventId } = res.json<{ eventId: string }>();
    assert.match(eventId, /^evt_ping_/);
    const log = (await gw.inject(`/api/webhooks/${webhookId}/deliveries`)).json<DeliveryPage>();
    assert.deepEqual(
      log.items.map((d) => [d.eventId, d.type, d.status, d.attempts]),
      [[eventId, "ping", "queued", 0]],
    );
    assert.equal(log.total, 1);
    assert.equal((await gw.inject(`/api/webhooks/${webhookId}`)).json<Webhook>().queued, 1);
    assert.equal((await gw.inject("/api/webhooks")).json<{ items: Webhook[] }>().items[0]?.queued, 1);
    assert.equal((await gw.inject(`/api/webhooks/${webhookId}/deliveries?page=0`)).statusCode, 400);
    assert.equal((await gw.inject("/api/webhooks/wh_missing/deliveries")).statusCode, 404);
  });

  it("redelivers only what is dead", async () => {
    const { webhookId } = await registered();
    const redeliver = (eventId: string) =>
      gw.inject({ method: "POST", url: `/api/webhooks/${webhookId}/deliveries/${eventId}/redeliver` });
    assert.equal((await redeliver("evt_b1_1")).statusCode, 404);
    assert.equal((await redeliver("not-an-event")).statusCode, 400);
    assert.equal((await redeliver("evt_a.b")).statusCode, 400);
  });

  it("deletes an endpoint with its log and whatever is queued for it", async () => {
    const { webhookId } = await registered();
    await gw.inject({ method: "POST", url: `/api/webhooks/${webhookId}/test` });
    const res = await gw.inject({ method: "DELETE", url: `/api/webhooks/${webhookId}` });
    assert.equal(res.statusCode, 204);
    assert.equal((await gw.inject(`/api/webhooks/${webhookId}`)).statusCode, 404);
    assert.equal((await gw.inject({ method: "DELETE", url: `/api/webhooks/${webhookId}` })).statusCode, 404);
    const info = await gw.nats.jsm.streams.info(WEBHOOK_DELIVERIES, {
      subjects_filter: subjects.webhookEndpoint(webhookId),
    });
    assert.equal(Object.keys(info.state.subjects ?? {}).length, 0, "queue purged");
    assert.equal((await gw.redis.keys(`*${webhookId}*`)).length, 0, "nothing left in Redis");
  });

  it("holds at most 100 endpoints", async () => {
    for (let i = 0; i < 100; i++) await registered();
    const res = await register({ url: PUBLIC_URL, events: ["recipient.sent"] });
    assert.equal(res.statusCode, 409, res.body);
  });
});

describe("the webhooks API on a deployment that allows private targets", () => {
  let servers: Servers;
  let gw: GatewayUnderTest;

  before(async () => {
    servers = await startServers();
    gw = await startGatewayApp(servers, { WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" });
  });
  after(async () => {
    await gw?.close();
    await servers?.dispose();
  });

  it("takes loopback and private targets, never the unspecified address", async () => {
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "http://localhost:8080/hook",
      "http://10.0.0.8/hook",
      "http://[::1]/x",
    ]) {
      const res = await gw.inject({
        method: "POST",
        url: "/api/webhooks",
        payload: { url, events: ["recipient.sent"] },
      });
      assert.equal(res.statusCode, 201, `${url}: ${res.body}`);
    }
    const res = await gw.inject({
      method: "POST",
      url: "/api/webhooks",
      payload: { url: "http://0.0.0.0:6379/", events: ["recipient.sent"] },
    });
    assert.equal(res.statusCode, 400);
  });
});

// Webhooks end to end, with every service running as a process and a real HTTP receiver on
// loopback that answers 500, hangs past the timeout, closes the socket and finally accepts: each
// event reaches the (deduping) receiver exactly once, signed, in the blast's order; a delivery
// that never gets through goes dead and is redelivered by hand with the same event id; a rotated
// secret signs beside the new one; and webhooks services killed mid-delivery lose nothing. Two
// webhooks processes run throughout, sharing the fan-out and the deliveries.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  pingEvent,
  webhookEventsOfBlastEvent,
  type WebhookEventType,
} from "../../shared/domain/webhookEvents.ts";
import { verifySignature } from "../../shared/domain/webhookSignature.ts";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { blastHistory } from "../../shared/nats/eventLog.ts";
import {
  BLAST_EVENTS,
  subjects,
  WEBHOOK_DELIVERIES,
  webhookConsumer,
  webhookConsumerConfig,
} from "../../shared/nats/topology.ts";
import { encodeWebhookEvent } from "../../shared/messages/webhookEvents.ts";
import { eventually, startPlatform, type Platform, type RunningService } from "../harness/platform.ts";
import { parsePrometheus } from "../harness/prometheusText.ts";
import { freePort, startServers, type Servers } from "../harness/servers.ts";
import { WebhookReceiver } from "../harness/webhookReceiver.ts";

const MAX_ATTEMPTS = 5;
const TIMEOUT_MS = 300;

interface Registered {
  webhookId: string;
  secret: string;
}

interface Delivery {
  eventId: string;
  type: string;
  status: string;
  attempts: number;
  httpStatus?: number;
  latencyMs?: number;
  error?: string;
}

describe("signed webhooks, delivered to a real receiver", () => {
  let servers: Servers;
  let platform: Platform;
  let receiver: WebhookReceiver;
  let nats: Nats;
  /** Two webhooks processes share the work, as `--scale webhooks=2` would. */
  let webhooks: RunningService[] = [];
  let metricsPorts: number[] = [];

  /** An attempt counter of the webhooks processes, summed over both. */
  const attemptsCounted = async (webhookId: string, outcome: string) => {
    let total = 0;
    for (const port of metricsPorts) {
      const scrape = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: platform.authHeaders });
      assert.equal(scrape.status, 200);
      const { samples } = parsePrometheus(await scrape.text());
      total += samples
        .filter(
          (m) =>
            m.name === "wa_blast_webhook_attempts_total" &&
            m.labels.webhook_id === webhookId &&
            m.labels.outcome === outcome,
        )
        .reduce((n, m) => n + m.value, 0);
    }
    return total;
  };

  before(async () => {
    servers = await startServers();
    receiver = await WebhookReceiver.start();
    platform = await startPlatform(servers, {
      SIM_FAILURE_RATE: "0.2",
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      WEBHOOK_RETRY_BASE_MS: "40",
      WEBHOOK_RETRY_MAX_MS: "200",
    });
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
    metricsPorts = [await freePort(), await freePort()];
    webhooks = [
      await platform.start("webhooks", { WEBHOOKS_METRICS_PORT: String(metricsPorts[0]) }),
      await platform.start("webhooks", { WEBHOOKS_METRICS_PORT: String(metricsPorts[1]) }),
    ];
    nats = await connectNats(servers.nats.url, "webhooks-test");
  });

  after(async () => {
    await nats?.nc.close();
    await platform?.stop();
    await receiver?.close();
    await servers?.dispose();
  });

  const json = async <T>(path: string, init?: RequestInit & { json?: unknown }): Promise<T> => {
    const res = await platform.api(path, {
      ...init,
      ...(init?.json !== undefined
        ? { body: JSON.stringify(init.json), headers: { "content-type": "application/json" } }
        : {}),
    });
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  const register = async (path: string, events: WebhookEventType[]): Promise<Registered> => {
    const created = await json<Registered>("/api/webhooks", {
      method: "POST",
      json: { url: receiver.url(path), events },
    });
    receiver.trust(path, created.secret);
    return created;
  };

  const startBlast = async (count: number, first: number): Promise<string> => {
    const recipients = Array.from({ length: count }, (_, i) => ({
      phone: `+1202555${String(first + i).padStart(4, "0")}`,
      name: `R${i}`,
    }));
    const { blastId } = await json<{ blastId: string }>("/api/blasts", {
      method: "POST",
      json: { sessionId: "s1", message: "Hi {name}", recipients },
    });
    return blastId;
  };

  /** The event ids a receiver subscribed to `types` must get for the blast, in the log's order. */
  const expectedIds = async (blastId: string, types: readonly string[]): Promise<string[]> => {
    const created = Date.parse((await nats.jsm.streams.info(BLAST_EVENTS)).created);
    const history = await blastHistory(nats.js, blastId);
    return history
      .flatMap(({ seq, event }) =>
        webhookEventsOfBlastEvent(event, { source: "blast", streamCreatedMs: created, seq }),
      )
      .filter((e) => types.includes(e.type))
      .map((e) => e.id);
  };

  const deliveries = (webhookId: string) =>
    json<{ items: Delivery[]; total: number }>(`/api/webhooks/${webhookId}/deliveries?pageSize=500`);

  it("gets each event through 500s, a hang and a closed socket exactly once, signed and in the blast's order", async () => {
    const path = "/flaky";
    const types: WebhookEventType[] = ["recipient.sent", "recipient.failed", "blast.completed"];
    const { webhookId } = await register(path, types);
    receiver.script(path, ["fail", "hang", "slam"]);
    const blastId = await startBlast(30, 0);

    const processed = await eventually(
      async () => {
        const ids = receiver.processed(path);
        return ids.length >= 31 ? ids : undefined;
      },
      30_000,
      "31 events at the receiver",
    );
    const expected = await expectedIds(blastId, types);
    assert.equal(expected.length, 31, "30 outcomes and the completion");
    assert.deepEqual(processed, expected, "each event once, in the order the blast logged them");
    const bodies = new Map(
      receiver
        .requestsTo(path)
        .map((r) => [r.eventId, JSON.parse(r.body) as { type: string; data: { idx?: number } }]),
    );
    assert.equal(bodies.get(processed[30] ?? "")?.type, "blast.completed");
    assert.deepEqual(
      [...new Set(processed.slice(0, 30).map((id) => bodies.get(id)?.data.idx))].sort(
        (a, b) => (a ?? 0) - (b ?? 0),
      ),
      Array.from({ length: 30 }, (_, i) => i),
      "every recipient once",
    );
    assert.ok(
      receiver.requestsTo(path).every((r) => r.signatureValid),
      "every request signed with the secret",
    );

    const first = receiver.requestsTo(path).filter((r) => r.eventId === processed[0]);
    assert.deepEqual(
      first.map((r) => [r.attempt, r.answer]),
      [
        [1, "fail"],
        [2, "hang"],
        [3, "slam"],
        [4, "ok"],
      ],
    );
    assert.equal(new Set(first.map((r) => r.body)).size, 1, "the same body every attempt");

    const log = await eventually(
      async () => {
        const page = await deliveries(webhookId);
        return page.items.every((d) => d.status === "delivered") && page.total === 31 ? page : undefined;
      },
      10_000,
      "the delivery log",
    );
    const firstLogged = log.items.find((d) => d.eventId === processed[0]);
    assert.equal(firstLogged?.attempts, 4);
    assert.equal(firstLogged?.httpStatus, 200);
    assert.ok((firstLogged?.latencyMs ?? -1) >= 0);
    // An operator sees the same in /metrics, summed over the webhooks processes.
    assert.equal(await attemptsCounted(webhookId, "delivered"), 31);
    assert.ok((await attemptsCounted(webhookId, "retrying")) >= 3, "the 500, the hang and the slam");
    await json(`/api/webhooks/${webhookId}`, { method: "DELETE" });
  });

  it("parks a delivery that never gets through as dead, and redelivers it with the same event id", async () => {
    const path = "/down";
    const { webhookId, secret } = await register(path, ["consent.optout"]);
    receiver.script(path, [], "fail");
    await json("/api/suppression", { method: "POST", json: { phones: ["+12025559001"], reason: "asked" } });

    const dead = await eventually(
      async () => (await deliveries(webhookId)).items.find((d) => d.status === "dead"),
      20_000,
      "a dead delivery",
    );
    assert.equal(dead.type, "consent.optout");
    assert.equal(dead.attempts, MAX_ATTEMPTS);
    assert.equal(dead.httpStatus, 500);
    assert.equal(receiver.requestsTo(path).length, MAX_ATTEMPTS);
    assert.deepEqual(
      await json<{ queued: number; dead: number }>(`/api/webhooks/${webhookId}`).then((w) => [
        w.queued,
        w.dead,
      ]),
      [0, 1],
    );

    // The receiver is back; a rotation now must not lock it out meanwhile.
    receiver.script(path, [], "ok");
    const rotated = await json<{ secret: string }>(`/api/webhooks/${webhookId}/rotate-secret`, {
      method: "POST",
    });
    receiver.trust(path, rotated.secret);
    await json(`/api/webhooks/${webhookId}/deliveries/${dead.eventId}/redeliver`, { method: "POST" });
    await eventually(
      async () => (receiver.processed(path).includes(dead.eventId) ? true : undefined),
      10_000,
      "redelivery",
    );
    const again = receiver.requestsTo(path).at(-1);
    assert.equal(again?.eventId, dead.eventId, "same event id");
    assert.equal(again?.signatureValid, true, "valid under the new secret");
    assert.equal(again?.signature.split(",").length, 2, "two signatures during the grace");
    for (const key of [rotated.secret, secret]) {
      const check = {
        header: again?.signature ?? "",
        timestamp: again?.timestamp ?? "",
        body: again?.body ?? "",
      };
      assert.ok(
        verifySignature({ ...check, secret: key, now: Math.floor(Date.now() / 1000) }),
        "either secret verifies",
      );
    }
    const check = await eventually(
      async () =>
        (await deliveries(webhookId)).items.find(
          (d) => d.eventId === dead.eventId && d.status === "delivered",
        ),
      5000,
      "the redelivery logged",
    );
    assert.equal(check.attempts, 1);
    const redeliverAgain = await platform.api(
      `/api/webhooks/${webhookId}/deliveries/${dead.eventId}/redeliver`,
      {
        method: "POST",
      },
    );
    assert.equal(redeliverAgain.status, 404, "nothing dead any more");

    const { eventId } = await json<{ eventId: string }>(`/api/webhooks/${webhookId}/test`, {
      method: "POST",
    });
    await eventually(
      async () => (receiver.processed(path).includes(eventId) ? true : undefined),
      10_000,
      "the ping",
    );
    const ping = receiver.requestsTo(path).find((r) => r.eventId === eventId);
    assert.equal(ping?.type, "ping");
    assert.deepEqual((JSON.parse(ping?.body ?? "{}") as { data: unknown }).data, { webhookId });
    await json(`/api/webhooks/${webhookId}`, { method: "DELETE" });
  });

  it("clears the consumer and queue an endpoint left behind when it was deleted", async () => {
    const gone = "wh_gone0000000000";
    await nats.js.publish(subjects.webhookDelivery(gone), encodeWebhookEvent(pingEvent(gone, new Date())));
    await nats.jsm.consumers.add(WEBHOOK_DELIVERIES, webhookConsumerConfig(gone, 10_000));
    nats.nc.publish(subjects.webhooksChanged);
    await eventually(
      async () => {
        const info = await nats.jsm.streams.info(WEBHOOK_DELIVERIES, {
          subjects_filter: subjects.webhookEndpoint(gone),
        });
        const consumers = [];
        for await (const c of nats.jsm.consumers.list(WEBHOOK_DELIVERIES)) consumers.push(c.name);
        return Object.keys(info.state.subjects ?? {}).length === 0 &&
          !consumers.includes(webhookConsumer(gone))
          ? true
          : undefined;
      },
      15_000,
      "the leftovers cleared",
    );
  });

  it("loses nothing when the webhooks services are killed in the middle of a delivery", async () => {
    const path = "/slow";
    const types: WebhookEventType[] = ["recipient.sent", "recipient.failed", "blast.completed"];
    await register(path, types);
    receiver.slow(path, 40);
    const blastId = await startBlast(40, 100);
    await eventually(
      async () => (receiver.processed(path).length >= 8 ? true : undefined),
      20_000,
      "8 events",
    );
    const held = receiver.holdNext(path);
    await held.arrived;
    await Promise.all(webhooks.map((w) => platform.kill(w)));
    held.release();
    webhooks = [await platform.start("webhooks")];

    const processed = await eventually(
      async () => {
        const ids = receiver.processed(path);
        return ids.length >= 41 ? ids : undefined;
      },
      40_000,
      "41 events after the restart",
    );
    assert.deepEqual(processed, await expectedIds(blastId, types), "nothing lost, nothing reordered");
    assert.ok(
      receiver.duplicates(path) >= 1,
      "the event the killed process held came again, and was dropped",
    );
    assert.ok(receiver.requestsTo(path).every((r) => r.signatureValid));
  });
});

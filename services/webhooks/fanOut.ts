// The fan-out: reads each source stream (the blast log, people's messages, consent changes)
// through a durable consumer every webhooks process shares, turns each stored fact into webhook
// events, and queues one delivery per event and subscribed endpoint on the endpoint's subject in
// WEBHOOK_DELIVERIES, before acking the fact. Each delivery's message id names the endpoint and
// the event, so a fact handed out again (a crash before the ack) is queued once. One fact is out
// at a time over all processes (topology.ts), which keeps each endpoint's queue in source order.
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import {
  wantsEvent,
  webhookEventOfConsent,
  webhookEventOfInbound,
  webhookEventsOfBlastEvent,
  type SourcePosition,
  type WebhookEvent,
  type WebhookSource,
} from "../../shared/domain/webhookEvents.ts";
import { decodeBlastEvent } from "../../shared/messages/blastEvents.ts";
import { decodeConsentEvent } from "../../shared/messages/consentEvents.ts";
import { decodeInboundEvent } from "../../shared/messages/inboundEvents.ts";
import { encodeWebhookEvent } from "../../shared/messages/webhookEvents.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { ensureWebhookFanoutConsumers } from "../../shared/nats/durableConsumers.ts";
import { subjects, webhookMsgId, webhookSourceStream } from "../../shared/nats/topology.ts";
import type { WebhookEndpoint } from "../../shared/redis/webhooks.ts";
import type { EndpointCatalog } from "./endpointCatalog.ts";

/** A fact whose deliveries could not be queued (NATS or Redis away) is tried again after this. */
const RETRY_DELAY_MS = 2000;

export interface FanOutDeps {
  readonly nats: Nats;
  readonly catalog: EndpointCatalog;
  readonly log: Logger;
  /** Told how many deliveries each fact queued (tests, metrics). */
  readonly onQueued?: (source: WebhookSource, deliveries: number) => void;
}

/** The webhook events of one stored fact; throws on a message that is not one of ours. */
export function webhookEventsOf(
  source: WebhookSource,
  data: Uint8Array,
  position: SourcePosition,
): WebhookEvent[] {
  switch (source) {
    case "blast":
      return webhookEventsOfBlastEvent(decodeBlastEvent(data), position);
    case "inbound":
      return [webhookEventOfInbound(decodeInboundEvent(data), position)];
    case "consent":
      return [webhookEventOfConsent(decodeConsentEvent(data), position)];
  }
}

export class WebhookFanOut {
  private readonly consumers: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly deps: FanOutDeps) {}

  async start(): Promise<void> {
    for (const [source, consumer] of await ensureWebhookFanoutConsumers(this.deps.nats)) {
      const info = await this.deps.nats.jsm.streams.info(webhookSourceStream(source));
      const streamCreatedMs = Date.parse(info.created);
      const messages = await consumer.consume({ max_messages: 8 });
      this.consumers.push(messages);
      this.loops.push(
        (async () => {
          for await (const msg of messages) await this.take(source, streamCreatedMs, msg);
        })().catch((err: unknown) => {
          this.deps.log.fatal({ err, source }, "webhook fan-out stopped");
          process.exitCode = 1;
        }),
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((messages) => messages.close()));
    await Promise.all(this.loops);
  }

  private async take(source: WebhookSource, streamCreatedMs: number, msg: JsMsg): Promise<void> {
    let endpoints: readonly WebhookEndpoint[];
    try {
      endpoints = (await this.deps.catalog.current()).filter((e) => e.enabled && e.events.length > 0);
    } catch (err) {
      this.deps.log.warn(
        { err, source, seq: msg.seq },
        "webhook endpoints unreadable; fact not fanned out yet",
      );
      msg.nak(RETRY_DELAY_MS);
      return;
    }
    if (endpoints.length === 0) {
      msg.ack();
      return;
    }
    let events: WebhookEvent[];
    try {
      events = webhookEventsOf(source, msg.data, { source, streamCreatedMs, seq: msg.seq });
    } catch (err) {
      // Not one of ours (a hand-published message, a newer version's fact): nothing to tell anyone.
      this.deps.log.error({ err, source, seq: msg.seq, subject: msg.subject }, "skipping a malformed fact");
      msg.ack();
      return;
    }
    // An endpoint gets the facts stored after it was registered, even when the fan-out runs behind.
    const storedAtMs = Number(msg.info.timestampNanos / 1_000_000);
    const published: Promise<unknown>[] = [];
    for (const event of events) {
      for (const endpoint of endpoints) {
        if (!wantsEvent(endpoint.events, event.type) || storedAtMs < Date.parse(endpoint.createdAt)) continue;
        // Published in order on one connection, so each endpoint's queue keeps this order.
        published.push(
          this.deps.nats.js.publish(subjects.webhookDelivery(endpoint.webhookId), encodeWebhookEvent(event), {
            msgID: webhookMsgId.delivery(endpoint.webhookId, event.id),
          }),
        );
      }
    }
    // Every publish settled before the fact goes back: none still in flight can land after a retry's.
    const failed = (await Promise.allSettled(published)).find((r) => r.status === "rejected");
    if (failed) {
      this.deps.log.warn(
        { err: failed.reason, source, seq: msg.seq },
        "webhook deliveries not queued; trying the fact again",
      );
      msg.nak(RETRY_DELAY_MS);
      return;
    }
    msg.ack();
    this.deps.onQueued?.(source, published.length);
  }
}

// Delivers one endpoint's queue, in order: each delivery is signed and posted, then acked when the
// receiver answered 2xx, or nak'ed with a backoff delay (the next one waits: one is out at a time),
// or, after the last attempt, copied to the endpoint's dead subject (payload kept for a redelivery)
// and acked. Every webhooks process runs one of these per endpoint on the same durable consumer;
// JetStream hands the one delivery out to one of them, and again to another if it dies.
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { afterFailure, type RetryPolicy } from "../../shared/domain/webhookRetry.ts";
import { signatureHeader, signingSecrets, WEBHOOK_HEADERS } from "../../shared/domain/webhookSignature.ts";
import { decodeQueuedWebhook, type QueuedWebhook } from "../../shared/messages/webhookEvents.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { ensureDurableConsumer } from "../../shared/nats/durableConsumers.ts";
import {
  subjects,
  WEBHOOK_DELIVERIES,
  webhookConsumerConfig,
  webhookMsgId,
} from "../../shared/nats/topology.ts";
import type { DeliveryLog, DeliveryRecord } from "../../shared/redis/webhookDeliveries.ts";
import type { WebhookEndpoint, WebhookEndpoints } from "../../shared/redis/webhooks.ts";
import type { AttemptResult, WebhookClient } from "./webhookClient.ts";
import type { DeliveryObserver } from "./webhookMetrics.ts";

/** A delivery that could not be settled (NATS or Redis away) is looked at again after this. */
const RETRY_DELAY_MS = 2000;
/** A disabled endpoint's delivery goes back for this long; its worker stops meanwhile. */
const DISABLED_DELAY_MS = 5000;

/** Long enough for one attempt and its bookkeeping; a dead process's delivery waits this long. */
export function ackWaitFor(timeoutMs: number): number {
  return timeoutMs + 5000;
}

export interface DeliveryDeps {
  readonly nats: Nats;
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: DeliveryLog;
  readonly client: WebhookClient;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly metrics?: DeliveryObserver;
}

export class EndpointDelivery {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private ended = false;

  constructor(
    readonly webhookId: string,
    private readonly deps: DeliveryDeps,
  ) {}

  /** The loop ended on its own (its consumer went away): the supervisor starts a new one. */
  get finished(): boolean {
    return this.ended;
  }

  async start(): Promise<void> {
    const config = webhookConsumerConfig(this.webhookId, ackWaitFor(this.deps.timeoutMs));
    const consumer = await ensureDurableConsumer(this.deps.nats, WEBHOOK_DELIVERIES, config);
    const messages = await consumer.consume({ max_messages: 1 });
    this.messages = messages;
    this.loop = (async () => {
      for await (const msg of messages) await this.take(msg);
    })()
      .catch((err: unknown) =>
        this.deps.log.warn({ err, webhookId: this.webhookId }, "webhook delivery loop ended"),
      )
      .finally(() => {
        this.ended = true;
      });
  }

  /** Stops taking deliveries; the one in flight finishes first (a timeout at most). */
  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private async take(msg: JsMsg): Promise<void> {
    let queued: QueuedWebhook;
    try {
      queued = decodeQueuedWebhook(msg.data);
    } catch (err) {
      // Nothing we queued: posting it anywhere would be wrong, keeping it would block the queue.
      this.deps.log.error({ err, webhookId: this.webhookId, seq: msg.seq }, "dropping a malformed delivery");
      msg.ack();
      return;
    }
    let endpoint: WebhookEndpoint | undefined;
    let alreadyDelivered: boolean;
    try {
      const [found, logged] = await Promise.all([
        this.deps.endpoints.get(this.webhookId),
        this.deps.deliveries.get(this.webhookId, queued.eventId),
      ]);
      endpoint = found;
      alreadyDelivered = logged?.status === "delivered";
    } catch (err) {
      this.deps.log.warn({ err, webhookId: this.webhookId }, "webhook endpoint unreadable; delivery waits");
      msg.nak(RETRY_DELAY_MS);
      return;
    }
    // Deleted: the gateway purges its queue; whatever slipped in meanwhile goes with it.
    if (!endpoint) return msg.ack();
    if (!endpoint.enabled) return msg.nak(DISABLED_DELAY_MS);
    // Delivered already, and handed out again because the ack was lost to a crash.
    if (alreadyDelivered) return msg.ack();
    const attempt = msg.info.deliveryCount;
    const result = await this.attempt(endpoint, queued, attempt);
    await this.settle(msg, queued, attempt, result);
  }

  private attempt(endpoint: WebhookEndpoint, queued: QueuedWebhook, attempt: number): Promise<AttemptResult> {
    const now = new Date();
    const timestamp = Math.floor(now.getTime() / 1000);
    return this.deps.client.post(endpoint.url, queued.body, {
      [WEBHOOK_HEADERS.eventId]: queued.eventId,
      [WEBHOOK_HEADERS.eventType]: queued.type,
      [WEBHOOK_HEADERS.timestamp]: String(timestamp),
      [WEBHOOK_HEADERS.signature]: signatureHeader(signingSecrets(endpoint, now), timestamp, queued.body),
      [WEBHOOK_HEADERS.attempt]: String(attempt),
    });
  }

  private async settle(
    msg: JsMsg,
    queued: QueuedWebhook,
    attempt: number,
    result: AttemptResult,
  ): Promise<void> {
    const now = new Date();
    const record = {
      eventId: queued.eventId,
      type: queued.type,
      attempts: attempt,
      ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
      latencyMs: result.latencyMs,
      ...(result.error !== undefined ? { error: result.error } : {}),
      lastAttemptAt: now.toISOString(),
    };
    if (result.delivered) {
      this.deps.metrics?.attempt(this.webhookId, "delivered", result.latencyMs);
      await this.record({ ...record, status: "delivered", deliveredAt: now.toISOString() }, now);
      msg.ack();
      return;
    }
    const step = afterFailure(attempt, this.deps.retry);
    if (step.kind === "retry") {
      this.deps.metrics?.attempt(this.webhookId, "retrying", result.latencyMs);
      const nextAttemptAt = new Date(now.getTime() + step.delayMs).toISOString();
      await this.record({ ...record, status: "retrying", nextAttemptAt }, now);
      msg.nak(step.delayMs);
      return;
    }
    try {
      // Kept by event id beside the queue, where a redelivery finds it; acked only once it is stored.
      await this.deps.nats.js.publish(subjects.webhookDead(this.webhookId, queued.eventId), msg.data, {
        msgID: webhookMsgId.dead(this.webhookId, queued.eventId, msg.seq),
      });
    } catch (err) {
      this.deps.log.warn(
        { err, webhookId: this.webhookId },
        "dead webhook delivery not stored; trying again",
      );
      msg.nak(RETRY_DELAY_MS);
      return;
    }
    this.deps.metrics?.attempt(this.webhookId, "dead", result.latencyMs);
    await this.record({ ...record, status: "dead" }, now);
    this.deps.log.warn(
      { webhookId: this.webhookId, eventId: queued.eventId, attempts: attempt, error: result.error },
      "webhook delivery dead",
    );
    msg.ack();
  }

  /** The log is for people to watch: a failed write is logged, and delivery goes on. */
  private async record(record: DeliveryRecord, now: Date): Promise<void> {
    try {
      await this.deps.deliveries.record(this.webhookId, record, now);
    } catch (err) {
      this.deps.log.warn(
        { err, webhookId: this.webhookId, eventId: record.eventId },
        "delivery log not written",
      );
    }
  }
}

// What the webhook routes do beyond validation: check a target under the SSRF rule, keep the
// endpoints in Redis, tell the webhooks services, and reach into WEBHOOK_DELIVERIES for queue
// figures, dead letters, redeliveries and test events.
import { newId } from "../../../shared/domain/ids.ts";
import { pingEvent, type WebhookEventType } from "../../../shared/domain/webhookEvents.ts";
import { newWebhookSecret } from "../../../shared/domain/webhookSignature.ts";
import { checkWebhookUrl, type TargetPolicy } from "../../../shared/domain/webhookTargets.ts";
import { encodeWebhookEvent } from "../../../shared/messages/webhookEvents.ts";
import { isNotFound } from "../../../shared/nats/connection.ts";
import { ensureWebhookFanoutConsumers } from "../../../shared/nats/durableConsumers.ts";
import {
  subjects,
  WEBHOOK_DELIVERIES,
  webhookConsumer,
  webhookMsgId,
} from "../../../shared/nats/topology.ts";
import { checkTargetHost, TargetRefusedError } from "../../../shared/net/webhookTargetResolver.ts";
import { DeliveryLog } from "../../../shared/redis/webhookDeliveries.ts";
import {
  WebhookEndpoints,
  type WebhookChange,
  type WebhookEndpoint,
} from "../../../shared/redis/webhooks.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";

/** Endpoints per deployment: each is a consumer and a pull in every webhooks process. */
export const MAX_WEBHOOKS = 100;

export interface WebhookStores {
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: DeliveryLog;
}

export function webhookStores(deps: GatewayDeps): WebhookStores {
  return {
    endpoints: new WebhookEndpoints(deps.redis, deps.config.REDIS_PREFIX),
    deliveries: new DeliveryLog(deps.redis, deps.config.REDIS_PREFIX),
  };
}

/** An endpoint as the API shows it: never its secrets. */
export interface WebhookView {
  readonly webhookId: string;
  readonly url: string;
  readonly events: WebhookEventType[];
  readonly description: string;
  readonly enabled: boolean;
  readonly createdAt: string;
  /** Until when the secret replaced by the last rotation still signs, while it does. */
  readonly previousSecretExpiresAt?: string;
}

export function viewOf(endpoint: WebhookEndpoint, now = new Date()): WebhookView {
  const { webhookId, url, events, description, enabled, createdAt, previousSecretExpiresAt } = endpoint;
  const graceLeft =
    previousSecretExpiresAt !== undefined && Date.parse(previousSecretExpiresAt) > now.getTime();
  return {
    webhookId,
    url,
    events: [...events],
    description,
    enabled,
    createdAt,
    ...(graceLeft ? { previousSecretExpiresAt } : {}),
  };
}

const policyOf = (deps: GatewayDeps): TargetPolicy => ({
  allowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE_TARGETS,
});

/** The URL as it will be requested, or a 400 that says why it may not be. */
export async function checkTarget(deps: GatewayDeps, raw: string): Promise<string> {
  const policy = policyOf(deps);
  const check = checkWebhookUrl(raw, policy);
  if (!check.ok) throw new HttpError(400, `url ${check.reason}`);
  if (check.address === undefined) {
    try {
      await checkTargetHost(check.host, policy);
    } catch (err) {
      if (err instanceof TargetRefusedError) throw new HttpError(400, `url refused: ${err.message}`);
      throw err;
    }
  }
  return check.url;
}

function notifyChanged(deps: GatewayDeps): void {
  deps.nats.nc.publish(subjects.webhooksChanged);
}

async function endpointOf(stores: WebhookStores, webhookId: string): Promise<WebhookEndpoint> {
  const endpoint = await stores.endpoints.get(webhookId);
  if (!endpoint) throw new HttpError(404, `webhook ${webhookId} not found`);
  return endpoint;
}

export interface NewWebhook {
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  readonly description?: string;
  readonly enabled?: boolean;
}

export async function registerWebhook(
  deps: GatewayDeps,
  stores: WebhookStores,
  input: NewWebhook,
): Promise<{ webhook: WebhookView; secret: string }> {
  const url = await checkTarget(deps, input.url);
  // Before the endpoint exists, so the fan-out reads every fact stored from then on.
  await ensureWebhookFanoutConsumers(deps.nats);
  const endpoint = {
    webhookId: newId("wh"),
    url,
    events: input.events,
    description: input.description ?? "",
    enabled: input.enabled ?? true,
    createdAt: new Date().toISOString(),
    secret: newWebhookSecret(),
  };
  const created = await stores.endpoints.create(endpoint, MAX_WEBHOOKS);
  if (created === "full") throw new HttpError(409, `at most ${MAX_WEBHOOKS} webhooks; delete one first`);
  if (created === "exists") throw new HttpError(409, `webhook ${endpoint.webhookId} already exists`);
  notifyChanged(deps);
  return { webhook: viewOf(endpoint), secret: endpoint.secret };
}

export async function updateWebhook(
  deps: GatewayDeps,
  stores: WebhookStores,
  webhookId: string,
  change: WebhookChange,
): Promise<WebhookView> {
  const checked = change.url !== undefined ? { ...change, url: await checkTarget(deps, change.url) } : change;
  const updated = await stores.endpoints.update(webhookId, checked);
  if (!updated) throw new HttpError(404, `webhook ${webhookId} not found`);
  notifyChanged(deps);
  return viewOf(updated);
}

export async function rotateWebhookSecret(
  deps: GatewayDeps,
  stores: WebhookStores,
  webhookId: string,
): Promise<{ secret: string; previousSecretExpiresAt: string }> {
  const secret = newWebhookSecret();
  const until = new Date(Date.now() + deps.config.WEBHOOK_SECRET_GRACE_HOURS * 3_600_000);
  const rotated = await stores.endpoints.rotateSecret(webhookId, secret, until);
  if (!rotated) throw new HttpError(404, `webhook ${webhookId} not found`);
  notifyChanged(deps);
  return { secret, previousSecretExpiresAt: until.toISOString() };
}

/** Deletes the endpoint, its log, its consumer and everything queued or dead for it. */
export async function deleteWebhook(
  deps: GatewayDeps,
  stores: WebhookStores,
  webhookId: string,
): Promise<void> {
  if (!(await stores.endpoints.delete(webhookId))) throw new HttpError(404, `webhook ${webhookId} not found`);
  notifyChanged(deps);
  await deps.nats.jsm.consumers
    .delete(WEBHOOK_DELIVERIES, webhookConsumer(webhookId))
    .catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  await deps.nats.jsm.streams.purge(WEBHOOK_DELIVERIES, { filter: subjects.webhookEndpoint(webhookId) });
}

export interface QueueFigures {
  /** Deliveries waiting, the one being tried included. */
  readonly queued: number;
  /** Deliveries given up on and kept for a redelivery. */
  readonly dead: number;
}

/** What is queued and dead per endpoint, from the stream's own subject counts. */
export async function queueFigures(deps: GatewayDeps, webhookId: string): Promise<QueueFigures> {
  const info = await deps.nats.jsm.streams.info(WEBHOOK_DELIVERIES, {
    subjects_filter: subjects.webhookEndpoint(webhookId),
  });
  const counts = info.state.subjects ?? {};
  const delivery = subjects.webhookDelivery(webhookId);
  let dead = 0;
  for (const subject of Object.keys(counts)) if (subject !== delivery) dead += counts[subject] ?? 0;
  return { queued: counts[delivery] ?? 0, dead };
}

/** Queued deliveries of every endpoint, in one request. */
export async function queuedByWebhook(deps: GatewayDeps): Promise<Map<string, number>> {
  const info = await deps.nats.jsm.streams.info(WEBHOOK_DELIVERIES, {
    subjects_filter: subjects.webhookDelivery("*"),
  });
  const queued = new Map<string, number>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    const webhookId = subject.split(".")[1];
    if (webhookId !== undefined) queued.set(webhookId, count);
  }
  return queued;
}

/** Queues a dead delivery again, at the end of the endpoint's queue, with its event id. */
export async function redeliverWebhook(
  deps: GatewayDeps,
  stores: WebhookStores,
  webhookId: string,
  eventId: string,
): Promise<void> {
  await endpointOf(stores, webhookId);
  const dead = await deps.nats.jsm.streams.getMessage(WEBHOOK_DELIVERIES, {
    last_by_subj: subjects.webhookDead(webhookId, eventId),
  });
  if (!dead) throw new HttpError(404, `no dead delivery ${eventId} for webhook ${webhookId}`);
  const logged = await stores.deliveries.get(webhookId, eventId);
  // Logged before it is queued: a delivery fast enough to finish first must not be shown queued.
  await stores.deliveries.record(
    webhookId,
    { eventId, type: logged?.type ?? typeOf(dead.data), status: "queued", attempts: 0 },
    new Date(),
    true,
  );
  // Queued before the dead copy goes: a failure in between leaves both, never neither.
  await deps.nats.js.publish(subjects.webhookDelivery(webhookId), dead.data, {
    msgID: webhookMsgId.redelivery(webhookId, eventId, dead.seq),
  });
  await deps.nats.jsm.streams.deleteMessage(WEBHOOK_DELIVERIES, dead.seq).catch((err: unknown) => {
    // A double click: the other request deleted it.
    if (!isNotFound(err) && !String(err).includes("no message found")) throw err;
  });
}

function typeOf(body: Uint8Array): string {
  try {
    const { type } = JSON.parse(new TextDecoder().decode(body)) as { type?: unknown };
    return typeof type === "string" ? type : "unknown";
  } catch {
    return "unknown";
  }
}

/** Queues a `ping` for the endpoint, behind whatever is queued; answers its event id. */
export async function sendTestWebhook(
  deps: GatewayDeps,
  stores: WebhookStores,
  webhookId: string,
): Promise<{ eventId: string }> {
  await endpointOf(stores, webhookId);
  const now = new Date();
  const event = pingEvent(webhookId, now);
  await stores.deliveries.record(
    webhookId,
    { eventId: event.id, type: event.type, status: "queued", attempts: 0 },
    now,
  );
  await deps.nats.js.publish(subjects.webhookDelivery(webhookId), encodeWebhookEvent(event), {
    msgID: webhookMsgId.delivery(webhookId, event.id),
  });
  return { eventId: event.id };
}

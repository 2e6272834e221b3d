import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { WEBHOOK_EVENT_TYPES } from "../../../shared/domain/webhookEvents.ts";
import { MAX_WEBHOOK_URL_LENGTH } from "../../../shared/domain/webhookTargets.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { errors, Id, Page, PageOf, pageOffset } from "../http/schemas.ts";
import {
  deleteWebhook,
  queueFigures,
  queuedByWebhook,
  redeliverWebhook,
  registerWebhook,
  rotateWebhookSecret,
  sendTestWebhook,
  updateWebhook,
  viewOf,
  webhookStores,
} from "../webhooks/webhookCommands.ts";

const MAX_EVENTS = 20;
const MAX_DESCRIPTION = 500;

const WebhookId = Id("webhook id", "wh_0m3x1abcd0123456789ab");
const WebhookParams = Type.Object({ webhookId: WebhookId });

const EventName = Type.Union(
  WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)),
  { description: "an event an endpoint can subscribe to" },
);

const Events = Type.Array(EventName, {
  minItems: 1,
  maxItems: MAX_EVENTS,
  uniqueItems: true,
  description: "the events to send (each once)",
  examples: [["recipient.sent", "recipient.failed", "blast.completed"]],
});

const Url = Type.String({
  minLength: 1,
  maxLength: MAX_WEBHOOK_URL_LENGTH,
  description:
    "http:// or https://, no credentials; refused when it resolves to a loopback, private, link-local, " +
    "unique-local or CGNAT address unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true. Redirects are not followed.",
  examples: ["https://crm.example.com/hooks/wa-blast"],
});

const Description = Type.String({ maxLength: MAX_DESCRIPTION, examples: ["CRM sync"] });

const Webhook = Type.Object({
  webhookId: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.String(),
  enabled: Type.Boolean({ description: "a disabled endpoint gets nothing new queued; what is queued waits" }),
  createdAt: Type.String({ description: "it gets the events stored from then on" }),
  previousSecretExpiresAt: Type.Optional(
    Type.String({ description: "after a rotation: until when the previous secret still signs too" }),
  ),
  queued: Type.Optional(Type.Integer({ description: "deliveries waiting, the one being tried included" })),
  dead: Type.Optional(Type.Integer({ description: "deliveries given up on, kept for a redelivery" })),
});

const Secret = Type.String({
  description: "the signing secret: shown this once, never listed again (rotate to get a new one)",
  examples: ["whsec_3q2-7wEjPQ1kXa0mJ0m1Jq2b4lRzX0Cq3w0yQp9nV1k"],
});

const Delivery = Type.Object({
  eventId: Type.String({ description: "the event's id, the X-WaBlast-Event-Id header" }),
  type: Type.String(),
  status: Type.Union(
    [Type.Literal("queued"), Type.Literal("retrying"), Type.Literal("delivered"), Type.Literal("dead")],
    {
      description: "queued: waiting its turn; retrying: failed, tried again at nextAttemptAt; dead: given up",
    },
  ),
  attempts: Type.Integer({ description: "attempts in this round (a redelivery starts a new one)" }),
  httpStatus: Type.Optional(Type.Integer({ description: "the receiver's status of the last attempt" })),
  latencyMs: Type.Optional(Type.Integer({ description: "how long the last attempt took" })),
  error: Type.Optional(Type.String({ description: "why the last attempt failed" })),
  since: Type.String({ description: "when it was first tried or queued" }),
  lastAttemptAt: Type.Optional(Type.String()),
  nextAttemptAt: Type.Optional(Type.String()),
  deliveredAt: Type.Optional(Type.String()),
});

const EventIdParams = Type.Object({
  webhookId: WebhookId,
  eventId: Type.String({ pattern: "^evt_[A-Za-z0-9_-]{1,60}$", examples: ["evt_b1kq3x9a_1234_7"] }),
});

export const webhookRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const stores = webhookStores(deps);

  app.post(
    "/api/webhooks",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Register a webhook endpoint: its secret is in this answer only",
        description:
          "Every request to it is a POST of one event as JSON, signed with the secret (see the README). " +
          "It gets the events stored after it is registered.",
        body: Type.Object(
          {
            url: Url,
            events: Events,
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([Webhook, Type.Object({ secret: Secret })]), ...errors(400, 409) },
      },
    },
    async (request, reply) => {
      const { webhook, secret } = await registerWebhook(deps, stores, request.body);
      return reply.status(201).send({ ...webhook, secret });
    },
  );

  app.get(
    "/api/webhooks",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Every webhook endpoint, oldest first, with its queued deliveries",
        response: { 200: Type.Object({ items: Type.Array(Webhook), total: Type.Integer() }) },
      },
    },
    async () => {
      const [endpoints, queued] = await Promise.all([stores.endpoints.list(), queuedByWebhook(deps)]);
      const items = endpoints.map((e) => ({ ...viewOf(e), queued: queued.get(e.webhookId) ?? 0 }));
      return { items, total: items.length };
    },
  );

  app.get(
    "/api/webhooks/:webhookId",
    {
      schema: {
        tags: ["webhooks"],
        summary: "One webhook endpoint, with its queued and dead deliveries",
        params: WebhookParams,
        response: { 200: Webhook, ...errors(400, 404) },
      },
    },
    async (request) => {
      const { webhookId } = request.params;
      const endpoint = await stores.endpoints.get(webhookId);
      if (!endpoint) throw new HttpError(404, `webhook ${webhookId} not found`);
      return { ...viewOf(endpoint), ...(await queueFigures(deps, webhookId)) };
    },
  );

  app.patch(
    "/api/webhooks/:webhookId",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Change a webhook's URL, events, description, or enable / disable it",
        params: WebhookParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Webhook, ...errors(400, 404) },
      },
    },
    async (request) => updateWebhook(deps, stores, request.params.webhookId, request.body),
  );

  app.delete(
    "/api/webhooks/:webhookId",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Delete a webhook, with its delivery log and whatever is queued or dead for it",
        params: WebhookParams,
        response: { 204: Type.Null(), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      await deleteWebhook(deps, stores, request.params.webhookId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/api/webhooks/:webhookId/rotate-secret",
    {
      schema: {
        tags: ["webhooks"],
        summary: "A new signing secret (shown once); the previous one keeps signing beside it for a while",
        description:
          "Until `previousSecretExpiresAt` (WEBHOOK_SECRET_GRACE_HOURS) each request carries two `v1=` " +
          "signatures, one per secret, so the receiver can switch over.",
        params: WebhookParams,
        response: {
          200: Type.Object({ secret: Secret, previousSecretExpiresAt: Type.String() }),
          ...errors(400, 404),
        },
      },
    },
    async (request) => rotateWebhookSecret(deps, stores, request.params.webhookId),
  );

  app.get(
    "/api/webhooks/:webhookId/deliveries",
    {
      schema: {
        tags: ["webhooks"],
        summary: "The endpoint's delivery log, newest first (the latest 1,000 events)",
        params: WebhookParams,
        querystring: Page,
        response: { 200: PageOf(Delivery), ...errors(400, 404) },
      },
    },
    async (request) => {
      const { webhookId } = request.params;
      const { page, pageSize } = request.query;
      const offset = pageOffset(page, pageSize);
      if (!(await stores.endpoints.get(webhookId)))
        throw new HttpError(404, `webhook ${webhookId} not found`);
      const [items, total] = await Promise.all([
        stores.deliveries.page(webhookId, offset, pageSize),
        stores.deliveries.count(webhookId),
      ]);
      return { items, total, page, pageSize };
    },
  );

  app.post(
    "/api/webhooks/:webhookId/deliveries/:eventId/redeliver",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Queue a dead delivery again, with the same event id, behind what is queued",
        params: EventIdParams,
        response: {
          202: Type.Object({ eventId: Type.String(), status: Type.Literal("queued") }),
          ...errors(400, 404),
        },
      },
    },
    async (request, reply) => {
      const { webhookId, eventId } = request.params;
      await redeliverWebhook(deps, stores, webhookId, eventId);
      return reply.status(202).send({ eventId, status: "queued" as const });
    },
  );

  app.post(
    "/api/webhooks/:webhookId/test",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Queue a `ping` event for the endpoint, delivered and logged like any other",
        params: WebhookParams,
        response: { 202: Type.Object({ eventId: Type.String() }), ...errors(400, 404) },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await sendTestWebhook(deps, stores, request.params.webhookId)),
  );
};

// The events a webhook endpoint can subscribe to. Apart from the rest of webhookEvents.ts (which
// needs node:crypto) because the console's browser bundle offers them as checkboxes.

/** In the order the API and the console list them. */
export const WEBHOOK_EVENT_TYPES = [
  "blast.started",
  "blast.paused",
  "blast.resumed",
  "blast.cancelled",
  "blast.completed",
  "recipient.sent",
  "recipient.failed",
  "recipient.in_doubt",
  "recipient.delivered",
  "recipient.read",
  "recipient.replied",
  "inbound.message",
  "consent.optout",
  "consent.optin",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent on request (`POST /api/webhooks/:id/test`) whatever the endpoint subscribed to. */
export const PING_EVENT = "ping";

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

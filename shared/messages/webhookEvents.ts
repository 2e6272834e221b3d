// A webhook delivery as queued on `webhook.<webhookId>.delivery` in WEBHOOK_DELIVERIES: the exact
// JSON body the receiver gets, so every attempt sends the same bytes and signs them afresh.
// Decoded through the schema before it is sent: a foreign message is never posted anywhere.
import { Type } from "typebox";
import { Compile } from "typebox/compile";
import { isWebhookEventId, type WebhookEvent } from "../domain/webhookEvents.ts";

const WebhookEventSchema = Type.Object({
  id: Type.String({ pattern: "^evt_[A-Za-z0-9_-]{1,60}$" }),
  type: Type.String({ pattern: "^[a-z_]+(\\.[a-z_]+)?$" }),
  createdAt: Type.String(),
  data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
});

const checkEvent = Compile(WebhookEventSchema);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeWebhookEvent(event: WebhookEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

export interface QueuedWebhook {
  readonly eventId: string;
  readonly type: string;
  /** The body exactly as queued: what is signed and sent. */
  readonly body: string;
}

export function decodeQueuedWebhook(data: Uint8Array): QueuedWebhook {
  const body = decoder.decode(data);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error("queued webhook is not JSON");
  }
  if (!checkEvent.Check(value) || !isWebhookEventId(value.id)) throw new Error("malformed queued webhook");
  return { eventId: value.id, type: value.type, body };
}

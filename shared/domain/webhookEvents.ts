// What a webhook receiver is told: the platform's facts (from the blast log, the inbound stream and
// the consent stream) turned into webhook events, one per fact a receiver can act on. A batch of
// settled outcomes becomes one event per recipient. Each event has an id made of where the fact
// is stored (which stream, which incarnation of it, which sequence, which recipient), so the same
// fact is always the same event, however often it is fanned out or redelivered: receivers dedupe
// on it.
import { randomBytes } from "node:crypto";
import type { BlastEvent, SettledOutcome } from "../messages/blastEvents.ts";
import type { ConsentEvent } from "../messages/consentEvents.ts";
import type { InboundEvent } from "../messages/inboundEvents.ts";
import {
  isWebhookEventType,
  PING_EVENT,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
} from "./webhookEventTypes.ts";

export { isWebhookEventType, PING_EVENT, WEBHOOK_EVENT_TYPES, type WebhookEventType };

export type JsonValue = string | number | boolean | null;

export interface WebhookEvent {
  /** Stable per fact: the receiver's dedupe key. */
  readonly id: string;
  readonly type: WebhookEventType | typeof PING_EVENT;
  /** When the fact happened (ISO 8601). */
  readonly createdAt: string;
  readonly data: Readonly<Record<string, JsonValue>>;
}

/** Which stream a fact came from; with the stream's creation time it names the stream for good. */
export type WebhookSource = "blast" | "inbound" | "consent";

const SOURCE_TAG: Record<WebhookSource, string> = { blast: "b", inbound: "i", consent: "c" };

export interface SourcePosition {
  readonly source: WebhookSource;
  /**
   * The stream's creation time (ms): a stream deleted and made again starts its sequences at 1
   * again, and a receiver that remembers old ids must not take the new facts for old ones.
   */
  readonly streamCreatedMs: number;
  readonly seq: number;
}

const EVENT_ID_PATTERN = /^evt_[A-Za-z0-9_-]{1,60}$/;

export function isWebhookEventId(value: string): boolean {
  return EVENT_ID_PATTERN.test(value);
}

/** `evt_<source><stream>_<seq>` and `_<recipient idx>` for one recipient of a batch. */
export function webhookEventId(position: SourcePosition, idx?: number): string {
  const stream = `${SOURCE_TAG[position.source]}${Math.max(0, Math.floor(position.streamCreatedMs)).toString(36)}`;
  return `evt_${stream}_${position.seq}${idx !== undefined ? `_${idx}` : ""}`;
}

/** Whether an endpoint subscribed to these types gets the event; everyone gets a ping. */
export function wantsEvent(subscribed: readonly string[], type: WebhookEvent["type"]): boolean {
  return type === PING_EVENT || subscribed.includes(type);
}

/** Drops undefined fields: the body is JSON, and an absent field says the same. */
function data(fields: Record<string, JsonValue | undefined>): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out;
}

function outcomeEvent(
  id: string,
  blastId: string,
  outcome: SettledOutcome,
  at: string,
  sessionId: string | undefined,
): WebhookEvent {
  const common = { blastId, idx: outcome.idx, phone: outcome.phone, sessionId, at };
  switch (outcome.kind) {
    case "sent":
      return {
        id,
        type: "recipient.sent",
        createdAt: at,
        data: data({ ...common, messageId: outcome.messageId }),
      };
    case "failed":
      return {
        id,
        type: "recipient.failed",
        createdAt: at,
        data: data({ ...common, reason: outcome.reason }),
      };
    case "in_doubt":
      return { id, type: "recipient.in_doubt", createdAt: at, data: data(common) };
  }
}

/** The webhook events of one stored blast event, in the order a receiver should see them. */
export function webhookEventsOfBlastEvent(event: BlastEvent, position: SourcePosition): WebhookEvent[] {
  const id = webhookEventId(position);
  switch (event.type) {
    case "recipients.settled": {
      const { blastId, sessionId, at } = event.data;
      return event.data.outcomes.map((o) =>
        outcomeEvent(webhookEventId(position, o.idx), blastId, o, at, sessionId),
      );
    }
    case "recipient.sent":
      return [
        outcomeEvent(id, event.data.blastId, { ...event.data, kind: "sent" }, event.data.at, undefined),
      ];
    case "recipient.failed":
      return [
        outcomeEvent(id, event.data.blastId, { ...event.data, kind: "failed" }, event.data.at, undefined),
      ];
    case "recipient.in_doubt":
      return [
        outcomeEvent(id, event.data.blastId, { ...event.data, kind: "in_doubt" }, event.data.at, undefined),
      ];
    case "recipient.delivered":
    case "recipient.read": {
      const { blastId, idx, phone, sessionId, at } = event.data;
      return [{ id, type: event.type, createdAt: at, data: data({ blastId, idx, phone, sessionId, at }) }];
    }
    case "recipient.replied": {
      const { blastId, idx, phone, sessionId, messageId, text, at } = event.data;
      return [
        {
          id,
          type: "recipient.replied",
          createdAt: at,
          data: data({ blastId, idx, phone, sessionId, messageId, text, at }),
        },
      ];
    }
    case "blast.paused": {
      const { blastId, reason, byPool, at } = event.data;
      return [{ id, type: "blast.paused", createdAt: at, data: data({ blastId, reason, byPool, at }) }];
    }
    case "blast.started":
    case "blast.resumed":
    case "blast.cancelled":
    case "blast.completed": {
      const { blastId, at } = event.data;
      return [{ id, type: event.type, createdAt: at, data: data({ blastId, at }) }];
    }
    case "blast.created":
    case "blast.edited":
    case "blast.recipients_added":
    case "blast.account_paused":
    case "blast.account_resumed":
      return [];
  }
}

export function webhookEventOfInbound(event: InboundEvent, position: SourcePosition): WebhookEvent {
  const { sessionId, messageId, phone, fromJid, text, quotedMessageId, answers, sentAt, receivedAt } =
    event.data;
  return {
    id: webhookEventId(position),
    type: "inbound.message",
    createdAt: receivedAt,
    data: data({
      sessionId,
      messageId,
      phone,
      fromJid,
      text,
      quotedMessageId,
      ...(answers ? { blastId: answers.blastId, idx: answers.idx } : {}),
      sentAt,
      receivedAt,
    }),
  };
}

export function webhookEventOfConsent(event: ConsentEvent, position: SourcePosition): WebhookEvent {
  const { phone, source, reason, sessionId, messageId, text, at } = event.data;
  return {
    id: webhookEventId(position),
    type: event.type,
    createdAt: at,
    data: data({ phone, source, reason, sessionId, messageId, text, at }),
  };
}

/** A test event for one endpoint: a new id each time, so every test is delivered. */
export function pingEvent(webhookId: string, now: Date): WebhookEvent {
  return {
    id: `evt_ping_${randomBytes(8).toString("hex")}`,
    type: PING_EVENT,
    createdAt: now.toISOString(),
    data: { webhookId },
  };
}

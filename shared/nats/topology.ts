// Every stream, subject and consumer name, defined once. Subjects read like paths:
// <area>.<id>.<what>. Ids are validated (shared/domain/ids.ts) before they reach this module.
import { createHash } from "node:crypto";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { WebhookSource } from "../domain/webhookEvents.ts";
import type { BlastEventType } from "../messages/blastEvents.ts";

export const BLAST_EVENTS = "BLAST_EVENTS";
export const SEND_WORK = "SEND_WORK";
export const SESSION_EVENTS = "SESSION_EVENTS";
/** Every message a person sent to one of our accounts, as it arrived. */
export const INBOUND_MESSAGES = "INBOUND_MESSAGES";
/** Opt-outs and opt-ins, from keywords, the API or an imported list. */
export const CONSENT_EVENTS = "CONSENT_EVENTS";
/** When each scheduled thing is due: the latest schedule per subject, held until it fires. */
export const SCHEDULES = "SCHEDULES";
/** Webhook events queued per endpoint, and the deliveries given up on (work queue). */
export const WEBHOOK_DELIVERIES = "WEBHOOK_DELIVERIES";
/** KV buckets: who owns each WhatsApp session, and which senders are alive. */
export const SESSION_LEASES = "session_leases";
export const SENDER_PRESENCE = "sender_presence";
/** Object Store bucket: the media library's files (one object per media id), never in Redis. */
export const MEDIA_BUCKET = "media";

const blastEventSuffix: Record<BlastEventType, string> = {
  "blast.created": "created",
  // Edits and the start share a subject: an edit is appended only if no start (or other edit)
  // came in between (expected last subject sequence), so a blast is never edited as it starts.
  "blast.edited": "plan",
  "blast.started": "plan",
  "blast.recipients_added": "recipients",
  "recipients.settled": "settled",
  "recipient.sent": "sent",
  "recipient.failed": "failed",
  "recipient.in_doubt": "in_doubt",
  "recipient.delivered": "delivered",
  "recipient.read": "read",
  "recipient.replied": "replied",
  "blast.paused": "paused",
  "blast.resumed": "resumed",
  "blast.account_paused": "account_paused",
  "blast.account_resumed": "account_resumed",
  "blast.cancelled": "cancelled",
  "blast.completed": "completed",
};

export const subjects = {
  /** Event log: one blast's whole history is `blast.<blastId>.>`. */
  blastEvent: (blastId: string, type: BlastEventType) => `blast.${blastId}.${blastEventSuffix[type]}`,
  blastHistory: (blastId: string) => `blast.${blastId}.>`,
  /** The edits and the start of a blast that was scheduled or saved as a draft. */
  blastPlan: (blastId: string) => `blast.${blastId}.plan`,
  allBlastEvents: "blast.>",
  /** Send work for one blast, taken by whichever account of its pool pulls it. */
  sendWork: (blastId: string) => `send.pool.${blastId}`,
  /**
   * Everything queued for one blast: its pooled work, and the work of a blast queued before pools
   * on `send.<sessionId>.<blastId>` (block ids are unique, so the wildcard matches no other blast).
   */
  blastWork: (blastId: string) => `send.*.${blastId}`,
  allSendWork: "send.>",
  /** Session facts (status, qr) kept briefly in SESSION_EVENTS and relayed to WebSockets. */
  sessionEvent: (sessionId: string, what: "status" | "qr") => `session.${sessionId}.${what}`,
  sessionEvents: (sessionId: string) => `session.${sessionId}.>`,
  allSessionEvents: "session.>",
  /** A person's message to one of our accounts. */
  inboundMessage: (sessionId: string) => `inbound.${sessionId}.message`,
  allInbound: "inbound.>",
  /** When one scheduled thing (a blast) is due; a newer message replaces the older. */
  schedule: (id: string) => `schedule.${id}`,
  allSchedules: "schedule.>",
  /** A number opted out of (or back into) campaigns. */
  consentEvent: (change: "optout" | "optin") => `consent.${change}`,
  allConsent: "consent.>",
  /** Core NATS request/reply to whichever sender owns the session (not stored). */
  sessionCommand: (sessionId: string, what: "connect" | "logout" | "pairing-code" | "reply" | "test-send") =>
    `cmd.session.${sessionId}.${what}`,
  sessionCommands: (sessionId: string) => `cmd.session.${sessionId}.*`,
  /** Core NATS progress of an import while its request runs (rows read, queued, rejected). */
  importProgress: (importId: string) => `imports.${importId}.progress`,
  allImportProgress: "imports.*.progress",
  /** Core NATS progress snapshots published by the projector after it applies events. */
  blastProgress: (blastId: string) => `progress.${blastId}`,
  allBlastProgress: "progress.*",
  /**
   * Core NATS: a sender gave a session's lease back (a hand-over, a stop). Other senders try it at
   * once instead of when its lease could have lapsed.
   */
  leaseReleased: "leases.released",
  /** Webhook events queued for one endpoint, delivered in this order. */
  webhookDelivery: (webhookId: string) => `webhook.${webhookId}.delivery`,
  /** A delivery given up on, kept by its event id until it is redelivered or expires. */
  webhookDead: (webhookId: string, eventId: string) => `webhook.${webhookId}.dead.${eventId}`,
  webhookEndpoint: (webhookId: string) => `webhook.${webhookId}.>`,
  allWebhooks: "webhook.>",
  /** Core NATS: an endpoint was registered, changed or deleted; webhook services look again. */
  webhooksChanged: "webhooks.changed",
} as const;

const MINUTE_NS = 60 * 1_000_000_000;
const DAY_NS = 24 * 60 * MINUTE_NS;

export type StreamDefinition = Partial<StreamConfig> & { name: string; subjects: string[] };

/** Every stream the services create, before `withReplicas` gives it the deployment's replicas. */
export const streamConfigs: StreamDefinition[] = [
  {
    name: BLAST_EVENTS,
    subjects: [subjects.allBlastEvents],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: 10 * MINUTE_NS,
    discard: DiscardPolicy.Old,
  },
  {
    name: SEND_WORK,
    subjects: [subjects.allSendWork],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 10 * MINUTE_NS,
  },
  {
    name: SESSION_EVENTS,
    subjects: [subjects.allSessionEvents],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 20,
    max_age: 7 * DAY_NS,
  },
  {
    // Personal data: kept long enough to attribute late replies and replay webhooks, then dropped.
    name: INBOUND_MESSAGES,
    subjects: [subjects.allInbound],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: 10 * MINUTE_NS,
    max_age: 90 * DAY_NS,
  },
  {
    // The consent history is kept: it is what shows an opt-out was honoured.
    name: CONSENT_EVENTS,
    subjects: [subjects.allConsent],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: 10 * MINUTE_NS,
  },
  {
    // One message per subject: rescheduling (or clearing) replaces the schedule, and a schedule
    // handed back (not due yet) that was replaced meanwhile is simply gone.
    name: SCHEDULES,
    subjects: [subjects.allSchedules],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    duplicate_window: 10 * MINUTE_NS,
  },
  {
    // Deliveries waiting for their endpoint (a receiver down for days keeps its queue) and the
    // dead ones kept for a redelivery: a month, then dropped. Acked deliveries are deleted.
    name: WEBHOOK_DELIVERIES,
    subjects: [subjects.allWebhooks],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 10 * MINUTE_NS,
    max_age: 30 * DAY_NS,
  },
];

/**
 * `NATS_REPLICAS` copies of a stream, on as many servers: 1 on a single server; 3 (or 5) on a
 * cluster, so that a message the server acknowledged survives the loss of a node (a RAFT quorum
 * has it before the ack) and the stream keeps working through it.
 */
export function withReplicas<T extends object>(config: T, replicas: number): T & { num_replicas: number } {
  return { ...config, num_replicas: replicas };
}

/** KV buckets (leases, presence): one value per key, gone after the TTL unless written again. */
export function leaseBucketConfig(ttlMs: number, replicas: number) {
  return { ttl: ttlMs, history: 1, replicas };
}

export function mediaBucketConfig(replicas: number) {
  return { storage: StorageType.File, description: "wa-blast media library: blast attachments", replicas };
}

/** The streams the KV and Object Store clients keep buckets in, named as those clients name them. */
export const bucketStream = {
  kv: (bucket: string) => `KV_${bucket}`,
  obj: (bucket: string) => `OBJ_${bucket}`,
};

/** The one durable consumer every scheduler shares: each schedule is held by one of them at a time. */
export const SCHEDULER = "scheduler";

/**
 * The scheduler's consumer. A schedule not yet due is handed back with a delay (nak) until it is;
 * a short ack wait means a scheduler that dies holding one delays it by seconds, not minutes.
 */
export function schedulerConsumerConfig(ackWaitMs: number) {
  return {
    durable_name: SCHEDULER,
    filter_subject: subjects.allSchedules,
    ack_policy: AckPolicy.Explicit,
    ack_wait: ackWaitMs * 1_000_000,
    max_deliver: -1,
    max_ack_pending: 1000,
  };
}

/** The one durable consumer every sender shares to attribute replies and act on opt-out keywords. */
export const INBOUND_PROCESSOR = "inbound-processor";

/**
 * Every inbound message, once, to whichever sender pulls it; redelivered if that sender dies
 * before acking. A few in flight: an opt-out has to be acted on in seconds, not in order.
 */
export function inboundProcessorConsumerConfig() {
  return {
    durable_name: INBOUND_PROCESSOR,
    filter_subject: subjects.allInbound,
    ack_policy: AckPolicy.Explicit,
    ack_wait: 30 * 1_000_000_000,
    max_deliver: -1,
    max_ack_pending: 64,
  };
}

/** One durable pull consumer per blast, shared by every account of its pool. */
export const sendWorkConsumer = (blastId: string) => `send-${blastId}`;

/**
 * The blast's consumer. Explicit acks, redelivered after `ackWaitMs` if a sender dies, never given
 * up on. `inFlight` bounds the messages out at once over the whole pool: one per paced account (a
 * crash leaves at most that one recipient in doubt), a batch per unpaced one.
 */
export function sendWorkConsumerConfig(blastId: string, ackWaitMs: number, inFlight: number) {
  return {
    durable_name: sendWorkConsumer(blastId),
    filter_subject: subjects.blastWork(blastId),
    ack_policy: AckPolicy.Explicit,
    ack_wait: ackWaitMs * 1_000_000,
    max_deliver: -1,
    max_ack_pending: inFlight,
  };
}

const webhookSources: Record<WebhookSource, { stream: string; filter: string }> = {
  blast: { stream: BLAST_EVENTS, filter: subjects.allBlastEvents },
  inbound: { stream: INBOUND_MESSAGES, filter: subjects.allInbound },
  consent: { stream: CONSENT_EVENTS, filter: subjects.allConsent },
};

export const webhookSourceStream = (source: WebhookSource) => webhookSources[source].stream;
export const webhookFanoutConsumer = (source: WebhookSource) => `webhook-fanout-${source}`;

/**
 * The fan-out's durable consumer on one source stream, shared by every webhooks process. One
 * message out at a time: whichever process holds it queues its deliveries before the next fact
 * is handed out, so each endpoint's queue keeps the source's order however many processes run.
 * Created reading only new facts: an endpoint gets what happens after it is registered.
 */
export function webhookFanoutConsumerConfig(source: WebhookSource) {
  return {
    durable_name: webhookFanoutConsumer(source),
    filter_subject: webhookSources[source].filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    ack_wait: 10 * 1_000_000_000,
    max_deliver: -1,
    max_ack_pending: 1,
  };
}

/** Webhook ids are made by the gateway (`wh_…`), so these never meet the fan-out's names. */
export const webhookConsumer = (webhookId: string) => `webhook-${webhookId}`;

/**
 * One endpoint's deliveries. One in flight, so a receiver sees events in the order they were
 * queued (a failed one is retried before the next goes); redelivered after `ackWaitMs` if the
 * process sending it dies. Never given up on by the server: the webhooks service counts attempts
 * and parks a delivery as dead itself, keeping its payload.
 */
export function webhookConsumerConfig(webhookId: string, ackWaitMs: number) {
  return {
    durable_name: webhookConsumer(webhookId),
    filter_subject: subjects.webhookDelivery(webhookId),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWaitMs * 1_000_000,
    max_deliver: -1,
    max_ack_pending: 1,
  };
}

/** Webhook message ids: a fact fanned out again, or a double-clicked redelivery, is queued once. */
export const webhookMsgId = {
  delivery: (webhookId: string, eventId: string) => `${webhookId}.${eventId}`,
  dead: (webhookId: string, eventId: string, seq: number) => `${webhookId}.${eventId}.dead${seq}`,
  redelivery: (webhookId: string, eventId: string, deadSeq: number) =>
    `${webhookId}.${eventId}.again${deadSeq}`,
};

/** Event message ids make publishes idempotent within the stream's duplicate window. */
export const eventMsgId = {
  outcome: (blastId: string, idx: number) => `${blastId}.r${idx}`,
  /** The same batch appended again (a retry) is stored once; a different batch is a new message. */
  outcomes: (blastId: string, idxs: readonly number[]) =>
    idxs.length === 1
      ? `${blastId}.r${idxs[0]}`
      : `${blastId}.r${idxs[0]}+${idxs.length}.${createHash("sha256").update(idxs.join(",")).digest("hex").slice(0, 16)}`,
  lifecycle: (blastId: string, what: string) => `${blastId}.${what}`,
  /** A chunk of recipients, named by its first recipient's index. */
  recipients: (blastId: string, firstIdx: number) => `${blastId}.recipients.${firstIdx}`,
  receipt: (blastId: string, idx: number, what: "delivered" | "read") => `${blastId}.${what}${idx}`,
  work: (blastId: string, idx: number) => `${blastId}.w${idx}`,
  /** A recipient's first reply (later ones are not blast facts). */
  replied: (blastId: string, idx: number) => `${blastId}.replied${idx}`,
  consent: (change: "optout" | "optin", phone: string, at: string) => `${change}.${phone}.${at}`,
  /** WhatsApp's own id: a message seen twice (a reconnect, a history sync) is stored once. */
  inbound: (sessionId: string, waMessageId: string) => `${sessionId}.in.${waMessageId}`,
};

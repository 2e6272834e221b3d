// Every stream, subject and consumer name, defined once. Subjects read like paths:
// <area>.<id>.<what>. Ids are validated (shared/domain/ids.ts) before they reach this module.
import type { BlastEventType } from "../domain/blast.ts";

export const BLAST_EVENTS = "BLAST_EVENTS";
export const SEND_WORK = "SEND_WORK";
export const SESSION_EVENTS = "SESSION_EVENTS";
/** KV buckets: who owns each WhatsApp session, and which senders are alive. */
export const SESSION_LEASES = "session_leases";
export const SENDER_PRESENCE = "sender_presence";

const blastEventSuffix: Record<BlastEventType, string> = {
  "blast.created": "created",
  "blast.recipients_added": "recipients",
  "recipient.sent": "sent",
  "recipient.failed": "failed",
  "recipient.in_doubt": "in_doubt",
  "recipient.delivered": "delivered",
  "recipient.read": "read",
  "blast.paused": "paused",
  "blast.resumed": "resumed",
  "blast.cancelled": "cancelled",
  "blast.completed": "completed",
};

export const subjects = {
  /** Event log: one blast's whole history is `blast.<blastId>.>`. */
  blastEvent: (blastId: string, type: BlastEventType) => `blast.${blastId}.${blastEventSuffix[type]}`,
  blastHistory: (blastId: string) => `blast.${blastId}.>`,
  allBlastEvents: "blast.>",
  /** Send work for one blast on one WhatsApp session. */
  sendWork: (sessionId: string, blastId: string) => `send.${sessionId}.${blastId}`,
  sessionWork: (sessionId: string) => `send.${sessionId}.>`,
  allSendWork: "send.>",
  /** Session facts (status, qr) kept briefly in SESSION_EVENTS and relayed to WebSockets. */
  sessionEvent: (sessionId: string, what: "status" | "qr") => `session.${sessionId}.${what}`,
  sessionEvents: (sessionId: string) => `session.${sessionId}.>`,
  allSessionEvents: "session.>",
  /** Core NATS request/reply to whichever sender owns the session (not stored). */
  sessionCommand: (sessionId: string, what: "connect" | "logout" | "pairing-code") =>
    `cmd.session.${sessionId}.${what}`,
  sessionCommands: (sessionId: string) => `cmd.session.${sessionId}.*`,
  /** Core NATS progress snapshots published by the projector after it applies events. */
  blastProgress: (blastId: string) => `progress.${blastId}`,
  allBlastProgress: "progress.*",
} as const;

/** One durable pull consumer per blast, filtered to that blast's work on its session. */
export const sendWorkConsumer = (blastId: string) => `send-${blastId}`;

/** Event message ids make publishes idempotent within the stream's duplicate window. */
export const eventMsgId = {
  outcome: (blastId: string, idx: number) => `${blastId}.r${idx}`,
  lifecycle: (blastId: string, what: string) => `${blastId}.${what}`,
  recipients: (blastId: string, chunk: number) => `${blastId}.recipients.${chunk}`,
  receipt: (blastId: string, idx: number, what: "delivered" | "read") => `${blastId}.${what}${idx}`,
  work: (blastId: string, idx: number) => `${blastId}.w${idx}`,
};

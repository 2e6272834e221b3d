import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { NatsSecurity } from "../config/config.ts";
import { ensureMediaBucket } from "./mediaLibrary.ts";
import {
  BLAST_EVENTS,
  CONSENT_EVENTS,
  INBOUND_MESSAGES,
  SEND_WORK,
  SESSION_EVENTS,
  SCHEDULES,
  WEBHOOK_DELIVERIES,
  subjects,
} from "./topology.ts";

export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

const MINUTE_NS = 60 * 1_000_000_000;
const DAY_NS = 24 * 60 * MINUTE_NS;

export const streamConfigs: Array<Partial<StreamConfig> & { name: string; subjects: string[] }> = [
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

export async function connectNats(url: string, name: string, security: NatsSecurity = {}): Promise<Nats> {
  const { credsFile, ...options } = security;
  const nc = await connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...options,
    ...(credsFile ? { authenticator: credsAuthenticator(readFileSync(credsFile)) } : {}),
  });
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm };
}

/**
 * Creates or updates the streams, and the media library's Object Store bucket; safe to run from
 * every process at every start.
 */
export async function ensureStreams(jsm: JetStreamManager): Promise<void> {
  await ensureMediaBucket(jsm);
  for (const config of streamConfigs) {
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(config);
      } catch (addErr) {
        // Another process created it between our info and add.
        if (!String(addErr).includes("already in use")) throw addErr;
      }
    }
  }
}

export function isNotFound(err: unknown): boolean {
  const text = String((err as { message?: string })?.message ?? err);
  return /not found/i.test(text);
}

export { AckPolicy };

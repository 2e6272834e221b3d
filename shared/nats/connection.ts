import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsSecurity } from "../config/config.ts";
import { ensureMediaBucket } from "./mediaLibrary.ts";
import { MEDIA_BUCKET, bucketStream, streamConfigs, withReplicas } from "./topology.ts";

export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

// The health route lists the streams from here.
export { streamConfigs };

/** NATS_URL: one server, or a cluster's servers comma-separated (the client tries the others). */
export function natsServersOf(url: string): string[] {
  return url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function connectNats(url: string, name: string, security: NatsSecurity = {}): Promise<Nats> {
  const { credsFile, ...options } = security;
  const nc = await connect({
    servers: natsServersOf(url),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...options,
    ...(credsFile ? { authenticator: credsAuthenticator(readFileSync(credsFile)) } : {}),
  });
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm };
}

/** What start-up tells of a change it made; a pino logger is one. */
export interface StartupLog {
  info(details: object, message: string): void;
}

export interface EnsureOptions {
  /** NATS_REPLICAS: copies of every stream and bucket; more than 1 needs a cluster of that many. */
  readonly replicas?: number;
  /** Told when an existing stream's replicas are changed to the configured number. */
  readonly log?: StartupLog;
}

/**
 * Creates or updates the streams, and the media library's Object Store bucket; safe to run from
 * every process at every start. Streams created with other replicas (R1 before a move to a
 * cluster) are scaled to `replicas` in place: nats-server 2.9.10 replicates what they hold to the
 * new peers, and their consumers follow (see ../shared/NOTES-nats.md, "Clusters").
 */
export async function ensureStreams(jsm: JetStreamManager, options: EnsureOptions = {}): Promise<void> {
  const replicas = options.replicas ?? 1;
  await ensureMediaBucket(jsm, replicas);
  await ensureReplicas(jsm, bucketStream.obj(MEDIA_BUCKET), replicas, options.log);
  for (const config of streamConfigs.map((c) => withReplicas(c, replicas))) {
    try {
      const before = await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, config).catch((err: unknown) => {
        throw replicasError(config.name, replicas, err);
      });
      logScaled(options.log, config.name, before.config.num_replicas, replicas);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(config);
      } catch (addErr) {
        // Another process created it between our info and add.
        if (!String(addErr).includes("already in use")) throw replicasError(config.name, replicas, addErr);
      }
    }
  }
}

/**
 * Gives a stream the client libraries made (a KV bucket's, an Object Store's) `replicas` copies:
 * their `create` keeps an existing bucket as it is.
 */
export async function ensureReplicas(
  jsm: JetStreamManager,
  stream: string,
  replicas: number,
  log?: StartupLog,
): Promise<void> {
  const { config } = await jsm.streams.info(stream);
  if (config.num_replicas === replicas) return;
  await jsm.streams.update(stream, { ...config, num_replicas: replicas }).catch((err: unknown) => {
    throw replicasError(stream, replicas, err);
  });
  logScaled(log, stream, config.num_replicas, replicas);
}

function logScaled(log: StartupLog | undefined, stream: string, from: number, to: number): void {
  if (from !== to) log?.info({ stream, from, to }, `stream ${stream} scaled from ${from} to ${to} replicas`);
}

/** "No suitable peers" alone does not say that NATS_REPLICAS asks more servers than the cluster has. */
function replicasError(stream: string, replicas: number, err: unknown): Error {
  if (replicas === 1 || !/peers|replica|cluster/i.test(String(err)))
    return err instanceof Error ? err : new Error(String(err));
  return new Error(
    `stream ${stream} cannot have NATS_REPLICAS=${replicas} copies (needs a JetStream cluster of at least ${replicas} servers): ${String(err)}`,
    { cause: err },
  );
}

export function isNotFound(err: unknown): boolean {
  const text = String((err as { message?: string })?.message ?? err);
  return /not found/i.test(text);
}

export { AckPolicy };

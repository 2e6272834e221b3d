// What JetStream holds right now, read from its API: every stream, every consumer, and the send
// work waiting per blast and per WhatsApp session. Field names stay close to the server's, so a number on the
// dashboard can be checked against `nats stream info` / `nats consumer info`.
import type { ConsumerInfo, StreamInfo } from "@nats-io/jetstream";
import type { Nats } from "../../../shared/nats/connection.ts";
import { SEND_WORK, subjects } from "../../../shared/nats/topology.ts";
import type { BlastProjection } from "../../../shared/redis/projection.ts";

export interface StreamFigures {
  name: string;
  subjects: string[];
  retention: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: number;
}

export interface ConsumerFigures {
  stream: string;
  name: string;
  durable: boolean;
  filterSubject: string;
  numPending: number;
  numAckPending: number;
  numRedelivered: number;
  numWaiting: number;
  /** When the consumer last delivered a message; null when it never has. */
  lastActive: string | null;
}

export interface QueueSnapshot {
  at: string;
  streams: StreamFigures[];
  consumers: ConsumerFigures[];
  /** Send work stored per account (queued plus in flight) over the blasts of its pools. */
  queuedBySession: Map<string, number>;
  /** The same per blast. */
  queuedByBlast: Map<string, number>;
}

export function streamFigures(info: StreamInfo): StreamFigures {
  return {
    name: info.config.name,
    subjects: info.config.subjects ?? [],
    retention: String(info.config.retention),
    messages: info.state.messages,
    bytes: info.state.bytes,
    firstSeq: info.state.first_seq,
    lastSeq: info.state.last_seq,
    consumers: info.state.consumer_count,
  };
}

/** `last_active` is an ISO time on the wire, though the client types it as nanoseconds. */
function lastActiveOf(info: ConsumerInfo): string | null {
  const raw: unknown = info.delivered?.last_active;
  if (typeof raw === "string" && !raw.startsWith("0001-")) return new Date(raw).toISOString();
  return null;
}

export function consumerFigures(info: ConsumerInfo): ConsumerFigures {
  const filters = info.config.filter_subjects ?? [];
  return {
    stream: info.stream_name,
    name: info.name,
    durable: Boolean(info.config.durable_name),
    filterSubject: info.config.filter_subject ?? filters.join(" "),
    numPending: info.num_pending,
    numAckPending: info.num_ack_pending,
    numRedelivered: info.num_redelivered,
    numWaiting: info.num_waiting,
    lastActive: lastActiveOf(info),
  };
}

/** The accounts of a blast's pool (empty when the projection does not know the blast). */
export type PoolLookup = (blastId: string) => Promise<readonly string[]>;

export function projectedPools(projection: BlastProjection): PoolLookup {
  return async (blastId) => {
    const state = await projection.state(blastId);
    return state.status === "none" ? [] : state.sessionIds;
  };
}

/**
 * Send work stored (queued plus in flight) per blast, and per account: a pooled blast's work counts
 * for every account of its pool, since any of them may take it.
 */
export async function queuedSendWork(
  nats: Nats,
  poolOf: PoolLookup,
): Promise<{ byBlast: Map<string, number>; bySession: Map<string, number> }> {
  const info = await nats.jsm.streams.info(SEND_WORK, { subjects_filter: subjects.allSendWork });
  const byBlast = new Map<string, number>();
  const bySession = new Map<string, number>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    // `send.pool.<blastId>`, or `send.<sessionId>.<blastId>` for work queued before pools.
    const [, owner, blastId] = subject.split(".");
    if (owner === undefined || blastId === undefined || count === 0) continue;
    byBlast.set(blastId, (byBlast.get(blastId) ?? 0) + count);
    const pool = await poolOf(blastId);
    for (const sessionId of pool.length > 0 ? pool : owner === "pool" ? [] : [owner]) {
      bySession.set(sessionId, (bySession.get(sessionId) ?? 0) + count);
    }
  }
  return { byBlast, bySession };
}

export async function readQueueSnapshot(nats: Nats, poolOf: PoolLookup): Promise<QueueSnapshot> {
  const streams: StreamFigures[] = [];
  const consumers: ConsumerFigures[] = [];
  for await (const info of nats.jsm.streams.list()) streams.push(streamFigures(info));
  streams.sort((a, b) => a.name.localeCompare(b.name));
  for (const stream of streams) {
    for await (const info of nats.jsm.consumers.list(stream.name)) consumers.push(consumerFigures(info));
  }
  consumers.sort((a, b) => a.stream.localeCompare(b.stream) || a.name.localeCompare(b.name));
  const queued = await queuedSendWork(nats, poolOf);
  return {
    at: new Date().toISOString(),
    streams,
    consumers,
    queuedBySession: queued.bySession,
    queuedByBlast: queued.byBlast,
  };
}

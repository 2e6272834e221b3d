// Read-only views of what the platform stored, for assertions: the event log, the outbox, and
// the Redis projection.
import { readFile } from "node:fs/promises";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { Redis } from "ioredis";
import type { BlastEvent } from "../../shared/domain/blast.ts";
import { decodeConsentEvent, type ConsentEvent } from "../../shared/messages/consentEvents.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { blastHistory } from "../../shared/nats/eventLog.ts";
import { CONSENT_EVENTS, INBOUND_MESSAGES, INBOUND_PROCESSOR } from "../../shared/nats/topology.ts";
import type { OutboxLine } from "../../services/sender/transports/sim.ts";

export async function eventsOf(nats: Nats, blastId: string): Promise<BlastEvent[]> {
  return (await blastHistory(nats.js, blastId)).map((e) => e.event);
}

/** Every consent event (opt-outs and opt-ins) CONSENT_EVENTS holds, in stream order. */
export async function consentHistory(nats: Nats): Promise<ConsentEvent[]> {
  const consumer = await nats.js.consumers.get(CONSENT_EVENTS, { deliver_policy: DeliverPolicy.All });
  if ((await consumer.info(true)).num_pending === 0) return [];
  const events: ConsentEvent[] = [];
  const messages = await consumer.consume();
  for await (const msg of messages) {
    events.push(decodeConsentEvent(msg.data));
    if (msg.info.pending === 0) break;
  }
  await messages.close();
  return events;
}

/** The inbound processor has taken and acknowledged everything people wrote so far (for `eventually`). */
export async function inboundProcessed(nats: Nats): Promise<true | undefined> {
  const { state } = await nats.jsm.streams.info(INBOUND_MESSAGES);
  const info = await nats.jsm.consumers.info(INBOUND_MESSAGES, INBOUND_PROCESSOR).catch(() => undefined);
  if (!info) return undefined;
  const done =
    state.messages > 0 && info.ack_floor.stream_seq >= state.last_seq && info.num_ack_pending === 0;
  return done ? true : undefined;
}

export async function outbox(path: string): Promise<OutboxLine[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxLine);
}

/** Every key under `root` with its value, in a form two projections can be compared by. */
export async function dumpKeys(redis: Redis, root: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${root}*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const name = key.slice(root.length);
      if (type === "hash") out[name] = await redis.hgetall(key);
      else if (type === "set") out[name] = (await redis.smembers(key)).sort();
      else if (type === "zset") out[name] = await redis.zrange(key, 0, -1, "WITHSCORES");
      else if (type === "list") out[name] = await redis.lrange(key, 0, -1);
      else out[name] = (await redis.getBuffer(key))?.toString("base64");
    }
  } while (cursor !== "0");
  return out;
}

export interface LoggedOutcome {
  readonly idx: number;
  readonly phone: string;
  readonly kind: "sent" | "failed" | "in_doubt";
  readonly sessionId: string | undefined;
  readonly messageId?: string;
  readonly reason?: string;
}

/**
 * Every outcome the log holds, one per recipient per event, from batched `recipients.settled` and
 * from the one-outcome events of blasts logged before batching.
 */
export function outcomesOf(events: readonly BlastEvent[]): LoggedOutcome[] {
  const outcomes: LoggedOutcome[] = [];
  for (const e of events) {
    if (e.type === "recipients.settled") {
      for (const o of e.data.outcomes) outcomes.push({ ...o, sessionId: e.data.sessionId });
    } else if (e.type === "recipient.sent") {
      outcomes.push({
        idx: e.data.idx,
        phone: e.data.phone,
        kind: "sent",
        messageId: e.data.messageId,
        sessionId: undefined,
      });
    } else if (e.type === "recipient.failed") {
      outcomes.push({
        idx: e.data.idx,
        phone: e.data.phone,
        kind: "failed",
        reason: e.data.reason,
        sessionId: undefined,
      });
    } else if (e.type === "recipient.in_doubt") {
      outcomes.push({ idx: e.data.idx, phone: e.data.phone, kind: "in_doubt", sessionId: undefined });
    }
  }
  return outcomes;
}

/**
 * Each recipient's outcome, checking that a recipient logged more than once (an outcome recorded
 * again after a crash, in a batch made differently) was logged the same way every time.
 */
export function outcomeByRecipient(events: readonly BlastEvent[]): Map<number, LoggedOutcome> {
  const byIdx = new Map<number, LoggedOutcome>();
  for (const outcome of outcomesOf(events)) {
    const first = byIdx.get(outcome.idx);
    if (!first) byIdx.set(outcome.idx, outcome);
    else if (
      first.kind !== outcome.kind ||
      first.messageId !== outcome.messageId ||
      first.reason !== outcome.reason
    ) {
      throw new Error(`recipient ${outcome.idx} logged as ${first.kind} and as ${outcome.kind}`);
    }
  }
  return byIdx;
}

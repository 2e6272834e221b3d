// The blast event log: appends with message ids (so a retried publish is stored once) and reads a
// blast's history, or the whole log, in order.
import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { decodeBlastEvent, encodeBlastEvent, type BlastEvent } from "../messages/blastEvents.ts";
import { BLAST_EVENTS, eventMsgId, subjects } from "./topology.ts";

export function msgIdOf(event: BlastEvent, chunk = 0): string | undefined {
  const { blastId } = event.data;
  switch (event.type) {
    case "blast.created":
    case "blast.started":
    case "blast.cancelled":
    case "blast.completed":
      return eventMsgId.lifecycle(blastId, event.type);
    case "blast.recipients_added":
      // Named by the first recipient it carries: chunks appended one call at a time stay distinct.
      return eventMsgId.recipients(blastId, event.data.recipients[0]?.idx ?? chunk);
    case "recipients.settled":
      return eventMsgId.outcomes(
        blastId,
        event.data.outcomes.map((o) => o.idx),
      );
    case "recipient.sent":
    case "recipient.failed":
    case "recipient.in_doubt":
      return eventMsgId.outcome(blastId, event.data.idx);
    case "recipient.delivered":
      return eventMsgId.receipt(blastId, event.data.idx, "delivered");
    case "recipient.read":
      return eventMsgId.receipt(blastId, event.data.idx, "read");
    case "recipient.replied":
      // Named by the recipient: the inbound processor redelivering a reply, or a second reply
      // inside the dedupe window, is stored once (the folds count the first anyway).
      return eventMsgId.replied(blastId, event.data.idx);
    case "blast.edited":
    case "blast.paused":
    case "blast.resumed":
    case "blast.account_paused":
    case "blast.account_resumed":
      // A blast or an account can be paused and resumed many times: each one is a new fact.
      return undefined;
  }
}

export const encodeEvent = encodeBlastEvent;
export const decodeEvent = decodeBlastEvent;

/** Appends in order, waiting for each to be stored; returns the stream sequence of each. */
export async function appendEvents(js: JetStreamClient, events: readonly BlastEvent[]): Promise<number[]> {
  const seqs: number[] = [];
  let chunk = 0;
  for (const event of events) {
    const msgID = msgIdOf(event, event.type === "blast.recipients_added" ? chunk++ : 0);
    const ack = await js.publish(subjects.blastEvent(event.data.blastId, event.type), encodeEvent(event), {
      ...(msgID ? { msgID } : {}),
    });
    seqs.push(ack.seq);
  }
  return seqs;
}

export interface StoredEvent {
  readonly seq: number;
  readonly event: BlastEvent;
}

/**
 * Reads every event matching `filter` stored so far, starting after `afterSeq`, then returns.
 * An ordered consumer reads from the server with flow control and no state left behind.
 */
export async function readEvents(
  js: JetStreamClient,
  filter: string,
  onEvent: (stored: StoredEvent) => Promise<void> | void,
  afterSeq = 0,
): Promise<number> {
  const consumer = await js.consumers.get(BLAST_EVENTS, {
    filter_subjects: filter,
    ...(afterSeq > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
      : { deliver_policy: DeliverPolicy.All }),
  });
  const info = await consumer.info(true);
  if (info.num_pending === 0) return 0;
  let count = 0;
  const messages = await consumer.consume();
  for await (const msg of messages) {
    await onEvent({ seq: msg.seq, event: decodeEvent(msg.data) });
    count++;
    if (msg.info.pending === 0) break;
  }
  await messages.close();
  return count;
}

export async function blastHistory(js: JetStreamClient, blastId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  await readEvents(js, subjects.blastHistory(blastId), (e) => {
    events.push(e);
  });
  return events;
}

export type { JsMsg };

// Dead letters: stream messages a consumer gave up on after its max deliveries. The server says so
// only in an advisory, and the message itself stays in the stream; retry puts a copy back at the
// end of its subject (where the consumer picks it up as new) and deletes the original, discard
// only deletes it.
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Nats } from "../../../shared/nats/connection.ts";
import { HttpError } from "../http/errors.ts";
import type { AdvisoryLog } from "./advisoryLog.ts";

export interface DeadLetter {
  stream: string;
  consumer: string;
  streamSeq: number;
  deliveries: number;
  at: string;
  subject: string;
  size: number;
}

const MSG_ID_HEADER = "Nats-Msg-Id";

async function storedMessage(nats: Nats, stream: string, seq: number) {
  try {
    return await nats.jsm.streams.getMessage(stream, { seq });
  } catch {
    return null;
  }
}

/** The max-deliveries advisories whose message is still stored, newest first. */
export async function listDeadLetters(nats: Nats, advisories: AdvisoryLog): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (const advisory of advisories.maxDeliveries()) {
    if (!advisory.stream || advisory.streamSeq === undefined) continue;
    const message = await storedMessage(nats, advisory.stream, advisory.streamSeq);
    if (!message) continue;
    letters.push({
      stream: advisory.stream,
      consumer: advisory.consumer ?? "",
      streamSeq: advisory.streamSeq,
      deliveries: advisory.deliveries ?? 0,
      at: advisory.at,
      subject: message.subject,
      size: message.data.length,
    });
  }
  return letters;
}

async function deadLetter(nats: Nats, advisories: AdvisoryLog, stream: string, seq: number) {
  const known = advisories.maxDeliveries().some((a) => a.stream === stream && a.streamSeq === seq);
  // Only what a consumer gave up on: deleting or copying any other message is not this page's job.
  if (!known) throw new HttpError(404, `no dead letter ${stream} #${seq}`);
  const message = await storedMessage(nats, stream, seq);
  if (!message) throw new HttpError(404, `${stream} #${seq} is no longer stored`);
  return message;
}

/** Publishes a copy to the same subject and deletes the original; returns the copy's sequence. */
export async function retryDeadLetter(
  nats: Nats,
  advisories: AdvisoryLog,
  stream: string,
  seq: number,
): Promise<number> {
  const message = await deadLetter(nats, advisories, stream, seq);
  const copied = natsHeaders();
  for (const [key, values] of message.header ?? []) {
    if (key.toLowerCase() === MSG_ID_HEADER.toLowerCase()) continue;
    for (const value of values) copied.append(key, value);
  }
  // A new id per original: a double-click stores one copy, and the original's id (still in the
  // duplicate window) does not swallow it.
  const ack = await nats.js.publish(message.subject, message.data, {
    headers: copied,
    msgID: `retry.${stream}.${seq}`,
  });
  await nats.jsm.streams.deleteMessage(stream, seq);
  return ack.seq;
}

export async function discardDeadLetter(
  nats: Nats,
  advisories: AdvisoryLog,
  stream: string,
  seq: number,
): Promise<void> {
  await deadLetter(nats, advisories, stream, seq);
  await nats.jsm.streams.deleteMessage(stream, seq);
}

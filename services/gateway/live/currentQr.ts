// The QR code a session is showing, read back from SESSION_EVENTS. A sender publishes each code
// once, when it rotates, so a socket that joins between two rotations would otherwise see the
// session ask for a scan and have nothing to scan until the next one.
import type { JetStreamManager, NextMsgRequest, SeqMsgRequest } from "@nats-io/jetstream";
import type { SessionStatusMessage } from "../../../shared/messages/sessionEvents.ts";
import { SESSION_EVENTS, subjects } from "../../../shared/nats/topology.ts";

/**
 * The session's latest `qr_update` as published, unless a status other than `qr` came after it
 * on the stream (the code was scanned, expired or abandoned since).
 */
export async function currentQr(jsm: JetStreamManager, sessionId: string): Promise<string | undefined> {
  const qr = await jsm.streams.getMessage(SESSION_EVENTS, {
    last_by_subj: subjects.sessionEvent(sessionId, "qr"),
  });
  if (!qr) return undefined;
  // Not just the latest status: a code and its own `qr` status are published concurrently and reach
  // the stream in either order, so every status after the code is checked (a few at most: the
  // stream keeps 20 a subject).
  const statusSubject = subjects.sessionEvent(sessionId, "status");
  for (let seq = qr.seq + 1; ;) {
    // STREAM.MSG.GET honours next_by_subj (checked on nats-server 2.9.10); the client's types name
    // it only for direct get, which this stream does not allow.
    const query: SeqMsgRequest & Pick<NextMsgRequest, "next_by_subj"> = { seq, next_by_subj: statusSubject };
    const later = await jsm.streams.getMessage(SESSION_EVENTS, query);
    if (!later) return qr.string();
    if (!isQrStatus(later.string())) return undefined;
    seq = later.seq + 1;
  }
}

/**
 * Whether a live session event makes the stored code not worth sending any more: a new code
 * replaces it, and a status other than `qr` means no code is wanted now.
 */
export function outdatesStoredQr(subject: string, text: string): boolean {
  return subject.endsWith(".qr") || !isQrStatus(text);
}

function isQrStatus(text: string): boolean {
  try {
    return (JSON.parse(text) as Partial<SessionStatusMessage>).status === "qr";
  } catch {
    return false;
  }
}

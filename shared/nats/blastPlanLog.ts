// The part of a blast's log that a blast waiting to start is made of: its creation, its edits and
// its start (one subject, `blast.<id>.plan`), and a cancel. Read without the recipients and
// outcomes, so a retried start of a blast of a million recipients reads a handful of events.
// Edits and the start are appended only if nothing was appended to the plan subject since it was
// read (JetStream's expected last subject sequence): a blast is never edited as it starts.
import type { BlastEvent } from "../messages/blastEvents.ts";
import type { Nats } from "./connection.ts";
import { isNotFound } from "./connection.ts";
import { decodeEvent, encodeEvent, msgIdOf, readEvents } from "./eventLog.ts";
import { BLAST_EVENTS, subjects } from "./topology.ts";

export interface StoredBlastPlan {
  /** Creation, plan events, and the cancel if there is one, in log order. */
  readonly events: BlastEvent[];
  /** The stream sequence of the last event on the plan subject; 0 when there is none. */
  readonly planSeq: number;
}

/** The plan subject changed since it was read: read again and decide again. */
export class PlanChangedError extends Error {}

async function lastOn(nats: Nats, subject: string): Promise<{ seq: number; event: BlastEvent } | undefined> {
  try {
    const stored = await nats.jsm.streams.getMessage(BLAST_EVENTS, { last_by_subj: subject });
    return stored ? { seq: stored.seq, event: decodeEvent(stored.data) } : undefined;
  } catch (err) {
    if (isNotFound(err) || /no message found/i.test(String(err))) return undefined;
    throw err;
  }
}

export async function readBlastPlan(nats: Nats, blastId: string): Promise<StoredBlastPlan | undefined> {
  const created = await lastOn(nats, subjects.blastEvent(blastId, "blast.created"));
  if (!created) return undefined;
  const stored = [created];
  let planSeq = 0;
  await readEvents(nats.js, subjects.blastPlan(blastId), (event) => {
    stored.push(event);
    planSeq = event.seq;
  });
  const cancelled = await lastOn(nats, subjects.blastEvent(blastId, "blast.cancelled"));
  if (cancelled) stored.push(cancelled);
  stored.sort((a, b) => a.seq - b.seq);
  return { events: stored.map((s) => s.event), planSeq };
}

/**
 * Appends edits or the start (events on the plan subject), each only if the subject's last
 * sequence is still the one expected; PlanChangedError when another append came first.
 */
export async function appendPlanEvents(
  nats: Nats,
  events: readonly BlastEvent[],
  expectedPlanSeq: number,
): Promise<void> {
  let expected = expectedPlanSeq;
  for (const event of events) {
    const msgID = msgIdOf(event);
    try {
      const ack = await nats.js.publish(
        subjects.blastEvent(event.data.blastId, event.type),
        encodeEvent(event),
        {
          expect: { lastSubjectSequence: expected },
          ...(msgID ? { msgID } : {}),
        },
      );
      expected = ack.seq;
    } catch (err) {
      if (/wrong last sequence/i.test(String(err))) {
        throw new PlanChangedError(
          `blast ${event.data.blastId} changed meanwhile (it was edited or started)`,
        );
      }
      throw err;
    }
  }
}

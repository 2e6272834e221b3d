// The send protocol, for one batch of recipients taken from one blast by one account:
// claim -> send -> settle -> record -> ack. Every recipient passes through its idempotency record
// before its outcome reaches the event log and its work message is acked, so a crash at any instant
// neither repeats nor loses a message:
// - crash before the claim: the work is redelivered and claimed then;
// - crash between claim and settle: the redelivered work finds the record claimed and the
//   recipient is reported in doubt (maybe sent), never sent again; a batch leaves at most its size
//   in doubt, a paced account (batches of one) at most one recipient;
// - crash after settle: the redelivered work finds the stored outcome and records it again (the
//   log and the projection count it once), never resends.
// A send WhatsApp refused because it is restricting the account (463), or one the account could
// not even write (its session not open, its socket gone), left nothing with anyone: its claim is
// released and its work handed back, so another account of the pool sends it (or this one, once
// back) instead of the recipient being written off. A recipient the claim refused because the
// account reached its budget of messages to people who have not replied is handed back the same
// way, untried (there is no claim to release): the recipient is the pool's, not this account's.
// The stores and the transport are ports, so every branch is tested without servers.
import type { RecipientOutcome } from "../../../shared/domain/blast.ts";
import type { SendWork } from "../../../shared/messages/sendWork.ts";
import type { ClaimResult } from "../../../shared/redis/idempotency.ts";
import type { SendResult } from "../transports/transport.ts";

export interface SendJob {
  readonly work: SendWork;
  /** Our WhatsApp message id for this recipient (receipts come back with it). */
  readonly messageId: string;
}

export interface Settlement {
  readonly job: SendJob;
  readonly outcome: RecipientOutcome;
  /**
   * How it settled: sent (or failed) now, found in doubt, found settled by an earlier attempt,
   * refused by WhatsApp and handed back to be sent by another account (not settled at all), or
   * handed back untried because the account is over its unreplied budget (not settled either).
   */
  readonly how: "attempted" | "in_doubt" | "already_settled" | "released" | "over_budget";
  /** WhatsApp refused the send because it is restricting the account (463). */
  readonly restricted: boolean;
  /** Nothing reached WhatsApp, for a reason of the account's, not the recipient's. */
  readonly handBack: boolean;
}

export interface SendProtocolPorts {
  /**
   * One round trip for the whole batch: each recipient's idempotency claim and receipt mapping,
   * with every per-recipient check (opt-out, frequency cap, unreplied budget) in the same step.
   */
  claim(jobs: readonly SendJob[]): Promise<ClaimResult[]>;
  /** Number check, typing and the send. A throw is a failed send, settled as such. */
  send(job: SendJob): Promise<SendResult>;
  /** One round trip: stores the outcomes on their records, and the attempted sends on the pace. */
  settle(settlements: readonly Settlement[]): Promise<void>;
  /** Appends the outcomes to the event log (one event for the batch) and waits until stored. */
  record(settlements: readonly Settlement[]): Promise<void>;
  /** One round trip: drops the claims of recipients WhatsApp refused, so they can be claimed again. */
  release(jobs: readonly SendJob[]): Promise<void>;
  /** Acknowledges the job's work message; not awaited. */
  ack(job: SendJob): void;
  /** Hands the job's work message back to the queue for another attempt; not awaited. */
  retry(job: SendJob): void;
}

/** The outcome a recipient over the account's unreplied budget is reported with (never recorded). */
export const OVER_UNREPLIED_BUDGET = "over_unreplied_budget";

/** Refused or never written because of the account: nothing reached the recipient. */
function refused(s: Settlement): boolean {
  return s.how === "attempted" && s.handBack && s.outcome.kind === "failed";
}

/** Runs `task` over `items` with at most `limit` running at once; results in input order. */
async function inPool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

async function attempt(ports: SendProtocolPorts, job: SendJob): Promise<Settlement> {
  try {
    const result = await ports.send(job);
    if (result.ok) {
      return {
        job,
        outcome: { kind: "sent", messageId: result.messageId },
        how: "attempted",
        restricted: false,
        handBack: false,
      };
    }
    if (result.unconfirmed) {
      return { job, outcome: { kind: "in_doubt" }, how: "attempted", restricted: false, handBack: false };
    }
    const restricted = result.restricted === true;
    return {
      job,
      outcome: { kind: "failed", reason: result.reason },
      how: "attempted",
      restricted,
      handBack: restricted || result.accountDown === true,
    };
  } catch (err) {
    const reason = `send_error: ${(err as Error).message}`;
    return { job, outcome: { kind: "failed", reason }, how: "attempted", restricted: false, handBack: false };
  }
}

/**
 * Runs the protocol for `jobs` (all of one blast), sending at most `concurrency` at once. Throws
 * when a store fails; the jobs not yet acked are then redelivered and meet their records again.
 */
export async function runSendProtocol(
  jobs: readonly SendJob[],
  ports: SendProtocolPorts,
  concurrency = 1,
): Promise<Settlement[]> {
  if (jobs.length === 0) return [];
  const claims = await ports.claim(jobs);
  const toSend: SendJob[] = [];
  const known: Settlement[] = [];
  const overBudget: Settlement[] = [];
  jobs.forEach((job, i) => {
    const claim = claims[i];
    if (!claim) throw new Error(`no claim for recipient ${job.work.idx}`);
    if (claim.kind === "claimed") toSend.push(job);
    else if (claim.kind === "settled") {
      known.push({ job, outcome: claim.outcome, how: "already_settled", restricted: false, handBack: false });
    } else if (claim.kind === "over_budget") {
      const outcome = { kind: "failed", reason: OVER_UNREPLIED_BUDGET } as const;
      overBudget.push({ job, outcome, how: "over_budget", restricted: false, handBack: true });
    } else {
      known.push({ job, outcome: { kind: "in_doubt" }, how: "in_doubt", restricted: false, handBack: false });
    }
  });
  const sent = await inPool(toSend, concurrency, (job) => attempt(ports, job));
  const released = sent.filter(refused).map((s): Settlement => ({ ...s, how: "released" }));
  const settlements = [...sent.filter((s) => !refused(s)), ...known].sort(
    (a, b) => a.job.work.idx - b.job.work.idx,
  );
  // A stored outcome is already on its record; everything else is written there before the log.
  const toSettle = settlements.filter((s) => s.how !== "already_settled");
  await Promise.all([
    toSettle.length > 0 ? ports.settle(toSettle) : undefined,
    released.length > 0 ? ports.release(released.map((s) => s.job)) : undefined,
  ]);
  if (settlements.length > 0) await ports.record(settlements);
  for (const s of settlements) ports.ack(s.job);
  for (const s of [...released, ...overBudget]) ports.retry(s.job);
  return [...settlements, ...released, ...overBudget];
}

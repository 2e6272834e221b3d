// Per-recipient results of one blast, for the CSV export. The projection keeps counters and
// failure reasons but not who was sent what and when, so the rows are folded from the blast's
// event log, which holds every recipient and every outcome.
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { readEvents } from "../../../shared/nats/eventLog.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";

export type RecipientOutcome = "pending" | "sent" | "failed" | "in_doubt";

export interface RecipientResult {
  idx: number;
  phone: string;
  name: string;
  outcome: RecipientOutcome;
  reason: string;
  messageId: string;
  settledAt: string;
  deliveredAt: string;
  readAt: string;
}

function resultFor(results: Map<number, RecipientResult>, idx: number, phone: string): RecipientResult {
  let result = results.get(idx);
  if (!result) {
    result = {
      idx,
      phone,
      name: "",
      outcome: "pending",
      reason: "",
      messageId: "",
      settledAt: "",
      deliveredAt: "",
      readAt: "",
    };
    results.set(idx, result);
  }
  return result;
}

function fold(results: Map<number, RecipientResult>, event: BlastEvent): void {
  switch (event.type) {
    case "blast.recipients_added":
      for (const r of event.data.recipients) resultFor(results, r.idx, r.phone).name = r.name ?? "";
      return;
    case "recipient.sent": {
      const result = resultFor(results, event.data.idx, event.data.phone);
      // The first outcome in the log is the one the counters kept; a re-appended one changes nothing.
      if (result.outcome !== "pending") return;
      Object.assign(result, { outcome: "sent", messageId: event.data.messageId, settledAt: event.data.at });
      return;
    }
    case "recipient.failed": {
      const result = resultFor(results, event.data.idx, event.data.phone);
      if (result.outcome !== "pending") return;
      Object.assign(result, { outcome: "failed", reason: event.data.reason, settledAt: event.data.at });
      return;
    }
    case "recipient.in_doubt": {
      const result = resultFor(results, event.data.idx, event.data.phone);
      if (result.outcome !== "pending") return;
      Object.assign(result, {
        outcome: "in_doubt",
        reason: "interrupted by a crash: maybe delivered, never retried",
        settledAt: event.data.at,
      });
      return;
    }
    case "recipient.delivered": {
      const result = resultFor(results, event.data.idx, event.data.phone);
      result.deliveredAt ||= event.data.at;
      return;
    }
    case "recipient.read": {
      const result = resultFor(results, event.data.idx, event.data.phone);
      result.readAt ||= event.data.at;
      return;
    }
    default:
      return;
  }
}

/** Every recipient of the blast in blast order, with the outcome the log recorded so far. */
export async function recipientResults(deps: GatewayDeps, blastId: string): Promise<RecipientResult[]> {
  const results = new Map<number, RecipientResult>();
  await readEvents(deps.nats.js, subjects.blastHistory(blastId), ({ event }) => fold(results, event));
  return [...results.values()].sort((a, b) => a.idx - b.idx);
}

// Per-recipient results of one blast, for the CSV export. The projection keeps counters and
// failure reasons but not who was sent what and when, so the rows are folded from the blast's
// event log, which holds every recipient and every outcome.
import { poolOf, type BlastEvent, type SettledOutcome } from "../../../shared/domain/blast.ts";
import { readEvents } from "../../../shared/nats/eventLog.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";

export type RecipientOutcome = "pending" | "sent" | "failed" | "in_doubt";

export interface RecipientResult {
  idx: number;
  phone: string;
  name: string;
  /** The message variant the recipient was sent (shared/domain/variants.ts); "" without variants. */
  variant: string;
  outcome: RecipientOutcome;
  reason: string;
  messageId: string;
  /** The account of the pool that settled this recipient. */
  sessionId: string;
  settledAt: string;
  deliveredAt: string;
  readAt: string;
  /**
   * When the recipient first replied, and what they wrote (cut to REPLY_TEXT_MAX). Later replies are
   * not kept.
   */
  repliedAt: string;
  reply: string;
}

const IN_DOUBT_REASON = "interrupted by a crash: maybe delivered, never retried";

/**
 * The per-recipient fold of a blast's log, under the same rules as `evolve` and the projection:
 * the first outcome logged for a recipient is the one that counts, a repeated receipt or a second
 * reply changes nothing. A property test checks the three agree.
 */
export class ResultsFold {
  private readonly results = new Map<number, RecipientResult>();
  /** The blast's first account: outcomes logged before pools were its. */
  private home = "";

  private resultFor(idx: number, phone: string): RecipientResult {
    let result = this.results.get(idx);
    if (!result) {
      result = {
        idx,
        phone,
        name: "",
        variant: "",
        outcome: "pending",
        reason: "",
        messageId: "",
        sessionId: "",
        settledAt: "",
        deliveredAt: "",
        readAt: "",
        repliedAt: "",
        reply: "",
      };
      this.results.set(idx, result);
    }
    return result;
  }

  private settle(outcome: SettledOutcome, sessionId: string, at: string): void {
    const result = this.resultFor(outcome.idx, outcome.phone);
    if (result.outcome !== "pending") return;
    result.outcome = outcome.kind;
    result.sessionId = sessionId;
    result.settledAt = at;
    if (outcome.kind === "sent") result.messageId = outcome.messageId;
    else result.reason = outcome.kind === "failed" ? outcome.reason : IN_DOUBT_REASON;
  }

  apply(event: BlastEvent): void {
    switch (event.type) {
      case "blast.created":
        this.home = poolOf(event.data)[0] ?? "";
        return;
      case "blast.recipients_added":
        for (const r of event.data.recipients) {
          const result = this.resultFor(r.idx, r.phone);
          result.name = r.name ?? "";
          result.variant = r.variant ?? "";
        }
        return;
      case "recipients.settled":
        for (const o of event.data.outcomes) this.settle(o, event.data.sessionId, event.data.at);
        return;
      case "recipient.sent":
      case "recipient.failed":
      case "recipient.in_doubt": {
        const { idx, phone, at } = event.data;
        const outcome: SettledOutcome =
          event.type === "recipient.sent"
            ? { idx, phone, kind: "sent", messageId: event.data.messageId }
            : event.type === "recipient.failed"
              ? { idx, phone, kind: "failed", reason: event.data.reason }
              : { idx, phone, kind: "in_doubt" };
        this.settle(outcome, this.home, at);
        return;
      }
      case "recipient.delivered":
        this.resultFor(event.data.idx, event.data.phone).deliveredAt ||= event.data.at;
        return;
      case "recipient.read":
        this.resultFor(event.data.idx, event.data.phone).readAt ||= event.data.at;
        return;
      case "recipient.replied": {
        const result = this.resultFor(event.data.idx, event.data.phone);
        // The first reply logged is the one kept, as the projection's bit and `evolve`'s marks say.
        if (result.repliedAt !== "") return;
        result.repliedAt = event.data.at;
        result.reply = event.data.text;
        return;
      }
      default:
        return;
    }
  }

  /** Every recipient seen, in blast order. */
  rows(): RecipientResult[] {
    return [...this.results.values()].sort((a, b) => a.idx - b.idx);
  }
}

/** Every recipient of the blast in blast order, with the outcome the log recorded so far. */
export async function recipientResults(deps: GatewayDeps, blastId: string): Promise<RecipientResult[]> {
  const fold = new ResultsFold();
  await readEvents(deps.nats.js, subjects.blastHistory(blastId), ({ event }) => fold.apply(event));
  return fold.rows();
}

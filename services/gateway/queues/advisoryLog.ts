// The recent JetStream advisories (max deliveries, naks, terms, consumers created and deleted…)
// in a bounded ring. The server only publishes them on core NATS, so a gateway keeps what it saw
// since it started. API audit advisories are left out: every dashboard poll would make some.
import type { Subscription } from "@nats-io/transport-node";
import type { Nats } from "../../../shared/nats/connection.ts";

export interface Advisory {
  /** The advisory's subject, e.g. `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.SEND_WORK.send-b1`. */
  subject: string;
  /** The part of the subject after ADVISORY, e.g. `CONSUMER.MAX_DELIVERIES`. */
  kind: string;
  at: string;
  stream?: string;
  consumer?: string;
  streamSeq?: number;
  deliveries?: number;
  reason?: string;
}

interface AdvisoryBody {
  timestamp?: string;
  stream?: string;
  consumer?: string;
  stream_seq?: number;
  deliveries?: number;
  reason?: string;
}

export const ADVISORIES = "$JS.EVENT.ADVISORY.>";
const IGNORED = /^\$JS\.EVENT\.ADVISORY\.API(\.|$)/;
export const MAX_DELIVERIES_KIND = "CONSUMER.MAX_DELIVERIES";

const decoder = new TextDecoder();

function kindOf(subject: string): string {
  const parts = subject.split(".").slice(3);
  // Stream and consumer names end the subject; the kind is what comes before them.
  const named = parts[0] === "CONSUMER" ? 2 : parts[0] === "STREAM" ? 1 : 0;
  return parts.slice(0, Math.max(1, parts.length - named)).join(".");
}

export class AdvisoryLog {
  private readonly ring: Advisory[] = [];
  private subscription: Subscription | undefined;

  constructor(
    private readonly nats: Nats,
    private readonly capacity = 500,
  ) {}

  start(): void {
    this.subscription = this.nats.nc.subscribe(ADVISORIES, {
      callback: (err, msg) => {
        if (err || IGNORED.test(msg.subject)) return;
        let body: AdvisoryBody = {};
        try {
          body = JSON.parse(decoder.decode(msg.data)) as AdvisoryBody;
        } catch {
          // Keep the subject even when the body is not JSON.
        }
        this.add({
          subject: msg.subject,
          kind: kindOf(msg.subject),
          at: body.timestamp ?? new Date().toISOString(),
          ...(body.stream ? { stream: body.stream } : {}),
          ...(body.consumer ? { consumer: body.consumer } : {}),
          ...(body.stream_seq !== undefined ? { streamSeq: body.stream_seq } : {}),
          ...(body.deliveries !== undefined ? { deliveries: body.deliveries } : {}),
          ...(body.reason ? { reason: body.reason } : {}),
        });
      },
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }

  add(advisory: Advisory): void {
    this.ring.push(advisory);
    if (this.ring.length > this.capacity) this.ring.shift();
  }

  /** Newest first. */
  recent(limit = this.capacity): Advisory[] {
    return this.ring.slice(-limit).reverse();
  }

  /** Max-deliveries advisories, newest first, one per stream message. */
  maxDeliveries(): Advisory[] {
    const seen = new Set<string>();
    return this.recent().filter((a) => {
      const key = `${a.stream}/${a.streamSeq}`;
      if (a.kind !== MAX_DELIVERIES_KIND || a.streamSeq === undefined || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
}

// The sender's Prometheus figures: what it sent by outcome and session, how long WhatsApp took to
// take each message, how many messages people sent back, and the state of the sessions it runs.
// The worker reports through the small SendObserver interface, so the pacing and delivery code
// knows nothing of Prometheus.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SessionStatus } from "../../shared/messages/sessionEvents.ts";

export interface SendObserver {
  outcome(sessionId: string, outcome: "sent" | "failed" | "in_doubt"): void;
  sendDuration(sessionId: string, seconds: number): void;
}

export interface InboundObserver {
  inbound(sessionId: string): void;
  consent(change: "consent.optout" | "consent.optin", sessionId: string): void;
}

export function createSenderMetrics(
  ownedSessions: () => Array<{ sessionId: string; status: SessionStatus }>,
): SendObserver & InboundObserver & { readonly registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const sends = new Counter({
    name: "wa_blast_sends_total",
    help: "Recipients this sender settled, by session and outcome",
    labelNames: ["session_id", "outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "wa_blast_send_duration_seconds",
    help: "From handing a message to the transport to WhatsApp's ack (number check and typing included)",
    labelNames: ["session_id"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers: [registry],
  });
  const inbound = new Counter({
    name: "wa_blast_inbound_messages_total",
    help: "Messages people sent to the sessions this sender runs, by session",
    labelNames: ["session_id"],
    registers: [registry],
  });
  const consent = new Counter({
    name: "wa_blast_consent_keywords_total",
    help: "Opt-outs and opt-ins people made by keyword, by session and change",
    labelNames: ["session_id", "change"],
    registers: [registry],
  });
  new Gauge({
    name: "wa_blast_sender_sessions",
    help: "Sessions this sender runs, by status",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      this.reset();
      for (const { status } of ownedSessions()) this.inc({ status });
    },
  });
  return {
    registry,
    outcome: (sessionId, outcome) => sends.inc({ session_id: sessionId, outcome }),
    sendDuration: (sessionId, seconds) => duration.observe({ session_id: sessionId }, seconds),
    inbound: (sessionId) => inbound.inc({ session_id: sessionId }),
    consent: (change, sessionId) =>
      consent.inc({ session_id: sessionId, change: change === "consent.optout" ? "optout" : "optin" }),
  };
}

// The webhooks service's Prometheus figures: every delivery attempt by endpoint and how it ended,
// and how long receivers took. The delivery loop reports through DeliveryObserver, so it knows
// nothing of Prometheus.
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type AttemptOutcome = "delivered" | "retrying" | "dead";

export interface DeliveryObserver {
  attempt(webhookId: string, outcome: AttemptOutcome, latencyMs: number): void;
}

export function createWebhookMetrics(): DeliveryObserver & { readonly registry: Registry } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const attempts = new Counter({
    name: "wa_blast_webhook_attempts_total",
    help: "Webhook requests by endpoint and how they ended (retrying: failed, tried again later; dead: given up)",
    labelNames: ["webhook_id", "outcome"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "wa_blast_webhook_latency_seconds",
    help: "From sending a webhook request to the receiver's answer (or the timeout)",
    labelNames: ["webhook_id"],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    attempt(webhookId, outcome, latencyMs) {
      attempts.inc({ webhook_id: webhookId, outcome });
      latency.observe({ webhook_id: webhookId }, latencyMs / 1000);
    },
  };
}

// Prometheus metrics of the gateway at /metrics (API key required, as a bearer token from
// Prometheus). Figures owned by another store are read from it at scrape time rather than
// mirrored: queue lag from JetStream, session states and unreplied counts from the registry, sends
// from the projection, so a restarted gateway reports the same totals.
import type { FastifyInstance } from "fastify";
import type {} from "@fastify/websocket";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SessionStatus } from "../../../shared/messages/sessionEvents.ts";
import type { GatewayDeps } from "../deps.ts";
import { projectedPools, queuedSendWork } from "../queues/queueSnapshot.ts";

const SESSION_STATUSES: readonly SessionStatus[] = [
  "idle",
  "connecting",
  "qr",
  "open",
  "reconnecting",
  "logged_out",
  "closed",
  "restricted",
];
const OUTCOMES = ["sent", "failed", "inDoubt", "delivered", "read", "replied"] as const;
const OUTCOME_LABELS: Record<(typeof OUTCOMES)[number], string> = {
  sent: "sent",
  failed: "failed",
  inDoubt: "in_doubt",
  delivered: "delivered",
  read: "read",
  replied: "replied",
};

export function createGatewayMetrics(app: FastifyInstance, deps: GatewayDeps): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: "wa_blast_websocket_clients",
    help: "WebSocket clients connected to this gateway",
    registers: [registry],
    collect() {
      this.set(app.websocketServer?.clients.size ?? 0);
    },
  });

  new Gauge({
    name: "wa_blast_queue_lag_messages",
    help: "Send work stored in SEND_WORK per session (queued plus in flight), over the blasts of its pools",
    labelNames: ["session_id"],
    registers: [registry],
    async collect() {
      this.reset();
      const [sessionIds, queued] = await Promise.all([
        deps.sessions.ids(),
        queuedSendWork(deps.nats, projectedPools(deps.projection)),
      ]);
      for (const sessionId of new Set([...sessionIds, ...queued.bySession.keys()])) {
        this.set({ session_id: sessionId }, queued.bySession.get(sessionId) ?? 0);
      }
    },
  });

  new Gauge({
    name: "wa_blast_sessions",
    help: "WhatsApp sessions by status",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const status of SESSION_STATUSES) this.set({ status }, 0);
      for (const session of await deps.sessions.list()) this.inc({ status: session.status });
    },
  });

  new Gauge({
    name: "wa_blast_unreplied_messages",
    help: "Messages each account sent this calendar month (UTC) to numbers that had not written to it, the figure its unreplied budget counts",
    labelNames: ["session_id"],
    registers: [registry],
    async collect() {
      const counts = await deps.sessions.unrepliedSends(await deps.sessions.ids(), Date.now());
      this.reset();
      for (const [session_id, count] of counts) this.set({ session_id }, count);
    },
  });

  new Counter({
    name: "wa_blast_recipients_total",
    help: "Recipients by outcome (receipts and first replies too) and session, over every blast the projection holds",
    labelNames: ["session_id", "outcome"],
    registers: [registry],
    async collect() {
      // Kept by the projection as events are applied: one hash read, however many blasts exist.
      const [sessionIds, totals] = await Promise.all([deps.sessions.ids(), deps.projection.totals()]);
      this.reset();
      // Every known account gets every series, at 0 before its first outcome.
      for (const session_id of new Set([...sessionIds, ...totals.keys()])) {
        const counts = totals.get(session_id);
        for (const outcome of OUTCOMES) {
          this.inc({ session_id, outcome: OUTCOME_LABELS[outcome] }, counts?.[outcome] ?? 0);
        }
      }
    },
  });

  const requestDuration = new Histogram({
    name: "wa_blast_http_request_duration_seconds",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status_code"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.addHook("onResponse", async (request, reply) => {
    requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  return registry;
}

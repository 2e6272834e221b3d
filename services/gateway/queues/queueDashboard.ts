// The queue dashboard's view: JetStream's own figures, plus what an operator must notice, i.e.
// a session whose running blasts have work queued while nothing is pulling it.
import type { GatewayDeps } from "../deps.ts";
import type { Advisory } from "./advisoryLog.ts";
import { listDeadLetters, type DeadLetter } from "./deadLetters.ts";
import type { LagSeries } from "./lagHistory.ts";
import type { QueueMonitor } from "./queueMonitor.ts";
import {
  projectedPools,
  readQueueSnapshot,
  type ConsumerFigures,
  type QueueSnapshot,
  type StreamFigures,
} from "./queueSnapshot.ts";
import { SEND_WORK, sendWorkConsumer } from "../../../shared/nats/topology.ts";

export interface SessionQueue {
  sessionId: string;
  queued: number;
  /** Work of blasts that are running (paused blasts wait on purpose). */
  runnable: number;
  consumers: number;
  attached: boolean;
  warning?: string;
}

export interface QueueDashboard {
  at: string;
  streams: StreamFigures[];
  consumers: ConsumerFigures[];
  sessions: SessionQueue[];
  lag: LagSeries[];
  advisories: Advisory[];
  deadLetters: DeadLetter[];
}

/** A consumer that pulled within this long is still attached, though between two sends it waits. */
export const ATTACHED_WITHIN_MS = 60_000;

export function isAttached(consumer: ConsumerFigures, now: number): boolean {
  if (consumer.numWaiting > 0 || consumer.numAckPending > 0) return true;
  return consumer.lastActive !== null && now - Date.parse(consumer.lastActive) < ATTACHED_WITHIN_MS;
}

async function sessionQueues(deps: GatewayDeps, snapshot: QueueSnapshot): Promise<SessionQueue[]> {
  const now = Date.parse(snapshot.at);
  const sessionIds = new Set([...(await deps.sessions.ids()), ...snapshot.queuedBySession.keys()]);
  const blasts = await Promise.all(
    [...snapshot.queuedByBlast].map(async ([blastId, count]) => ({
      blastId,
      count,
      state: await deps.projection.state(blastId),
      consumer: snapshot.consumers.find(
        (c) => c.stream === SEND_WORK && c.name === sendWorkConsumer(blastId),
      ),
    })),
  );
  const rows: SessionQueue[] = [];
  for (const sessionId of [...sessionIds].sort()) {
    let runnable = 0;
    let consumers = 0;
    let attached = false;
    for (const { count, state, consumer } of blasts) {
      if (state.status === "none" || !state.sessionIds.includes(sessionId)) continue;
      if (consumer) consumers++;
      if (consumer && isAttached(consumer, now)) attached = true;
      // Work this account would take now: its blast runs and the account is in its rotation.
      if (state.status === "running" && state.pausedAccounts[sessionId] === undefined) runnable += count;
    }
    const queued = snapshot.queuedBySession.get(sessionId) ?? 0;
    rows.push({
      sessionId,
      queued,
      runnable,
      consumers,
      attached,
      ...(runnable > 0 && !attached
        ? {
            warning:
              `${runnable} message(s) of running blasts are queued for ${sessionId} but no consumer is ` +
              `attached: is a sender running and is the session connected?`,
          }
        : {}),
    });
  }
  return rows;
}

export async function queueDashboard(deps: GatewayDeps, monitor: QueueMonitor): Promise<QueueDashboard> {
  const snapshot = await readQueueSnapshot(deps.nats, projectedPools(deps.projection));
  return {
    at: snapshot.at,
    streams: snapshot.streams,
    consumers: snapshot.consumers,
    sessions: await sessionQueues(deps, snapshot),
    lag: monitor.lag.series({ at: Date.parse(snapshot.at), bySession: snapshot.queuedBySession }),
    advisories: monitor.advisories.recent(100),
    deadLetters: await listDeadLetters(deps.nats, monitor.advisories),
  };
}

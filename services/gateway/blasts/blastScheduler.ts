// Every gateway runs the schedule timer that starts scheduled blasts: the timers share one durable
// consumer, so each due schedule is taken by one of them, and taken again by another if it dies.
import type { Logger } from "pino";
import { ScheduleTimer } from "../../../shared/nats/scheduleTimer.ts";
import type { GatewayDeps } from "../deps.ts";
import { startDueBlast } from "./blastStart.ts";

export async function startBlastScheduler(deps: GatewayDeps, log: Logger): Promise<ScheduleTimer> {
  const timer = new ScheduleTimer({ nats: deps.nats, log });
  await timer.start((blastId) => startDueBlast(deps, blastId, log));
  return timer;
}

// The gateway's long-lived watch over JetStream: the lag history it samples and the advisories it
// hears. Started with the app and stopped when it closes.
import type { Nats } from "../../../shared/nats/connection.ts";
import type { PoolLookup } from "./queueSnapshot.ts";
import { AdvisoryLog } from "./advisoryLog.ts";
import { LagHistory } from "./lagHistory.ts";

export class QueueMonitor {
  readonly lag: LagHistory;
  readonly advisories: AdvisoryLog;

  constructor(
    readonly nats: Nats,
    poolOf: PoolLookup,
    lagSampleMs: number,
    onError: (err: unknown) => void,
  ) {
    this.lag = new LagHistory(nats, poolOf, lagSampleMs, onError);
    this.advisories = new AdvisoryLog(nats);
  }

  start(): void {
    this.advisories.start();
    this.lag.start();
  }

  stop(): void {
    this.lag.stop();
    this.advisories.stop();
  }
}

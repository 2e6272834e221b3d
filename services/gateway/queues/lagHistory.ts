// Send work waiting per session over the last hour, sampled in memory: enough for the dashboard's
// small chart without another store. Each gateway keeps its own; a restart starts a new hour.
import type { Nats } from "../../../shared/nats/connection.ts";
import { queuedSendWork, type PoolLookup } from "./queueSnapshot.ts";

export interface LagSample {
  readonly at: number;
  readonly bySession: ReadonlyMap<string, number>;
}

export interface LagSeries {
  sessionId: string;
  points: Array<{ at: string; queued: number }>;
}

const HOUR_MS = 3_600_000;

export class LagHistory {
  private samples: LagSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nats: Nats,
    private readonly poolOf: PoolLookup,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    try {
      const { bySession } = await queuedSendWork(this.nats, this.poolOf);
      this.record({ at: Date.now(), bySession });
    } catch (err) {
      this.onError(err);
    }
  }

  record(sample: LagSample): void {
    this.samples.push(sample);
    const oldest = sample.at - HOUR_MS;
    while ((this.samples[0]?.at ?? Infinity) < oldest) this.samples.shift();
  }

  /**
   * One series per session seen in the hour (a sample without the session counts as 0 waiting),
   * ending with `now` when given, so a chart never lags behind the table next to it.
   */
  series(now?: LagSample): LagSeries[] {
    const samples = now ? [...this.samples, now] : this.samples;
    const sessions = new Set<string>();
    for (const sample of samples) for (const id of sample.bySession.keys()) sessions.add(id);
    return [...sessions].sort().map((sessionId) => ({
      sessionId,
      points: samples.map((s) => ({
        at: new Date(s.at).toISOString(),
        queued: s.bySession.get(sessionId) ?? 0,
      })),
    }));
  }
}

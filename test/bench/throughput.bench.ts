// End-to-end throughput of the whole pipeline: gateway POST /api/blasts -> SEND_WORK -> sender
// (idempotency claim, sim send, settle, event appended, ack) -> projector counters -> progress.
// One blast per session, all posted together; the clock runs from the first send in the sim
// outbox to the last blast's completion as the projection records it (the projector appends
// blast.completed when the last recipient settles).
import { writeFileSync } from "node:fs";
import { outbox } from "../harness/inspect.ts";
import type { Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import {
  log,
  postJsonBlast,
  recipientsOf,
  sessionIds,
  startBenchPlatform,
  waitForCompletion,
  waitForOpenSessions,
} from "./benchSupport.ts";

export interface ThroughputResult {
  readonly sessions: number;
  readonly messages: number;
  /** One figure per run, in run order. */
  readonly messagesPerSecond: number[];
}

/** The platform, with `sessions` sim sessions all open, kept for every run of one configuration. */
export class PipelineUnderTest {
  private constructor(
    readonly servers: Servers,
    readonly platform: Platform,
    readonly sessions: number,
  ) {}

  static async start(sessions: number, env: Record<string, string> = {}): Promise<PipelineUnderTest> {
    const servers = await startServers();
    const platform = await startBenchPlatform(servers, {
      SESSION_IDS: sessionIds(sessions).join(","),
      ...env,
    });
    try {
      await platform.start("gateway");
      await platform.start("projector");
      await platform.start("sender");
      await waitForOpenSessions(platform, sessions);
    } catch (err) {
      await platform.stop();
      await servers.dispose();
      throw err;
    }
    return new PipelineUnderTest(servers, platform, sessions);
  }

  /** Sends `messages` spread over every session; returns messages per second. */
  async run(messages: number): Promise<number> {
    writeFileSync(this.platform.outboxPath, "");
    const perSession = Math.ceil(messages / this.sessions);
    const recipients = recipientsOf(perSession);
    const blastIds = await Promise.all(
      sessionIds(this.sessions).map((sessionId) => postJsonBlast(this.platform, sessionId, recipients)),
    );
    const views = await waitForCompletion(this.platform, blastIds, 600_000);
    const lines = await outbox(this.platform.outboxPath);
    const firstSendAt = Math.min(...lines.map((l) => Date.parse(l.at)));
    const lastSettledAt = Math.max(...views.map((v) => Date.parse(v.updatedAt)));
    const total = views.reduce((sum, v) => sum + v.sent, 0);
    if (total !== perSession * this.sessions)
      throw new Error(`sent ${total} of ${perSession * this.sessions}`);
    return total / ((lastSettledAt - firstSendAt) / 1000);
  }

  async stop(): Promise<void> {
    await this.platform.stop();
    await this.servers.dispose();
  }
}

export async function measureThroughput(
  sessions: number,
  messages: number,
  runs: number,
): Promise<ThroughputResult> {
  const pipeline = await PipelineUnderTest.start(sessions);
  try {
    const rates: number[] = [];
    for (let run = 0; run < runs; run++) {
      rates.push(await pipeline.run(messages));
      log(`throughput ${sessions} sessions run ${run + 1}: ${Math.round(rates.at(-1) ?? 0)} msg/s`);
    }
    return { sessions, messages: Math.ceil(messages / sessions) * sessions, messagesPerSecond: rates };
  } finally {
    await pipeline.stop();
  }
}

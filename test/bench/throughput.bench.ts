// End-to-end throughput of the whole pipeline: gateway POST /api/blasts -> SEND_WORK -> sender
// (idempotency claim, sim send, settle, event appended, ack) -> projector counters -> progress.
// Either one blast per session, all posted together, or one blast over the pool of every session;
// the clock runs from the first send in the sim outbox to the last blast's completion as the
// projection records it (the projector appends blast.completed when the last recipient settles).
// The CPU every process of the platform used over the same run is read from /proc.
import { writeFileSync } from "node:fs";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { SEND_WORK } from "../../shared/nats/topology.ts";
import { outbox } from "../harness/inspect.ts";
import type { Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import {
  cpuSecondsOfAll,
  log,
  pidOf,
  postJsonBlast,
  recipientsOf,
  serverPidOn,
  sessionIds,
  sleep,
  startBenchPlatform,
  waitForCompletion,
  waitForOpenSessions,
} from "./benchSupport.ts";

/** How the messages are posted: one blast per session, or one blast whose pool is every session. */
export type BlastShape = "separate" | "pool";

export interface RunFigures {
  readonly messages: number;
  readonly messagesPerSecond: number;
  /**
   * CPU milliseconds per message of each process of the platform, from just before the POSTs to
   * the bench seeing the last blast completed: the import of the work counts, and so does up to
   * one 200 ms completion poll of idle workers.
   */
  readonly cpuMsPerMessage: Readonly<Record<string, number>>;
  /** Messages each session sent, fewest first: how evenly a pool shared the work. */
  readonly sentPerSession: readonly number[];
}

export interface ThroughputResult {
  readonly sessions: number;
  readonly messages: number;
  /** One per run, in run order. */
  readonly separate: RunFigures[];
  /** One per run when the pool was measured too, on the same platform, alternating with `separate`. */
  readonly pool: RunFigures[];
}

export const totalCpuMsPerMessage = (run: RunFigures): number =>
  Object.values(run.cpuMsPerMessage).reduce((sum, ms) => sum + ms, 0);

/** The platform, with `sessions` sim sessions all open, kept for every run of one configuration. */
export class PipelineUnderTest {
  private constructor(
    readonly servers: Servers,
    readonly platform: Platform,
    readonly sessions: number,
    /** Every process whose CPU a run counts, by name. */
    readonly pids: Readonly<Record<string, number>>,
    private readonly nats: Nats,
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
    const pids: Record<string, number> = {
      gateway: pidOf(platform, "gateway"),
      projector: pidOf(platform, "projector"),
      sender: pidOf(platform, "sender"),
    };
    // The harness keeps the servers' child handles private; a server not found is left out and the
    // per-process figures show which were counted.
    const natsPid = serverPidOn(servers.nats.port);
    const redisPid = serverPidOn(servers.redis.port);
    if (natsPid !== undefined) pids["nats-server"] = natsPid;
    else log(`nats-server on port ${servers.nats.port} not found in /proc: its CPU is not counted`);
    if (redisPid !== undefined) pids["redis-server"] = redisPid;
    else log(`redis-server on port ${servers.redis.port} not found in /proc: its CPU is not counted`);
    const nats = await connectNats(servers.nats.url, "bench-throughput");
    return new PipelineUnderTest(servers, platform, sessions, pids, nats);
  }

  /** Sends `messages` spread over every session, as separate blasts or as one pooled blast. */
  async run(messages: number, shape: BlastShape = "separate"): Promise<RunFigures> {
    await this.untilWorkersIdle();
    writeFileSync(this.platform.outboxPath, "");
    const ids = sessionIds(this.sessions);
    const perSession = Math.ceil(messages / this.sessions);
    const expected = perSession * this.sessions;
    const cpuBefore = cpuSecondsOfAll(this.pids);
    const blastIds =
      shape === "pool"
        ? [await postJsonBlast(this.platform, ids, recipientsOf(expected))]
        : await Promise.all(ids.map((id) => postJsonBlast(this.platform, id, recipientsOf(perSession))));
    const views = await waitForCompletion(this.platform, blastIds, 600_000);
    const cpuAfter = cpuSecondsOfAll(this.pids);
    const lines = await outbox(this.platform.outboxPath);
    const firstSendAt = Math.min(...lines.map((l) => Date.parse(l.at)));
    const lastSettledAt = Math.max(...views.map((v) => Date.parse(v.updatedAt)));
    const total = views.reduce((sum, v) => sum + v.sent, 0);
    if (total !== expected) throw new Error(`sent ${total} of ${expected}`);
    // A lost or doubled send would still add up above; the outbox has one line per send.
    if (lines.length !== expected) throw new Error(`${lines.length} sends in the outbox for ${expected}`);
    const sentBy = new Map(ids.map((id) => [id, 0]));
    for (const line of lines) sentBy.set(line.sessionId, (sentBy.get(line.sessionId) ?? 0) + 1);
    const cpuMsPerMessage = Object.fromEntries(
      Object.keys(this.pids).map((name) => [
        name,
        (((cpuAfter[name] ?? Number.NaN) - (cpuBefore[name] ?? Number.NaN)) * 1000) / total,
      ]),
    );
    return {
      messages: total,
      messagesPerSecond: total / ((lastSettledAt - firstSendAt) / 1000),
      cpuMsPerMessage,
      sentPerSession: [...sentBy.values()].sort((a, b) => a - b),
    };
  }

  /**
   * A run starts on an idle platform, as each run of the peer does. Right after a blast completes,
   * the workers still wait out a last pull on it (up to 1 s) before they drop its consumer and go
   * back to polling for blasts: a run posted then would time that hand-over, not the sending.
   */
  private async untilWorkersIdle(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let consumers = 0;
      for await (const _ of this.nats.jsm.consumers.list(SEND_WORK)) consumers++;
      if (consumers === 0) return;
      if (Date.now() > deadline)
        throw new Error(`${consumers} send-work consumers left after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.nats.nc.close();
    await this.platform.stop();
    await this.servers.dispose();
  }
}

const describe = (r: RunFigures) =>
  `${Math.round(r.messagesPerSecond)} msg/s, ${totalCpuMsPerMessage(r).toFixed(3)} CPU ms/msg`;

/**
 * `runs` runs of one configuration on one platform, after a warm-up of each shape. With `pool`,
 * each run also sends the same messages as one blast over the pool of every session, the two
 * shapes alternating which goes first, so neither always gets the colder (or the more loaded)
 * platform.
 */
export async function measureThroughput(
  sessions: number,
  messages: number,
  runs: number,
  options: { pool?: boolean } = {},
): Promise<ThroughputResult> {
  const pipeline = await PipelineUnderTest.start(sessions);
  try {
    const separate: RunFigures[] = [];
    const pool: RunFigures[] = [];
    // Not counted: a fresh platform's first run pays for JIT compilation and the first connections,
    // which a running deployment (and the peer, in this warm process) has behind it.
    for (const shape of options.pool ? (["separate", "pool"] as const) : (["separate"] as const)) {
      log(
        `throughput ${sessions} sessions, warm-up (${shape}): ${describe(await pipeline.run(messages, shape))}`,
      );
    }
    for (let run = 0; run < runs; run++) {
      const order: BlastShape[] = !options.pool
        ? ["separate"]
        : run % 2 === 0
          ? ["separate", "pool"]
          : ["pool", "separate"];
      for (const shape of order) {
        const figures = await pipeline.run(messages, shape);
        (shape === "pool" ? pool : separate).push(figures);
        const label = shape === "pool" ? `one blast over a pool of ${sessions}` : `${sessions} sessions`;
        log(`throughput ${label}, run ${run + 1}: ${describe(figures)}`);
      }
    }
    return { sessions, messages: Math.ceil(messages / sessions) * sessions, separate, pool };
  } finally {
    await pipeline.stop();
  }
}

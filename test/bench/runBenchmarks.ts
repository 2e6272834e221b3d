// `make bench`: runs every benchmark against real nats-server and redis-server on this machine,
// takes the median of several runs, computes each comparison as a ratio of figures taken in this
// same run, checks them against the targets of issue 7, and writes test/bench/results/<date>.json
// and .md (and latest.json / latest.md).
// Usage: node --import tsx test/bench/runBenchmarks.ts [--only=<sections>] [--runs=<n>] [--sessions=<list>]
//   --only=ceiling,peer,throughput,pool,ingest,progress,api,sessions,failover,scale: `throughput` is the ceiling,
//     the BullMQ peer, the end-to-end runs and the pool comparison; `peer` all but the ceiling;
//     `pool` the pool comparison alone; `sessions` is both `sim` and `baileys`.
//   --runs=<n>: runs per figure (default 3); --sessions=1,10: only these end-to-end configurations.
// The same can be set as BENCH_ONLY, BENCH_RUNS and BENCH_SESSIONS (for `make bench`); arguments win.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { format } from "prettier";
import { measureApi, type ApiResult } from "./api.bench.ts";
import { log, median, round } from "./benchSupport.ts";
import { measureBullmqPeer } from "./bullmqPeer.bench.ts";
import { measureCeiling, measureClusterCeiling, type ClusterCeilingResult } from "./ceiling.bench.ts";
import {
  generateFiles,
  measureBaseline,
  measureIngest,
  removeFiles,
  type IngestBaseline,
  type IngestFormat,
  type IngestResult,
} from "./ingest.bench.ts";
import { measureProgressLatency, type ProgressLatencyResult } from "./progressLatency.bench.ts";
import { measureReplicaAcks, type ReplicaAcksRow } from "./replicaAcks.bench.ts";
import {
  measureBaileysSessions,
  measureSimSessions,
  type BaileysSessionsResult,
  type SenderMemory,
  type SimSessionsResult,
} from "./sessions.bench.ts";
import { measureThroughput, totalCpuMsPerMessage, type RunFigures } from "./throughput.bench.ts";
import { measureColdStart, measureScale, type ColdStartResult, type ScaleResult } from "./scale.bench.ts";
import { samplePayloadBytes } from "./benchSupport.ts";

/** `--name=value` on the command line, else the environment variable, else undefined. */
function option(name: string, envName: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg !== undefined ? arg.slice(name.length + 3) : process.env[envName];
}

const listOption = (name: string, envName: string): string[] =>
  (option(name, envName) ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

const DEFAULT_RUNS = 3;
const runsOption = Number(option("runs", "BENCH_RUNS") ?? DEFAULT_RUNS);
if (!Number.isInteger(runsOption) || runsOption < 1) throw new Error("--runs must be a whole number ≥ 1");

/** Sizes chosen so the whole suite stays under 15 minutes on a 2-core machine. */
const plan = {
  runs: runsOption,
  ceilingMessages: 50_000,
  /** [sessions, messages in total]: the same work for our pipeline and the BullMQ peer. */
  throughput: [
    [1, 1000],
    [10, 2000],
    [100, 4000],
  ] as const,
  /**
   * One blast over a pool of this many sessions against as many separate blasts, the same messages
   * in total, on one platform. 10,000 is the most a JSON POST takes; at 2,000 the sending took
   * ~0.3 s, less than the 0.5 s a worker may take to notice a new blast, and the ratio swung from
   * 0.6× to 1.7× between runs. (Measured on the end-to-end configuration's own platform when the
   * sizes match.)
   */
  pool: { sessions: 10, messages: 10_000 },
  ingestRows: [100_000, 1_000_000] as const,
  /** The 1M-row uploads take minutes each: one run. */
  ingestRunsFor: (rows: number) => (rows >= 1_000_000 ? 1 : 3),
  progressMessages: 600,
  progressSockets: 1000,
  apiSeconds: 6,
  simSessions: 500,
  /** Linked once with the fake's realistic history push and once without: ~3 minutes together. */
  baileysSessions: 100,
  idleSeconds: 10,
  /**
   * Many sessions over 4 sender processes (issue 16): one run per size, ~1.5 min each. A 6 s lease
   * TTL (the default is 15 s) keeps the kill short; renewals run every TTL/3, so the lease traffic
   * measured here is 2.5× what the default costs (docs/SCALING.md scales it).
   */
  scale: {
    sessions: [500, 1000, 2000] as const,
    senders: 4,
    leaseTtlMs: 6000,
    steadySeconds: 20,
    afterKillSeconds: 10,
    sampleEveryMs: 500,
    /** One sender first with every session, then 3 more: hand-over is one session a tick, so kept small (~70 s). */
    coldStartSessions: 40,
    coldStartTimeoutSeconds: 150,
  },
};

const targets = {
  vsPeer: 2,
  vsCeiling: 0.25,
  /** The issue sets the ceiling target for this many sessions; the others are reported only. */
  vsCeilingSessions: 100,
  poolVsSeparate: 1,
  ingestVsBound: 1.5,
  ingestPeakRssMb: 300,
  ingestConcurrentPeakRssMb: 450,
  ingestLagP99Ms: 50,
  progressP99Ms: 250,
  socketsCoreShare: 10,
  /** Half the ~40 MB per session WAHA users report, with history sync on. */
  baileysPerSessionMb: 20,
  /** Growth allowed in lease + presence messages per session from the smallest to the largest scale run. */
  scalePerSessionGrowth: 1.1,
};

interface Target {
  readonly what: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

const only = new Set(listOption("only", "BENCH_ONLY"));
const wanted = (name: string) => only.size === 0 || only.has(name);
const sessionsFilter = new Set(listOption("sessions", "BENCH_SESSIONS").map(Number));
const throughputPlan = plan.throughput.filter(
  ([sessions]) => sessionsFilter.size === 0 || sessionsFilter.has(sessions),
);
/**
 * Names a run that is not the whole suite as `make bench` runs it, e.g. "throughput.runs-1": its
 * results go to <date>.<selection>.json and leave <date>.json and latest.json to full runs.
 */
const selection = [
  only.size > 0 ? [...only].sort().join("+") : "",
  sessionsFilter.size > 0 ? `sessions-${[...sessionsFilter].join("+")}` : "",
  plan.runs !== DEFAULT_RUNS ? `runs-${plan.runs}` : "",
]
  .filter(Boolean)
  .join(".");
const resultsName = () =>
  selection === "" ? machine.date.slice(0, 10) : `${machine.date.slice(0, 10)}.${selection}`;

function version(command: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(command, args, { encoding: "utf8" }))?.[1] ?? "unknown";
  } catch {
    return "not installed";
  }
}

const startedAt = new Date();
const machine = {
  date: startedAt.toISOString(),
  cpuCount: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? "unknown",
  memoryGb: round(totalmem() / 1024 ** 3, 1),
  node: process.version,
  natsServer: version("nats-server", ["--version"], /v?(\d+\.\d+\.\d+)/),
  redisServer: version("redis-server", ["--version"], /v=(\d+\.\d+\.\d+)/),
  /** Anything else running on the machine skews every figure: the 1-minute load before and after. */
  loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
};
log(`machine: ${JSON.stringify(machine)}`);

const results: Record<string, unknown> = {
  machine,
  selection: selection === "" ? "all" : selection,
  plan: { ...plan, ingestRunsFor: "3 runs, 1 for 1M rows" },
};
const checks: Target[] = [];

/** A benchmark that fails is recorded as failed and the others still run and are written. */
async function guarded(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${name} failed: ${message}`);
    failures[name] = message.slice(0, 2000);
  }
  await writeResults();
}

const failures: Record<string, string> = {};

async function repeat<T>(runs: number, what: string, once: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let run = 1; run <= runs; run++) {
    log(`${what}: run ${run} of ${runs}`);
    out.push(await once());
  }
  return out;
}

let consumeAckCeiling = Number.NaN;
if (wanted("ceiling") || wanted("throughput")) {
  await guarded("ceiling", async () => {
    const runs = await repeat(plan.runs, "ceiling", () => measureCeiling(plan.ceilingMessages));
    consumeAckCeiling = median(runs.map((r) => r.consumeAckPerSecond));
    results.ceiling = {
      messages: plan.ceilingMessages,
      payloadBytes: samplePayloadBytes(),
      publishPerSecond: round(median(runs.map((r) => r.publishPerSecond))),
      consumeAckPerSecond: round(consumeAckCeiling),
      runs: runs.map((r) => ({
        publishPerSecond: round(r.publishPerSecond),
        consumeAckPerSecond: round(r.consumeAckPerSecond),
      })),
    };
  });
}

interface ThroughputRow {
  readonly sessions: number;
  readonly messages: number;
  readonly pipelinePerSecond: number;
  readonly bullmqPeerPerSecond: number;
  readonly consumeAckCeilingPerSecond: number;
  readonly vsPeer: number;
  readonly vsCeiling: number;
  /** Summed over gateway, projector, sender, nats-server and redis-server (median of the runs). */
  readonly cpuMsPerMessage: number;
  readonly cpuMsPerMessageByProcess: Readonly<Record<string, number>>;
  readonly peerCpuMsPerMessage: number;
  readonly peerCpuMsPerMessageByProcess: Readonly<Record<string, number>>;
  readonly pipelineRuns: readonly number[];
  readonly peerRuns: readonly number[];
}

/** The median of each process' CPU ms per message over `runs`, and their sum's median. */
function cpuOf(runs: ReadonlyArray<{ cpuMsPerMessage: Readonly<Record<string, number>> }>) {
  const names = Object.keys(runs[0]?.cpuMsPerMessage ?? {});
  const total = (r: { cpuMsPerMessage: Readonly<Record<string, number>> }) =>
    Object.values(r.cpuMsPerMessage).reduce((sum, ms) => sum + ms, 0);
  return {
    total: round(median(runs.map(total)), 3),
    byProcess: Object.fromEntries(
      names.map((name) => [name, round(median(runs.map((r) => r.cpuMsPerMessage[name] ?? Number.NaN)), 3)]),
    ),
  };
}

function poolRow(sessions: number, separate: readonly RunFigures[], pool: readonly RunFigures[]) {
  const poolRate = median(pool.map((r) => r.messagesPerSecond));
  const separateRate = median(separate.map((r) => r.messagesPerSecond));
  return {
    sessions,
    messages: pool[0]?.messages ?? 0,
    poolPerSecond: round(poolRate),
    separatePerSecond: round(separateRate),
    vsSeparate: round(poolRate / separateRate, 2),
    poolCpuMsPerMessage: round(median(pool.map(totalCpuMsPerMessage)), 3),
    separateCpuMsPerMessage: round(median(separate.map(totalCpuMsPerMessage)), 3),
    /** Fewest and most messages one account of the pool sent, over every run. */
    poolSentPerSessionMin: Math.min(...pool.map((r) => r.sentPerSession[0] ?? 0)),
    poolSentPerSessionMax: Math.max(...pool.map((r) => r.sentPerSession.at(-1) ?? 0)),
    poolRuns: pool.map((r) => round(r.messagesPerSecond)),
    separateRuns: separate.map((r) => round(r.messagesPerSecond)),
  };
}

function checkPool(row: ReturnType<typeof poolRow>): void {
  results.pool = row;
  checks.push({
    what: `one blast over a pool of ${row.sessions} vs ${row.sessions} separate blasts (${row.messages} messages, same platform)`,
    target: `≥ ${targets.poolVsSeparate}×`,
    measured: `${row.vsSeparate}× (${row.poolPerSecond} vs ${row.separatePerSecond} msg/s)`,
    met: row.vsSeparate >= targets.poolVsSeparate,
  });
}

const wantPool = wanted("throughput") || wanted("pool");
let poolMeasured = false;

if (wanted("throughput") || wanted("peer")) {
  await guarded("throughput", async () => {
    const rows: ThroughputRow[] = [];
    for (const [sessions, messages] of throughputPlan) {
      // Not counted, as the pipeline's warm-up run: the first run in this process compiles BullMQ's code.
      await measureBullmqPeer(sessions, messages);
      const peerRuns = await repeat(plan.runs, `BullMQ peer, ${sessions} sessions`, () =>
        measureBullmqPeer(sessions, messages),
      );
      const peer = median(peerRuns.map((r) => r.messagesPerSecond));
      const withPool = wantPool && sessions === plan.pool.sessions && messages === plan.pool.messages;
      const ours = await measureThroughput(sessions, messages, plan.runs, { pool: withPool });
      const pipeline = median(ours.separate.map((r) => r.messagesPerSecond));
      const cpu = cpuOf(ours.separate);
      const peerCpu = cpuOf(peerRuns);
      const row: ThroughputRow = {
        sessions,
        messages: ours.messages,
        pipelinePerSecond: round(pipeline),
        bullmqPeerPerSecond: round(peer),
        consumeAckCeilingPerSecond: round(consumeAckCeiling),
        vsPeer: round(pipeline / peer, 2),
        vsCeiling: round(pipeline / consumeAckCeiling, 4),
        cpuMsPerMessage: cpu.total,
        cpuMsPerMessageByProcess: cpu.byProcess,
        peerCpuMsPerMessage: peerCpu.total,
        peerCpuMsPerMessageByProcess: peerCpu.byProcess,
        pipelineRuns: ours.separate.map((r) => round(r.messagesPerSecond)),
        peerRuns: peerRuns.map((r) => round(r.messagesPerSecond)),
      };
      rows.push(row);
      results.throughput = rows;
      const label = `end-to-end, ${sessions} session${sessions === 1 ? "" : "s"}`;
      checks.push({
        what: `${label}, vs BullMQ peer`,
        target: `≥ ${targets.vsPeer}×`,
        measured: `${row.vsPeer}× (${row.pipelinePerSecond} vs ${row.bullmqPeerPerSecond} msg/s)`,
        met: row.vsPeer >= targets.vsPeer,
      });
      // `--only=peer` leaves the ceiling out: nothing to compare with.
      if (sessions === targets.vsCeilingSessions && Number.isFinite(consumeAckCeiling)) {
        checks.push({
          what: `${label}, vs consume+ack ceiling`,
          target: `≥ ${targets.vsCeiling * 100}%`,
          measured: `${round(row.vsCeiling * 100, 1)}% (${row.pipelinePerSecond} vs ${row.consumeAckCeilingPerSecond} msg/s)`,
          met: row.vsCeiling >= targets.vsCeiling,
        });
      }
      if (withPool) {
        checkPool(poolRow(sessions, ours.separate, ours.pool));
        poolMeasured = true;
      }
      // A configuration's figures are kept even if a later one fails.
      await writeResults();
    }
  });
}

// Asked for alone, or its configuration was filtered out of the end-to-end runs: a platform of its own.
if (wantPool && !poolMeasured) {
  await guarded("pool", async () => {
    const { sessions, messages } = plan.pool;
    const ours = await measureThroughput(sessions, messages, plan.runs, { pool: true });
    checkPool(poolRow(sessions, ours.separate, ours.pool));
  });
}

/** The ingest target every import is held to: the gateway keeps answering while it runs. */
function loopLagCheck(
  label: string,
  row: { healthProbeP99Ms: number; eventLoopLagP99Ms: number; eventLoopLagMaxMs: number; error?: string },
) {
  return {
    what: `${label}: event-loop delay p99 (health probe / prom-client)`,
    target: `≤ ${targets.ingestLagP99Ms} ms`,
    measured: `${row.healthProbeP99Ms} ms / ${row.eventLoopLagP99Ms} ms (max ${row.eventLoopLagMaxMs} ms)`,
    met: !row.error && Math.max(row.healthProbeP99Ms, row.eventLoopLagP99Ms) <= targets.ingestLagP99Ms,
  };
}

/** A table row from a single ingest measurement (no parse + publish bound to compare with). */
function oneRunRow(rows: number, format: string, result: IngestResult) {
  return {
    rows,
    format,
    runs: 1,
    seconds: round(result.seconds, 2),
    peakRssMb: round(result.peakRssMb),
    healthProbeP99Ms: round(result.probeP99Ms),
    healthProbeMaxMs: round(result.probeMaxMs),
    eventLoopLagP99Ms: round(result.eventLoopLagP99Ms),
    eventLoopLagMaxMs: round(result.eventLoopLagMaxMs),
    error: result.error,
  };
}

if (wanted("ingest")) {
  await guarded("ingest", async () => {
    const rows = [];
    for (const count of plan.ingestRows) {
      log(`ingest: generating ${count} rows`);
      const files = await generateFiles(count);
      try {
        const baseline: IngestBaseline = await measureBaseline(files);
        for (const format of ["csv", "xlsx"] as IngestFormat[]) {
          const runs: IngestResult[] = await repeat(
            plan.ingestRunsFor(count),
            `ingest ${count} ${format}`,
            () => measureIngest(files, format),
          );
          const seconds = median(runs.map((r) => r.seconds));
          const bound = baseline.parseSeconds[format] + baseline.rawPublishSeconds;
          const row = {
            rows: count,
            format,
            runs: runs.length,
            seconds: round(seconds, 2),
            parseSeconds: round(baseline.parseSeconds[format], 2),
            rawPublishSeconds: round(baseline.rawPublishSeconds, 2),
            vsParsePlusPublish: round(seconds / bound, 2),
            peakRssMb: round(median(runs.map((r) => r.peakRssMb))),
            healthProbeP99Ms: round(median(runs.map((r) => r.probeP99Ms))),
            healthProbeMaxMs: round(median(runs.map((r) => r.probeMaxMs))),
            eventLoopLagP99Ms: round(median(runs.map((r) => r.eventLoopLagP99Ms))),
            eventLoopLagMaxMs: round(median(runs.map((r) => r.eventLoopLagMaxMs))),
            generateSeconds: round(files.generateSeconds[format], 1),
            error: runs.find((r) => r.error !== undefined)?.error,
          };
          rows.push(row);
          const label = `ingest ${count.toLocaleString("en-US")} rows .${format}`;
          if (count >= 1_000_000) {
            checks.push({
              what: `${label}: time to durable vs parse + raw publish`,
              target: `≤ ${targets.ingestVsBound}×`,
              measured: row.error
                ? `failed after ${row.seconds} s (${row.error}); bound ${round(bound, 1)} s`
                : `${row.vsParsePlusPublish}× (${row.seconds} s vs ${round(bound, 1)} s)`,
              met: !row.error && row.vsParsePlusPublish <= targets.ingestVsBound,
            });
          }
          checks.push({
            what: `${label}: gateway peak RSS`,
            target: `≤ ${targets.ingestPeakRssMb} MB`,
            measured: `${row.peakRssMb} MB${row.error ? " (up to the failure)" : ""}`,
            met: !row.error && row.peakRssMb <= targets.ingestPeakRssMb,
          });
          checks.push(loopLagCheck(label, row));
        }
        if (count >= 1_000_000) {
          // The console's preview of the same file: read and planned, nothing queued.
          const preview = oneRunRow(
            count,
            "csv preview",
            await measureIngest(files, "csv", {}, 1, "preview"),
          );
          rows.push(preview);
          checks.push({
            what: `preview of a ${count.toLocaleString("en-US")}-row .csv: gateway peak RSS`,
            target: `≤ ${targets.ingestPeakRssMb} MB`,
            measured: `${preview.peakRssMb} MB${preview.error ? ` (failed: ${preview.error})` : ""}`,
            met: !preview.error && preview.peakRssMb <= targets.ingestPeakRssMb,
          });
          // Two users uploading their big lists at the same moment, to one gateway.
          const row = oneRunRow(count, "csv ×2 at once", await measureIngest(files, "csv", {}, 2));
          rows.push(row);
          const label = `ingest two ${count.toLocaleString("en-US")}-row .csv at once`;
          checks.push({
            what: `${label}: gateway peak RSS`,
            target: `≤ ${targets.ingestConcurrentPeakRssMb} MB`,
            measured: `${row.peakRssMb} MB${row.error ? ` (failed: ${row.error})` : ""}`,
            met: !row.error && row.peakRssMb <= targets.ingestConcurrentPeakRssMb,
          });
          checks.push(loopLagCheck(label, row));
        }
      } finally {
        await removeFiles(files);
      }
    }
    results.ingest = rows;
  });
}

if (wanted("progress")) {
  await guarded("progress", async () => {
    const runs: ProgressLatencyResult[] = await repeat(plan.runs, "progress latency", () =>
      measureProgressLatency(plan.progressMessages, plan.progressSockets),
    );
    const socketsCost = runs.map((r) => r.gatewayCoreShareManySockets - r.gatewayCoreShareOneSocket);
    const row = {
      messages: plan.progressMessages,
      sockets: plan.progressSockets,
      p50Ms: round(median(runs.map((r) => r.p50Ms))),
      p99Ms: round(median(runs.map((r) => r.p99Ms))),
      gatewayCoreShareOneSocket: round(median(runs.map((r) => r.gatewayCoreShareOneSocket)), 1),
      gatewayCoreShareManySockets: round(median(runs.map((r) => r.gatewayCoreShareManySockets)), 1),
      socketsCostCoreShare: round(median(socketsCost), 1),
    };
    results.progress = row;
    checks.push({
      what: "progress: send → blast_progress on a WebSocket, p99",
      target: `≤ ${targets.progressP99Ms} ms`,
      measured: `${row.p99Ms} ms (p50 ${row.p50Ms} ms)`,
      met: row.p99Ms <= targets.progressP99Ms,
    });
    checks.push({
      what: `progress: gateway CPU for ${plan.progressSockets} sockets on one blast`,
      target: `< ${targets.socketsCoreShare}% of a core`,
      measured: `${row.socketsCostCoreShare}% (${row.gatewayCoreShareManySockets}% vs ${row.gatewayCoreShareOneSocket}% with one socket)`,
      met: row.socketsCostCoreShare < targets.socketsCoreShare,
    });
  });
}

if (wanted("api")) {
  await guarded("api", async () => {
    const runs: ApiResult[] = await repeat(plan.runs, "api", () => measureApi(plan.apiSeconds));
    const summarize = (pick: (r: ApiResult) => ApiResult["getBlast"]) => ({
      route: pick(runs[0] as ApiResult).route,
      connections: pick(runs[0] as ApiResult).connections,
      requestsPerSecond: round(median(runs.map((r) => pick(r).requestsPerSecond)), 1),
      p50Ms: round(median(runs.map((r) => pick(r).p50Ms))),
      p99Ms: round(median(runs.map((r) => pick(r).p99Ms))),
      non2xx: runs.reduce((sum, r) => sum + pick(r).non2xx, 0),
    });
    results.api = [summarize((r) => r.getBlast), summarize((r) => r.postBlast)];
  });
}

if (wanted("sessions") || wanted("sim")) {
  await guarded("simSessions", async () => {
    const sim: SimSessionsResult = await measureSimSessions(plan.simSessions, plan.idleSeconds);
    results.simSessions = { ...sim, rssMb: round(sim.rssMb), idleCoreShare: round(sim.idleCoreShare, 1) };
  });
}

if (wanted("cluster")) {
  await guarded("clusterCeiling", async () => {
    const rows = [];
    for (const replicas of [1, 3]) {
      const runs = await repeat(plan.runs, `cluster ceiling R${replicas}`, () =>
        measureClusterCeiling(plan.ceilingMessages, replicas),
      );
      rows.push({
        replicas,
        messages: plan.ceilingMessages,
        publishPerSecond: Math.round(median(runs.map((r) => r.publishPerSecond))),
        consumeAckPerSecond: Math.round(median(runs.map((r) => r.consumeAckPerSecond))),
      });
    }
    results.clusterCeiling = rows;
  });
}

if (wanted("failover")) {
  await guarded("replicaAcks", async () => {
    results.replicaAcks = await measureReplicaAcks();
  });
}

if (wanted("scale")) {
  const rows: ScaleResult[] = [];
  for (const sessions of plan.scale.sessions) {
    await guarded(`scale-${sessions}`, async () => {
      log(`scale: ${sessions} sim sessions over ${plan.scale.senders} senders`);
      const row = await measureScale({ ...plan.scale, sessions });
      rows.push(row);
      results.scale = rows;
      const label = `${sessions} sim sessions over ${row.senders} senders`;
      checks.push({
        what: `${label}: moments a session was held by two senders / by none (from the spread on, before the kill: ${row.steady.samples} samples; exact overlaps over the run)`,
        target: "0 / 0 (0 overlaps)",
        measured: `${row.steady.momentsOwnedTwice} / ${row.steady.momentsOwnedByNone} (${row.overlapsWholeRun} overlaps)`,
        met:
          row.steady.momentsOwnedTwice === 0 &&
          row.steady.momentsOwnedByNone === 0 &&
          row.overlapsWholeRun === 0,
      });
      checks.push({
        what: `${label}: SIGKILL one sender → its ${row.kill.sessionsOfKilled} sessions open elsewhere`,
        target: `≤ LEASE_TTL_MS + 5 s = ${row.kill.budgetSeconds} s`,
        measured: `${row.kill.allOpenElsewhereSeconds} s (p50 ${row.kill.openElsewhereP50Seconds} s)`,
        met: row.kill.met,
      });
    });
  }
  await guarded("scaleColdStart", async () => {
    const { coldStartSessions, coldStartTimeoutSeconds, senders, leaseTtlMs } = plan.scale;
    log(`scale: cold start, ${coldStartSessions} sessions, one sender first then ${senders - 1} more`);
    results.scaleColdStart = await measureColdStart({
      sessions: coldStartSessions,
      senders,
      leaseTtlMs,
      timeoutSeconds: coldStartTimeoutSeconds,
    });
  });
  const first = rows[0];
  const last = rows.at(-1);
  if (first && last && first !== last) {
    const growth = last.traffic.msgsPerSecondPerSession / first.traffic.msgsPerSecondPerSession;
    checks.push({
      what: `lease + presence NATS messages per session per second, ${first.sessions} → ${last.sessions} sessions (steady, 4 senders)`,
      target: `flat or falling (≤ ${targets.scalePerSessionGrowth}×)`,
      measured: `${first.traffic.msgsPerSecondPerSession} → ${last.traffic.msgsPerSecondPerSession} (${round(growth, 2)}×)`,
      met: growth <= targets.scalePerSessionGrowth,
    });
  }
  await writeResults();
}

function baileysRow(r: BaileysSessionsResult) {
  const memory = (m: SenderMemory) => ({
    rssMb: round(m.rssMb),
    heapUsedMb: round(m.heapUsedMb),
    externalMb: round(m.externalMb),
  });
  return {
    sessions: r.sessions,
    history: r.history,
    before: memory(r.before),
    after: memory(r.after),
    peakRssMb: round(r.peakRssMb),
    rssPerSessionMb: round(r.rssPerSessionMb, 1),
    heapUsedPerSessionMb: round(r.heapUsedPerSessionMb, 1),
    externalPerSessionMb: round((r.after.externalMb - r.before.externalMb) / r.sessions, 1),
    wholeProcessPerSessionMb: round(r.after.rssMb / r.sessions, 1),
    historyChunksPushed: r.historyChunksPushed,
    historyChunksConfirmed: r.historyChunksConfirmed,
    linkSeconds: round(r.linkSeconds),
    idleCoreShare: round(r.idleCoreShare, 1),
  };
}
type BaileysRow = ReturnType<typeof baileysRow>;

if (wanted("sessions") || wanted("baileys")) {
  await guarded("baileysSessions", async () => {
    const row = baileysRow(
      await measureBaileysSessions(plan.baileysSessions, plan.idleSeconds, { history: true }),
    );
    results.baileysSessions = row;
    checks.push({
      what: `RSS per real Baileys session, ${row.sessions} in one sender, realistic history sync pushed to each`,
      target: `≤ ${targets.baileysPerSessionMb} MB`,
      measured:
        `${row.rssPerSessionMb} MB ((${row.after.rssMb} − ${row.before.rssMb} MB) / ${row.sessions}); ` +
        `heap ${row.heapUsedPerSessionMb} MB, Buffers ${row.externalPerSessionMb} MB`,
      met: row.rssPerSessionMb <= targets.baileysPerSessionMb,
    });
  });
  await guarded("baileysSessionsNoHistory", async () => {
    results.baileysSessionsNoHistory = baileysRow(
      await measureBaileysSessions(plan.baileysSessions, plan.idleSeconds, { history: false }),
    );
  });
}

function markdown(): string {
  const lines: string[] = [];
  lines.push(`# Benchmark results, ${machine.date.slice(0, 10)}`, "");
  lines.push(
    `${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryGb} GB; Node ${machine.node}, ` +
      `nats-server ${machine.natsServer}, redis-server ${machine.redisServer}. ` +
      `${plan.runs === 1 ? "One run each" : `Medians of ${plan.runs} runs`}${selection === "" ? "" : ` (selection: ${selection})`}` +
      `${wanted("ingest") ? " (1M-row ingest: 1 run)" : ""}; the suite took ${results.wallSeconds as number} s; ` +
      `1-minute load average ${machine.loadAverageAtStart} at the start, ${results.loadAverageAtEnd as number} at the end.`,
    "",
  );
  lines.push("## Targets", "", "| what | target | measured | met |", "| --- | --- | --- | --- |");
  for (const c of checks)
    lines.push(`| ${c.what} | ${c.target} | ${c.measured} | ${c.met ? "yes" : "**no**"} |`);
  const ceiling = results.ceiling as
    { publishPerSecond: number; consumeAckPerSecond: number; payloadBytes: number } | undefined;
  if (ceiling) {
    lines.push("", "## JetStream ceiling", "");
    lines.push(
      `Payload ${ceiling.payloadBytes} bytes (a send-work message), file storage, work-queue stream.`,
      "",
    );
    lines.push("| async publish msg/s | consume + ack msg/s |", "| --- | --- |");
    lines.push(`| ${ceiling.publishPerSecond} | ${ceiling.consumeAckPerSecond} |`);
  }
  const throughput = results.throughput as ThroughputRow[] | undefined;
  if (throughput) {
    lines.push("", "## End-to-end throughput (sim, zero latency, pacing off)", "");
    lines.push(
      "| sessions | messages | pipeline msg/s | BullMQ peer msg/s | vs peer | vs consume+ack ceiling | pipeline CPU ms/msg | peer CPU ms/msg |",
    );
    lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of throughput) {
      lines.push(
        `| ${r.sessions} | ${r.messages} | ${r.pipelinePerSecond} | ${r.bullmqPeerPerSecond} | ${r.vsPeer}× | ${round(r.vsCeiling * 100, 1)}% | ${r.cpuMsPerMessage} | ${r.peerCpuMsPerMessage} |`,
      );
    }
    const names = [...new Set(throughput.flatMap((r) => Object.keys(r.cpuMsPerMessageByProcess)))];
    lines.push(
      "",
      "CPU milliseconds per message by process (utime + stime from `/proc/<pid>/stat`, from just before the POSTs " +
        "until the last blast is seen completed; the peer: its process, queueing and working, and its redis-server):",
      "",
      `| sessions | ${names.join(" | ")} | total | peer: ${Object.keys(throughput[0]?.peerCpuMsPerMessageByProcess ?? {}).join(" + ")} |`,
      `| --- | ${names.map(() => "---").join(" | ")} | --- | --- |`,
    );
    for (const r of throughput) {
      const peerParts = Object.values(r.peerCpuMsPerMessageByProcess).join(" + ");
      lines.push(
        `| ${r.sessions} | ${names.map((n) => r.cpuMsPerMessageByProcess[n] ?? "–").join(" | ")} | ${r.cpuMsPerMessage} | ${peerParts} |`,
      );
    }
  }
  const pool = results.pool as ReturnType<typeof poolRow> | undefined;
  if (pool) {
    lines.push("", `## One blast over a pool of ${pool.sessions} vs ${pool.sessions} separate blasts`, "");
    lines.push(
      `${pool.messages} messages in total either way, on one platform, the two alternating run by run.`,
      "",
      "| shape | msg/s | runs | CPU ms/msg | messages per account |",
      "| --- | --- | --- | --- | --- |",
      `| one pooled blast | ${pool.poolPerSecond} | ${pool.poolRuns.join(", ")} | ${pool.poolCpuMsPerMessage} | ${pool.poolSentPerSessionMin}–${pool.poolSentPerSessionMax} |`,
      `| ${pool.sessions} separate blasts | ${pool.separatePerSecond} | ${pool.separateRuns.join(", ")} | ${pool.separateCpuMsPerMessage} | ${pool.messages / pool.sessions} |`,
    );
  }
  const ingest = results.ingest as Array<Record<string, number | string>> | undefined;
  if (ingest) {
    lines.push("", "## Ingest (POST /api/blasts with a file, until the 202: all work durable)", "");
    lines.push(
      "| rows | format | runs | seconds | parse s | raw publish s | vs parse+publish | gateway peak RSS MB | /healthz p99 ms | loop lag p99 / max ms |",
    );
    lines.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const r of ingest) {
      lines.push(
        `| ${r.rows} | ${r.format} | ${r.runs} | ${r.error ? `failed after ${r.seconds} (${r.error})` : r.seconds} | ${r.parseSeconds ?? "–"} | ${r.rawPublishSeconds ?? "–"} | ${r.vsParsePlusPublish === undefined ? "–" : `${r.vsParsePlusPublish}×`} | ${r.peakRssMb} | ${r.healthProbeP99Ms} | ${r.eventLoopLagP99Ms} / ${r.eventLoopLagMaxMs} |`,
      );
    }
  }
  const progress = results.progress as Record<string, number> | undefined;
  if (progress) {
    lines.push("", "## Progress latency", "");
    lines.push(
      "| p50 ms | p99 ms | gateway CPU, 1 socket | gateway CPU, 1,000 sockets | cost of the sockets |",
    );
    lines.push("| --- | --- | --- | --- | --- |");
    lines.push(
      `| ${progress.p50Ms} | ${progress.p99Ms} | ${progress.gatewayCoreShareOneSocket}% | ${progress.gatewayCoreShareManySockets}% | ${progress.socketsCostCoreShare}% of a core |`,
    );
  }
  const api = results.api as Array<Record<string, number | string>> | undefined;
  if (api) {
    lines.push("", "## API (autocannon)", "", "| route | connections | req/s | p50 ms | p99 ms | non-2xx |");
    lines.push("| --- | --- | --- | --- | --- | --- |");
    for (const r of api)
      lines.push(
        `| ${r.route} | ${r.connections} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.non2xx} |`,
      );
  }
  const sim = results.simSessions as Record<string, number> | undefined;
  const baileysRows = [results.baileysSessions, results.baileysSessionsNoHistory].filter(
    (r): r is BaileysRow => r !== undefined,
  );
  if (sim || baileysRows.length > 0) {
    lines.push("", "## Sessions (one sender)", "");
    if (sim)
      lines.push(
        `- ${sim.sessions} sim sessions: RSS ${sim.rssMb} MB, idle CPU ${sim.idleCoreShare}% of a core.`,
      );
    if (baileysRows.length > 0) {
      if (sim) lines.push("");
      lines.push(
        "Real Baileys sessions linked by QR against the fake WhatsApp server; memory after a forced GC, " +
          "before = the sender with no session; per session = (after − before) / sessions; " +
          `target ≤ ${targets.baileysPerSessionMb} MB per session with history sync on.`,
        "",
        "| sessions | history sync | chunks confirmed | RSS before → after MB | RSS per session MB | heap per session MB | Buffers per session MB | peak RSS MB | link + history s | idle CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      );
      for (const r of baileysRows) {
        lines.push(
          `| ${r.sessions} | ${r.history ? "realistic" : "none"} | ${r.historyChunksConfirmed} / ${r.historyChunksPushed} | ` +
            `${r.before.rssMb} → ${r.after.rssMb} | ${r.rssPerSessionMb} | ${r.heapUsedPerSessionMb} | ${r.externalPerSessionMb} | ` +
            `${r.peakRssMb} | ${r.linkSeconds} | ${r.idleCoreShare}% |`,
        );
      }
    }
  }
  const scale = results.scale as ScaleResult[] | undefined;
  if (scale) lines.push(...scaleMarkdown(scale));
  const cold = results.scaleColdStart as ColdStartResult | undefined;
  if (cold) {
    lines.push(
      "",
      `### Cold start: one sender first, then ${cold.senders - 1} more (${cold.sessions} sessions, same SESSION_IDS for all)`,
      "",
      `The first sender alone held every session after ${cold.firstAloneSeconds} s. With the others started, the spread was ` +
        `even (${cold.heldPerSender.join(" / ")}) after ${Number.isNaN(cold.balanceSeconds) ? "more than the timeout" : `${cold.balanceSeconds} s`}: ` +
        `${cold.handovers} hand-overs (a sender over its share gives its surplus back in one ${cold.tickMs} ms supervisor tick). Sampled while balancing: ` +
        `${cold.balancing.momentsOwnedTwice} of ${cold.balancing.samples} moments with a session held twice (${cold.overlaps} exact overlaps), ` +
        `${cold.balancing.momentsOwnedByNone} with a session held by nobody (at most ${cold.balancing.maxOwnedByNone} at once: those being handed over).`,
    );
  }
  const failed = Object.entries(failures);
  if (failed.length > 0) {
    lines.push("", "## Benchmarks that failed in this run", "");
    for (const [name, message] of failed)
      lines.push(`- ${name}: ${message.split("\n")[0]?.slice(0, 300) ?? ""}`);
  }
  const clusterCeiling = results.clusterCeiling as ClusterCeilingResult[] | undefined;
  if (clusterCeiling) {
    lines.push("", "## JetStream ceiling on a 3-node cluster (all nodes on this machine)", "");
    lines.push("| stream replicas | async publish msg/s | consume + ack msg/s |", "| --- | --- | --- |");
    for (const r of clusterCeiling)
      lines.push(`| R${r.replicas} | ${r.publishPerSecond} | ${r.consumeAckPerSecond} |`);
  }
  const replicaAcks = results.replicaAcks as ReplicaAcksRow[] | undefined;
  if (replicaAcks) {
    lines.push("", "## Redis replica acks (claim + settle per batch, primary + one replica)", "");
    lines.push(
      "| batch | replica acks | recipients/s | batch p50 ms | batch p99 ms |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const r of replicaAcks) {
      lines.push(`| ${r.batch} | ${r.replicas} | ${r.recipientsPerSecond} | ${r.p50Ms} | ${r.p99Ms} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function scaleMarkdown(rows: readonly ScaleResult[]): string[] {
  const ttl = rows[0]?.leaseTtlMs ?? 0;
  const t = (x: {
    inMsgsPerSecond: number;
    outMsgsPerSecond: number;
    inBytesPerSecond: number;
    outBytesPerSecond: number;
  }) =>
    `${x.inMsgsPerSecond} / ${x.outMsgsPerSecond} msg/s, ${round(x.inBytesPerSecond / 1024, 1)} / ${round(x.outBytesPerSecond / 1024, 1)} KB/s`;
  const lines = [
    "",
    `## Many sessions (sim, ${rows[0]?.senders ?? 4} sender processes, LEASE_TTL_MS ${ttl})`,
    "",
    "Senders started first with no session, then the gateway with SESSION_IDS listing all of them. " +
      "Ownership sampled every 0.5 s from the senders' logs (held from `session acquired` to `session stopping`) " +
      "and from a watch on `session_leases` (a lease is live while its last write is a PUT younger than the TTL). " +
      "Traffic from nats-server's /connz and /varz over the window, no blast running.",
    "",
    "| sessions | SESSION_IDS bytes | gateway start s | spread s | held per sender | sender RSS MB | samples from the spread to the kill: twice / none / leaseless | overlaps (whole run) | killed sender's sessions | all leased elsewhere s | all open elsewhere s (p50) | budget s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows)
    lines.push(
      `| ${r.sessions} | ${r.sessionIdsBytes} | ${r.gatewayStartSeconds} | ${r.spreadSeconds} | ${r.heldPerSender.join(" / ")} | ${r.senderRssMb.join(" / ")} | ` +
        `${r.steady.samples}: ${r.steady.momentsOwnedTwice} / ${r.steady.momentsOwnedByNone} / ${r.steady.momentsLeaseless} | ${r.overlapsWholeRun} | ` +
        `${r.kill.sessionsOfKilled} | ${r.kill.allReleasedSeconds} | ${r.kill.allOpenElsewhereSeconds} (${r.kill.openElsewhereP50Seconds}) | ${r.kill.budgetSeconds} |`,
    );
  lines.push(
    "",
    "Lease and presence traffic, steady state (in = published by clients, out = delivered to them):",
    "",
    "| sessions | senders | state | senders' connections in / out | whole server (minus the benchmark's watch) in / out | lease writes/s | presence writes/s | other sender requests/s | msgs/s per session | bytes/s per session | CPU % of a core: nats-server / redis / senders | Redis commands/s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const r of rows)
    for (const [state, w] of [
      ["4 senders, first TTL + 4 s after the spread", r.afterSpread],
      ["4 senders", r.traffic],
      [`after the kill, held ${r.afterKill.heldPerSender.join(" / ")}`, r.afterKill.traffic],
    ] as const)
      lines.push(
        `| ${w.sessions} | ${w.senders} | ${state} | ${t(w.senderConnections)} | ${t(w.serverMinusBench)} | ${w.leaseWritesPerSecond} | ${w.presenceWritesPerSecond} | ${w.otherSenderRequestsPerSecond} | ` +
          `${w.msgsPerSecondPerSession} | ${w.bytesPerSecondPerSession} | ${w.natsCoreShare} / ${w.redisCoreShare} / ${w.sendersCoreShare.join(", ")} | ${w.redisCommandsPerSecond} |`,
      );
  return lines;
}

/** Written after every benchmark too, so a run cut short still leaves its figures. */
async function writeResults(): Promise<void> {
  results.targets = checks;
  results.failures = failures;
  results.wallSeconds = round((Date.now() - startedAt.getTime()) / 1000);
  results.loadAverageAtEnd = round(loadavg()[0] ?? 0, 2);
  const dir = new URL("./results/", import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  // Formatted as `make check` expects every file in the repository to be.
  const json = await format(JSON.stringify(results), { parser: "json" });
  const md = await format(markdown(), { parser: "markdown" });
  writeFileSync(`${dir}${resultsName()}.json`, json);
  writeFileSync(`${dir}${resultsName()}.md`, md);
  if (selection === "") {
    writeFileSync(`${dir}latest.json`, json);
    writeFileSync(`${dir}latest.md`, md);
  }
}

await writeResults();
process.stdout.write(markdown());
log(`wrote test/bench/results/${resultsName()}.json and .md in ${results.wallSeconds as number} s`);

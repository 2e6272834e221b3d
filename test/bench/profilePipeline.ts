// Not part of `make bench`: runs the end-to-end pipeline with every service profiled (the
// inspector's CPU profiler, as `--cpu-prof` would) and prints each process' share of a core and
// CPU ms per message while it sends, the top self-time frames, self time per package or file, and
// each sample charged to the innermost function of ours on its stack: the evidence
// docs/PERFORMANCE.md quotes where a target is missed. A first run warms the JIT and the
// connections and is left out: only samples inside the second run's window count (V8 stamps them
// on CLOCK_MONOTONIC, the clock of this process' hrtime).
// Usage: node --import tsx test/bench/profilePipeline.ts [sessions] [messages] [separate|pool]
//        node --import tsx test/bench/profilePipeline.ts ingest [rows] (the gateway importing a .csv and an .xlsx)
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuSecondsOfAll } from "./benchSupport.ts";
import { generateFiles, measureIngest, removeFiles } from "./ingest.bench.ts";
import { PipelineUnderTest, totalCpuMsPerMessage, type BlastShape } from "./throughput.bench.ts";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Microseconds on the monotonic clock V8's profiler stamps its samples with. */
const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

const repoRoot = new URL("../../", import.meta.url).pathname;

/** Where a frame's code lives: the npm package, the repository file, or V8's own pseudo-frames. */
function sourceOf(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith("node:")) return url;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  return url.replace(/^file:\/\//, "").replace(repoRoot, "");
}

interface SelfTime {
  readonly frames: Array<{ frame: string; share: number }>;
  readonly sources: Array<{ source: string; share: number }>;
  /** Each sample charged to the innermost function of ours on its stack: what our code costs. */
  readonly ownCallers: Array<{ caller: string; micros: number }>;
  readonly sampledMs: number;
}

const isOwnCode = (url: string): boolean =>
  url.startsWith(`file://${repoRoot}`) && !url.includes("/node_modules/") && !url.includes("/test/");

function selfTime(profile: CpuProfile, count: number, window?: readonly [number, number]): SelfTime {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFrame = new Map<string, number>();
  const bySource = new Map<string, number>();
  const byOwnCaller = new Map<string, number>();
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const ownCallerOf = (id: number, source: string): string => {
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byNode.get(at)?.callFrame;
      if (frame && isOwnCode(frame.url))
        return `${frame.functionName || "(anonymous)"} ${frame.url.slice(`file://${repoRoot}`.length)}:${frame.lineNumber + 1}`;
    }
    return `${source} (nothing of ours on the stack)`;
  };
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const node = byNode.get(id);
    if (!node || (window && (at < window[0] || at > window[1]))) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const source = sourceOf(url, functionName);
    const file = url.replace(/^.*\//, "");
    const frame = `${functionName || "(anonymous)"} ${source === file ? "" : `${source} `}${file}:${lineNumber + 1}`;
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + delta);
    bySource.set(source, (bySource.get(source) ?? 0) + delta);
    const caller = ownCallerOf(id, source);
    byOwnCaller.set(caller, (byOwnCaller.get(caller) ?? 0) + delta);
    total += delta;
  });
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, micros]) => [name, Math.round((micros / total) * 1000) / 10] as const);
  return {
    frames: top(byFrame).map(([frame, share]) => ({ frame, share })),
    sources: top(bySource).map(([source, share]) => ({ source, share })),
    ownCallers: [...byOwnCaller.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([caller, micros]) => ({ caller, micros })),
    sampledMs: Math.round(total / 1000),
  };
}

const profileDir = mkdtempSync(join(tmpdir(), "wa-blast-cpuprof-"));
const profileEnv = {
  NODE_OPTIONS: `--import ${new URL("./cpuProfilePreload.mjs", import.meta.url).pathname}`,
  CPU_PROFILE_DIR: profileDir,
};

function printProfiles(
  labels: Record<number, string>,
  window?: readonly [number, number],
  messages?: number,
): void {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile;
    const pid = Number(file.split(".")[0]);
    // Idle samples are wall time, not CPU: the shares below are of the time the process was busy.
    const { frames, sources, ownCallers, sampledMs } = selfTime(profile, 25, window);
    console.log(`\n${labels[pid] ?? "?"} (${file}, ${sampledMs} ms sampled)`);
    for (const { frame, share } of frames) console.log(`  ${share}%  ${frame}`);
    console.log("  by package or file:");
    for (const { source, share } of sources.slice(0, 15)) console.log(`    ${share}%  ${source}`);
    if (messages !== undefined) {
      console.log("  by the innermost function of ours on the stack, CPU ms per message:");
      for (const { caller, micros } of ownCallers.slice(0, 15))
        console.log(`    ${(micros / 1000 / messages).toFixed(4)}  ${caller}`);
    }
  }
  console.log(`\nprofiles kept in ${profileDir}`);
}

async function profileIngest(rows: number): Promise<void> {
  const files = await generateFiles(rows);
  try {
    for (const format of ["csv", "xlsx"] as const) {
      const result = await measureIngest(files, format, profileEnv);
      console.log(JSON.stringify(result));
    }
  } finally {
    await removeFiles(files);
  }
  // Each gateway was stopped with SIGKILL by the harness: only a graceful exit writes a profile.
  printProfiles({});
}

async function profileSends(sessions: number, messages: number, shape: BlastShape): Promise<void> {
  const pipeline = await PipelineUnderTest.start(sessions, profileEnv);
  const warmup = await pipeline.run(messages, shape);
  console.log(`warm-up run: ${Math.round(warmup.messagesPerSecond)} msg/s`);
  const before = cpuSecondsOfAll(pipeline.pids);
  const benchCpuBefore = process.cpuUsage();
  const from = monotonicMicros();
  const figures = await pipeline.run(messages, shape);
  const to = monotonicMicros();
  const wall = (to - from) / 1e6;
  const after = cpuSecondsOfAll(pipeline.pids);
  console.log(
    `${sessions} sessions, ${figures.messages} messages (${shape}): ${Math.round(figures.messagesPerSecond)} msg/s, ` +
      `${totalCpuMsPerMessage(figures).toFixed(3)} CPU ms/msg in all`,
  );
  for (const [name, ms] of Object.entries(figures.cpuMsPerMessage)) {
    const share = (((after[name] ?? Number.NaN) - (before[name] ?? Number.NaN)) / wall) * 100;
    console.log(`${name} used ${Math.round(share)}% of a core, ${ms.toFixed(3)} CPU ms/msg`);
  }
  const benchCpu = process.cpuUsage(benchCpuBefore);
  console.log(
    `this bench process used ${Math.round(((benchCpu.user + benchCpu.system) / 1e6 / wall) * 100)}% of a core`,
  );
  // For reading the profiles again later: which process is which, and the measured run's window.
  writeFileSync(
    join(profileDir, "run.json"),
    JSON.stringify({ sessions, shape, messages: figures.messages, window: [from, to], pids: pipeline.pids }),
  );
  // SIGTERM lets each service shut down and write its profile.
  for (const service of pipeline.platform.running()) await pipeline.platform.kill(service, "SIGTERM");
  await pipeline.stop();
  printProfiles(
    Object.fromEntries(Object.entries(pipeline.pids).map(([name, pid]) => [pid, name])),
    [from, to],
    figures.messages,
  );
}

if (process.argv[2] === "ingest") await profileIngest(Number(process.argv[3] ?? 100_000));
else
  await profileSends(
    Number(process.argv[2] ?? 1),
    Number(process.argv[3] ?? 3000),
    process.argv[4] === "pool" ? "pool" : "separate",
  );

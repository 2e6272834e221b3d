// Not part of `make bench`: runs the end-to-end pipeline once with every service profiled
// (the inspector's CPU profiler, as `--cpu-prof` would), prints each process' share of a core while it sends and the functions that took
// the most self time in each profile: the evidence docs/PERFORMANCE.md quotes where a target is missed.
// Usage: node --import tsx test/bench/profilePipeline.ts [sessions] [messages]
//        node --import tsx test/bench/profilePipeline.ts ingest [rows] (the gateway importing a .csv and an .xlsx)
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuSecondsOf, pidOf, serverPidOn } from "./benchSupport.ts";
import { generateFiles, measureIngest, removeFiles } from "./ingest.bench.ts";
import { PipelineUnderTest } from "./throughput.bench.ts";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function topSelfTime(profile: CpuProfile, count: number): Array<{ frame: string; share: number }> {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMicros = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byNode.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules\/)?/, (m) =>
      m.includes("node_modules") ? "node_modules/" : "",
    );
    const frame = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    selfMicros.set(frame, (selfMicros.get(frame) ?? 0) + delta);
    total += delta;
  });
  return [...selfMicros.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, micros]) => ({ frame, share: Math.round((micros / total) * 1000) / 10 }));
}

const profileDir = mkdtempSync(join(tmpdir(), "wa-blast-cpuprof-"));
const profileEnv = {
  NODE_OPTIONS: `--import ${new URL("./cpuProfilePreload.mjs", import.meta.url).pathname}`,
  CPU_PROFILE_DIR: profileDir,
};

function printProfiles(labels: Record<number, string>): void {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile;
    const pid = Number(file.split(".")[0]);
    console.log(`\n${labels[pid] ?? "?"} (${file})`);
    for (const { frame, share } of topSelfTime(profile, 20)) console.log(`  ${share}%  ${frame}`);
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

async function profileSends(sessions: number, messages: number): Promise<void> {
  const pipeline = await PipelineUnderTest.start(sessions, profileEnv);
  const names = ["gateway", "projector", "sender", "nats-server", "redis-server"] as const;
  const pids: Record<string, number | undefined> = {
    ...Object.fromEntries(
      (["gateway", "projector", "sender"] as const).map((n) => [n, pidOf(pipeline.platform, n)]),
    ),
    "nats-server": serverPidOn(pipeline.servers.nats.port),
    "redis-server": serverPidOn(pipeline.servers.redis.port),
  };
  const cpuOf = (name: string) => {
    const pid = pids[name];
    return pid === undefined ? Number.NaN : cpuSecondsOf(pid);
  };
  const before = Object.fromEntries(names.map((n) => [n, cpuOf(n)]));
  const benchCpuBefore = process.cpuUsage();
  const started = performance.now();
  const rate = await pipeline.run(messages);
  const wall = (performance.now() - started) / 1000;
  console.log(`${sessions} sessions, ${messages} messages: ${Math.round(rate)} msg/s`);
  for (const n of names) {
    const share = ((cpuOf(n) - (before[n] as number)) / wall) * 100;
    console.log(`${n} used ${Math.round(share)}% of a core`);
  }
  const benchCpu = process.cpuUsage(benchCpuBefore);
  console.log(
    `this bench process used ${Math.round(((benchCpu.user + benchCpu.system) / 1e6 / wall) * 100)}% of a core`,
  );
  // SIGTERM lets each service shut down and write its profile.
  for (const service of pipeline.platform.running()) await pipeline.platform.kill(service, "SIGTERM");
  await pipeline.stop();
  printProfiles(Object.fromEntries(Object.entries(pids).map(([name, pid]) => [pid ?? 0, name])));
}

if (process.argv[2] === "ingest") await profileIngest(Number(process.argv[3] ?? 100_000));
else await profileSends(Number(process.argv[2] ?? 1), Number(process.argv[3] ?? 3000));

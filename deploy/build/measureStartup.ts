// Cold start and idle memory of the gateway and a sender, from sources through tsx and from the
// production build, for docs/PERFORMANCE.md. Starts its own nats-server and redis-server on free
// ports; run `make build` first.
//
//   node deploy/build/measureStartup.ts [--runs=5] [--node20=/usr/bin/node]
//
// Each run spawns one service and times it from spawn until the gateway answers 200 on /readyz (or
// the sender logs "sender ready"), then leaves it idle for IDLE_MS and reads its resident memory
// (VmRSS in /proc). "cold tsx cache" runs get an empty TMPDIR, as a new container would: tsx keeps
// its compiled files in the temporary folder.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const RUNS = Number(arg("runs") ?? 5);
const NODE20 = arg("node20");
const IDLE_MS = 5_000;
const API_KEY = "measure-key-0123456789abcdef";

interface Variant {
  readonly label: string;
  readonly node: string;
  readonly args: (service: string) => string[];
  readonly coldCache: boolean;
}

const tsx = (service: string) => ["--import", "tsx", `services/${service}/main.ts`];
const built = (service: string) => [`dist/${service}.js`];
const variants: Variant[] = [
  ...(NODE20
    ? [{ label: "Node 20, tsx, cold tsx cache (old image)", node: NODE20, args: tsx, coldCache: true }]
    : []),
  {
    label: `Node ${process.versions.node}, tsx, cold tsx cache`,
    node: process.execPath,
    args: tsx,
    coldCache: true,
  },
  {
    label: `Node ${process.versions.node}, tsx, warm tsx cache`,
    node: process.execPath,
    args: tsx,
    coldCache: false,
  },
  {
    label: `Node ${process.versions.node}, dist/ (make build)`,
    node: process.execPath,
    args: built,
    coldCache: false,
  },
];

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once("exit", () => r()));

const rssMb = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) / 1024;
};

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port}`);
}

const work = mkdtempSync(join(tmpdir(), "wa-blast-measure-"));
const natsPort = await freePort();
const redisPort = await freePort();
const servers = [
  spawn("nats-server", ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", join(work, "nats")], {
    stdio: "ignore",
  }),
  spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(redisPort), "--save", "", "--dir", work], {
    stdio: "ignore",
  }),
];
await waitPort(natsPort);
await waitPort(redisPort);

interface Sample {
  readonly ms: number;
  readonly rss: number;
}

async function once(variant: Variant, service: "gateway" | "sender"): Promise<Sample> {
  const httpPort = await freePort();
  const cache = variant.coldCache ? mkdtempSync(join(work, "tmp-")) : tmpdir();
  const started = performance.now();
  const child = spawn(variant.node, variant.args(service), {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      TMPDIR: cache,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      API_KEYS: API_KEY,
      SESSION_IDS: "s1",
      SENDER_METRICS_PORT: "0",
      SIM_OUTBOX: join(work, "outbox.jsonl"),
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (c: Buffer) => (log += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (log += c.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${service} exited: ${log}`);
      if (performance.now() - started > 60_000) throw new Error(`${service} not ready: ${log}`);
      if (service === "sender" ? log.includes("sender ready") : await ready(httpPort)) break;
      await sleep(service === "sender" ? 10 : 0);
    }
    const ms = performance.now() - started;
    await sleep(IDLE_MS);
    return { ms, rss: rssMb(child.pid ?? 0) };
  } finally {
    child.kill("SIGKILL");
    await exited(child);
    if (variant.coldCache) rmSync(cache, { recursive: true, force: true });
  }
}

async function ready(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
  } catch {
    await sleep(10);
    return false;
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
try {
  // One uncounted start of each, so the first counted run does not pay for a cold disk cache.
  for (const variant of variants) await once(variant, "gateway");
  // Round-robin over the variants, so load from other processes on a shared machine falls on all.
  const results = variants.map(() => ({ gateway: [] as Sample[], sender: [] as Sample[] }));
  for (let i = 0; i < RUNS; i++) {
    for (const [v, variant] of variants.entries()) {
      results[v]?.gateway.push(await once(variant, "gateway"));
      results[v]?.sender.push(await once(variant, "sender"));
    }
  }
  const fmt = (xs: Sample[]) => {
    const ms = xs.map((x) => x.ms);
    return (
      `${mean(ms).toFixed(0)} ms (median ${median(ms).toFixed(0)}, ${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)})` +
      ` | ${mean(xs.map((x) => x.rss)).toFixed(0)} MB`
    );
  };
  console.log(
    `| ${RUNS} runs each | gateway to /readyz | gateway idle RSS | sender to ready | sender idle RSS |`,
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const [v, variant] of variants.entries()) {
    const r = results[v];
    if (r) console.log(`| ${variant.label} | ${fmt(r.gateway)} | ${fmt(r.sender)} |`);
  }
} finally {
  for (const server of servers) server.kill("SIGTERM");
  await Promise.all(servers.map(exited));
  rmSync(work, { recursive: true, force: true });
}

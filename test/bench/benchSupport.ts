// What every benchmark shares: the platform started the way the benchmarks need it (sim transport
// at zero latency, pacing and rate limits off), a send-work payload of the real size, phone numbers
// that normalize, statistics, and a child process' memory and CPU read from /proc.
import { readdirSync, readFileSync } from "node:fs";
import { newId } from "../../shared/domain/ids.ts";
import { encodeSendWork } from "../../shared/messages/sendWork.ts";
import { startPlatform, type Platform } from "../harness/platform.ts";
import type { Servers } from "../harness/servers.ts";

export const TEMPLATE = "Hello {name}, this is wa-blast";

/** Distinct, valid US numbers: enough for the 1M-row ingest. */
export function phoneOf(i: number): string {
  const exchange = 200 + Math.floor(i / 10_000);
  const line = String(i % 10_000).padStart(4, "0");
  return `+1212${exchange}${line}`;
}

export function recipientsOf(count: number, offset = 0): Array<{ phone: string; name: string }> {
  return Array.from({ length: count }, (_, i) => ({
    phone: phoneOf(offset + i),
    name: `Person${offset + i}`,
  }));
}

/** A send-work message as the gateway encodes it, so raw JetStream figures use the same payload size. */
export function sendWorkPayload(blastId: string, idx: number): Uint8Array {
  return encodeSendWork({
    blastId,
    sessionId: "s1",
    idx,
    phone: phoneOf(idx),
    text: TEMPLATE.replace("{name}", `Person${idx}`),
  });
}

export const samplePayloadBytes = (): number => sendWorkPayload(newId("b"), 123_456).length;

/** Everything a benchmark must not be slowed by: pacing, typing, number checks, rate limits. */
export const benchEnv: Record<string, string> = {
  // The harness waits for the services' "ready" lines, logged at info.
  LOG_LEVEL: "info",
  SIM_LATENCY_MS: "0",
  SEND_MIN_DELAY_MS: "0",
  SEND_MAX_DELAY_MS: "0",
  SEND_PER_MINUTE: "0",
  SEND_PER_HOUR: "0",
  SEND_PER_DAY: "0",
  SEND_TYPING: "false",
  SEND_CHECK_NUMBERS: "false",
  RATE_LIMIT_PER_MINUTE: "1000000",
  RATE_LIMIT_UPLOADS_PER_MINUTE: "1000000",
  WS_MAX_CLIENTS: "100000",
  WS_MAX_CLIENTS_PER_KEY: "100000",
  MAX_UPLOAD_BYTES: String(512 * 1024 * 1024),
  MAX_ROWS: "1000000",
  MAX_XLSX_EXPANDED_BYTES: String(2 * 1024 * 1024 * 1024),
};

export function startBenchPlatform(servers: Servers, env: Record<string, string> = {}): Promise<Platform> {
  return startPlatform(servers, { ...benchEnv, ...env });
}

export const sessionIds = (count: number): string[] => Array.from({ length: count }, (_, i) => `s${i + 1}`);

/** `sessions` is one account's id, or the pool of accounts that share the blast. */
export async function postJsonBlast(
  platform: Platform,
  sessions: string | readonly string[],
  recipients: ReadonlyArray<{ phone: string; name: string }>,
): Promise<string> {
  const accounts = typeof sessions === "string" ? { sessionId: sessions } : { sessionIds: sessions };
  const res = await platform.api("/api/blasts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...accounts, message: TEMPLATE, recipients }),
  });
  if (res.status !== 202) throw new Error(`POST /api/blasts answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { blastId: string }).blastId;
}

export interface BlastView {
  readonly status: string;
  readonly total: number;
  readonly sent: number;
  readonly failed: number;
  readonly pending: number;
  readonly updatedAt: string;
  /** Outcomes per account of the blast's pool. */
  readonly bySession: Readonly<Record<string, { readonly sent: number }>>;
}

export async function blastView(platform: Platform, blastId: string): Promise<BlastView> {
  const res = await platform.api(`/api/blasts/${blastId}`);
  if (!res.ok) throw new Error(`GET /api/blasts/${blastId} answered ${res.status}`);
  return (await res.json()) as BlastView;
}

/** Polls one unfinished blast at a time, so watching 100 blasts does not load the gateway it measures. */
export async function waitForCompletion(
  platform: Platform,
  blastIds: readonly string[],
  timeoutMs: number,
): Promise<BlastView[]> {
  const deadline = Date.now() + timeoutMs;
  const views: BlastView[] = [];
  for (const blastId of blastIds) {
    for (;;) {
      const view = await blastView(platform, blastId);
      if (view.status === "completed") {
        views.push(view);
        break;
      }
      if (Date.now() > deadline) throw new Error(`blast ${blastId} not completed in ${timeoutMs} ms`);
      await sleep(200);
    }
  }
  return views;
}

export async function waitForOpenSessions(
  platform: Platform,
  count: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sessions = (await (await platform.api("/api/sessions")).json()) as Array<{ status: string }>;
    if (sessions.filter((s) => s.status === "open").length >= count) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${count} sessions open in ${timeoutMs} ms`);
    await sleep(250);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile of `values` (0 < p <= 100). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export const round = (value: number, digits = 0): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

/** VmRSS and VmHWM (peak RSS) of a process, in MB. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, peakRssMb: kb("VmHWM") / 1024 };
}

/** Linux reports process CPU time in clock ticks, 100 a second on every kernel config we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** Share of one core a process used while `during` ran, in percent. */
export async function coreShareDuring(pid: number, during: () => Promise<void>): Promise<number> {
  const cpuBefore = cpuSecondsOf(pid);
  const started = performance.now();
  await during();
  const wallSeconds = (performance.now() - started) / 1000;
  return ((cpuSecondsOf(pid) - cpuBefore) / wallSeconds) * 100;
}

/** CPU seconds each named process has used so far; a process that is gone reads NaN. */
export function cpuSecondsOfAll(pids: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => {
      try {
        return [name, cpuSecondsOf(pid)];
      } catch {
        return [name, Number.NaN];
      }
    }),
  );
}

export function pidOf(platform: Platform, name: "gateway" | "projector" | "sender"): number {
  const pid = platform.running().find((s) => s.name === name)?.child.pid;
  if (pid === undefined) throw new Error(`${name} is not running`);
  return pid;
}

/** The pid of the server listening on `port`, found by its command line (the harness keeps its children private). */
export function serverPidOn(port: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!/nats-server|redis-server/.test(args[0] ?? "")) continue;
      const at = args.findIndex((a) => a === "-p" || a === "--port");
      // redis-server rewrites its command line to "redis-server 127.0.0.1:<port>".
      if ((at !== -1 && args[at + 1] === String(port)) || args[0]?.endsWith(`:${port}`)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

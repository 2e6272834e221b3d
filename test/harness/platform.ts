// Runs the real services as child processes against the harness' servers, the way `make up`
// runs them, so end-to-end tests can kill, restart and watch them.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type Servers } from "./servers.ts";

export type ServiceName = "gateway" | "projector" | "sender" | "webhooks";

export interface RunningService {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  output(): string;
}

export const TEST_API_KEY = "test-key-0123456789abcdef";

export interface Platform {
  readonly baseUrl: string;
  /** fetch() against the gateway with the test API key. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Headers a WebSocket client sends to authenticate. */
  readonly authHeaders: Record<string, string>;
  readonly wsUrl: string;
  readonly env: Record<string, string>;
  readonly workDir: string;
  readonly outboxPath: string;
  start(name: ServiceName, extraEnv?: Record<string, string>): Promise<RunningService>;
  /** The services started and not yet exited. */
  running(): RunningService[];
  /** Signals one running service (SIGKILL by default) and waits for it to exit. */
  kill(service: RunningService, signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

const repoRoot = new URL("../../", import.meta.url).pathname;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startPlatform(servers: Servers, env: Record<string, string> = {}): Promise<Platform> {
  const workDir = await mkdtemp(join(tmpdir(), "wa-blast-platform-"));
  const port = await freePort();
  const outboxPath = join(workDir, "outbox.jsonl");
  const baseEnv: Record<string, string> = {
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: String(port),
    LOG_LEVEL: "info",
    SESSION_IDS: "s1",
    API_KEYS: TEST_API_KEY,
    SEND_MIN_DELAY_MS: "0",
    SEND_MAX_DELAY_MS: "0",
    SEND_PER_MINUTE: "0",
    SEND_PER_HOUR: "0",
    SEND_PER_DAY: "0",
    SEND_TYPING: "false",
    SIM_LATENCY_MS: "1",
    SIM_OUTBOX: outboxPath,
    // Several senders share this host in tests: each opens a metrics port only when a test asks.
    SENDER_METRICS_PORT: "0",
    // Tests poll the API far faster than a person; the limits have tests of their own.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_UPLOADS_PER_MINUTE: "1000000",
    ...env,
  };
  const running = new Set<RunningService>();

  const authHeaders = { authorization: `Bearer ${TEST_API_KEY}` };
  const platform: Platform = {
    baseUrl: `http://127.0.0.1:${port}`,
    authHeaders,
    api: (path, init = {}) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        ...init,
        headers: { ...authHeaders, ...(init.headers as Record<string, string>) },
      }),
    wsUrl: `ws://127.0.0.1:${port}`,
    env: baseEnv,
    workDir,
    outboxPath,
    async start(name, extraEnv = {}) {
      const child = spawn(process.execPath, ["--import", "tsx", `services/${name}/main.ts`], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...baseEnv, ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let log = "";
      const collect = (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-20_000);
      };
      child.stdout?.on("data", collect);
      child.stderr?.on("data", collect);
      const service: RunningService = { name, child, output: () => log };
      running.add(service);
      child.once("exit", () => running.delete(service));
      if (name === "gateway") await waitForHttp(`${platform.baseUrl}/readyz`, service);
      else await waitForLog(service, `${name} ready`);
      return service;
    },
    running: () => [...running],
    async kill(service, signal = "SIGKILL") {
      service.child.kill(signal);
      await exited(service.child);
    },
    async stop() {
      await Promise.all([...running].map((s) => platform.kill(s, "SIGKILL")));
      await rm(workDir, { recursive: true, force: true });
    },
  };
  return platform;
}

async function waitForHttp(url: string, service: RunningService, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) throw new Error(`${service.name} exited: ${service.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${service.name} not ready in ${timeoutMs} ms: ${service.output()}`);
}

async function waitForLog(service: RunningService, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.output().includes(text)) return;
    if (service.child.exitCode !== null) throw new Error(`${service.name} exited: ${service.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${service.name} did not log "${text}" in ${timeoutMs} ms: ${service.output()}`);
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** The blast as `GET /api/blasts/:id` shows it. */
export interface BlastView {
  blastId: string;
  status: string;
  total: number;
  sent: number;
  failed: number;
  inDoubt: number;
  delivered: number;
  read: number;
  pending: number;
  reason?: string;
}

/** Polls the API until the blast is completed, and returns its final figures. */
export function untilBlastCompleted(
  platform: Platform,
  blastId: string,
  timeoutMs = 90_000,
): Promise<BlastView> {
  return eventually(
    async () => {
      const view = (await (await platform.api(`/api/blasts/${blastId}`)).json()) as BlastView;
      return view.status === "completed" ? view : undefined;
    },
    timeoutMs,
    `completion of ${blastId}`,
  );
}

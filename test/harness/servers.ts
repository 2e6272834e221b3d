// Real nats-server and redis-server processes on free loopback ports with throw-away data folders,
// so tests are hermetic, never touch the machine's default instances, and can kill or restart them.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import { connectRedis } from "../../shared/redis/connection.ts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port"));
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: "127.0.0.1", port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export interface ManagedServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the process (SIGKILL when `hard`), keeping its data folder. */
  stop(hard?: boolean): Promise<void>;
  /** Starts the process again on the same port and data folder. */
  start(): Promise<void>;
  /** Stops the process and deletes its data folder. */
  dispose(): Promise<void>;
}

export async function managed(
  name: string,
  url: (port: number) => string,
  command: string,
  args: (port: number, dataDir: string) => string[],
): Promise<ManagedServer> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), `wa-blast-${name}-`));
  let child: ChildProcess | undefined;
  let stderr = "";
  const server: ManagedServer = {
    url: url(port),
    port,
    dataDir,
    async start() {
      child = spawn(command, args(port, dataDir), { stdio: ["ignore", "ignore", "pipe"] });
      // A test process that ends without dispose (a timeout, an uncaught error) takes its servers
      // with it instead of leaving them running on the machine.
      const orphan = child;
      const killOrphan = () => orphan.kill("SIGKILL");
      process.once("exit", killOrphan);
      orphan.once("exit", () => process.removeListener("exit", killOrphan));
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      const exited = waitForExit(child).then(() => {
        throw new Error(`${name} exited early: ${stderr}`);
      });
      await Promise.race([waitForPort(port), exited]);
      exited.catch(() => undefined);
    },
    async stop(hard = false) {
      if (!child) return;
      const running = child;
      child = undefined;
      running.kill(hard ? "SIGKILL" : "SIGTERM");
      await waitForExit(running);
    },
    async dispose() {
      await server.stop(true);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** `extraArgs` adds server options, e.g. credentials or TLS for the tests of secured connections. */
export function startNats(extraArgs: string[] = []): Promise<ManagedServer> {
  return managed(
    "nats",
    (port) => `nats://127.0.0.1:${port}`,
    process.env.NATS_SERVER_BIN ?? "nats-server",
    (port, dir) => ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir, ...extraArgs],
  );
}

/**
 * What `make up` and compose run: an fsync before every reply, so a killed redis-server keeps
 * every write it acknowledged. Tests that crash redis-server use it; the others fsync once a
 * second and skip the ~10 ms each write costs on this machine's disk.
 */
export const DURABLE_REDIS = ["--appendfsync", "always"];

export function startRedis(extraArgs: (port: number) => string[] = () => []): Promise<ManagedServer> {
  return managed(
    "redis",
    (port) => `redis://127.0.0.1:${port}`,
    process.env.REDIS_SERVER_BIN ?? "redis-server",
    (port, dir) => [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--save",
      "",
      "--daemonize",
      "no",
      ...extraArgs(port),
    ],
  );
}

/**
 * Call inside a `describe`: one redis-server and a client of it for the whole suite, started before
 * its first test and stopped after its last. The client is only there while the suite's tests run.
 */
export function redisForSuite(): () => Redis {
  let server: ManagedServer | undefined;
  let redis: Redis | undefined;
  before(async () => {
    server = await startRedis();
    redis = connectRedis(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.dispose();
  });
  return () => {
    if (!redis) throw new Error("the suite's redis-server is only up while its tests run");
    return redis;
  };
}

export interface Servers {
  nats: ManagedServer;
  redis: ManagedServer;
  dispose(): Promise<void>;
}

export async function startServers(options: { redisArgs?: string[] } = {}): Promise<Servers> {
  const [nats, redis] = await Promise.all([startNats(), startRedis(() => options.redisArgs ?? [])]);
  return {
    nats,
    redis,
    async dispose() {
      await Promise.all([nats.dispose(), redis.dispose()]);
    },
  };
}

/** A JetStream cluster a test can kill nodes of, asking which node leads a stream and when replicas caught up. */
export interface NatsCluster {
  /** The nodes in start order; `nodes[i].url` is node i's client URL. */
  readonly nodes: readonly ManagedServer[];
  /** Every node's URL, comma-separated: what NATS_URL takes for a cluster. */
  readonly url: string;
  /** The server name of each node (`n1`, `n2`, `n3`), as stream info reports leaders and replicas. */
  readonly names: readonly string[];
  /** SIGKILLs node `index`, keeping its data folder. */
  kill(index: number): Promise<void>;
  /** Starts node `index` again on its port and data folder, and waits until it is back in the cluster. */
  restart(index: number): Promise<void>;
  /** Index of the node that leads `stream` now (waits through an election). */
  streamLeader(stream: string, timeoutMs?: number): Promise<number>;
  /** Waits until `stream` has a leader and every other replica is current (caught up and seen lately). */
  waitForReplicas(stream: string, timeoutMs?: number): Promise<void>;
  /** Stops every node and deletes their data folders. */
  dispose(): Promise<void>;
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not seen in ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Three nats-server processes with JetStream on loopback forming one cluster (see
 * ../shared/NOTES-nats.md, "Clusters"). Resolves once a metadata leader is elected, i.e. once
 * JetStream answers API requests.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const routePorts = await distinctFreePorts(size);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(",");
  const names = routePorts.map((_, i) => `n${i + 1}`);
  const nodes: ManagedServer[] = [];
  try {
    for (const [i, name] of names.entries()) {
      nodes.push(
        await managed(
          `nats-${name}`,
          (port) => `nats://127.0.0.1:${port}`,
          process.env.NATS_SERVER_BIN ?? "nats-server",
          (port, dir) => [
            ...["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir, "-n", name],
            ...["--cluster_name", "wa", "--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes],
          ],
        ),
      );
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.dispose()));
    throw err;
  }
  const url = nodes.map((n) => n.url).join(",");
  // The harness' own client, for leader look-ups only: tests keep their connections to themselves.
  const nc = await natsConnect({
    servers: nodes.map((n) => n.url),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const jsm = await until("a JetStream metadata leader", 30_000, async () => {
    const manager = await jetstreamManager(nc);
    await manager.getAccountInfo();
    return manager;
  });
  const cluster: NatsCluster = {
    nodes,
    url,
    names,
    kill: (index) => nodes[index]!.stop(true),
    async restart(index) {
      await nodes[index]!.start();
      // Back once JetStream answers a client connected to this node alone (its routes are up).
      const direct = await natsConnect({ servers: nodes[index]!.url });
      try {
        await until(`${names[index]} back in the cluster`, 30_000, async () => {
          await (await jetstreamManager(direct)).getAccountInfo();
          return true;
        });
      } finally {
        await direct.close().catch(() => undefined);
      }
    },
    streamLeader: (stream, timeoutMs = 30_000) =>
      until(`a leader of ${stream}`, timeoutMs, async () => {
        const leader = (await jsm.streams.info(stream)).cluster?.leader;
        const index = leader === undefined ? -1 : names.indexOf(leader);
        return index === -1 ? undefined : index;
      }),
    async waitForReplicas(stream, timeoutMs = 30_000) {
      await until(`every replica of ${stream} current`, timeoutMs, async () => {
        const info = (await jsm.streams.info(stream)).cluster;
        if (!info?.leader) return undefined;
        const replicas = info.replicas ?? [];
        const current = replicas.filter((r) => r.current && !r.offline).length;
        return replicas.length > 0 && current === replicas.length ? true : undefined;
      });
    },
    async dispose() {
      await nc.close().catch(() => undefined);
      await Promise.all(nodes.map((n) => n.dispose()));
    },
  };
  return cluster;
}

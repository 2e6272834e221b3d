// A Redis with failover on loopback, as production runs it: a primary, one replica and three
// sentinels, all real processes (the sentinels are redis-server in sentinel mode, what Debian's
// redis-sentinel package runs). Tests kill the primary and watch the sentinels promote the replica.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createServer, connect, type Socket } from "node:net";
import { DURABLE_REDIS, freePort, managed, startRedis, type ManagedServer } from "./servers.ts";

export const SENTINEL_MASTER = "wa-blast";

export interface RedisWithFailover {
  readonly primary: ManagedServer;
  readonly replica: ManagedServer;
  readonly sentinels: ManagedServer[];
  /**
   * Cuts the first replica's link to the first primary: what the primary sends is dropped, as a
   * partition would drop it (until the sentinels reconnect the servers directly, after a failover).
   */
  partitionReplica(): void;
  /** What REDIS_URL is set to: `redis+sentinel://host:port,…/<name>`. */
  readonly url: string;
  /** The port of the server the sentinels name as the primary now. */
  primaryPort(): Promise<number>;
  /** Waits until the sentinels name another primary than `port`. */
  failedOverFrom(port: number, timeoutMs?: number): Promise<number>;
  dispose(): Promise<void>;
}

/** How fast the sentinels act: a primary silent for 1 s is down, and a failover may take 5 s. */
function sentinelConfig(port: number, dir: string, primaryPort: number): string {
  return [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${dir}`,
    `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primaryPort} 2`,
    `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
    `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
    `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
    "",
  ].join("\n");
}

/** A TCP relay from the replica to the primary that can be cut: bytes are then read and dropped. */
async function startReplicationLink(
  primaryPort: number,
): Promise<{ port: number; cut(): void; close(): void }> {
  let cut = false;
  const sockets = new Set<Socket>();
  const server = createServer((replicaSide) => {
    const primarySide = connect({ host: "127.0.0.1", port: primaryPort });
    for (const socket of [replicaSide, primarySide]) {
      sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
    }
    replicaSide.on("data", (chunk: Buffer) => {
      if (!cut) primarySide.write(chunk);
    });
    primarySide.on("data", (chunk: Buffer) => {
      if (!cut) replicaSide.write(chunk);
    });
    replicaSide.on("close", () => primarySide.destroy());
    primarySide.on("close", () => replicaSide.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    cut: () => {
      cut = true;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** Waits until the replica has synced with its primary and follows its stream. */
async function replicaLinked(replica: ManagedServer, timeoutMs = 20_000): Promise<void> {
  const client = new Redis({ port: replica.port, host: "127.0.0.1" });
  try {
    const deadline = Date.now() + timeoutMs;
    while (!/master_link_status:up/.test(await client.info("replication"))) {
      if (Date.now() > deadline) throw new Error(`the replica did not sync in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.disconnect();
  }
}

/**
 * Waits until every sentinel lists the replica: they learn of it from the primary's INFO (every
 * 10 s), and a primary killed before then has no replica they would promote.
 */
async function sentinelsKnowReplica(sentinels: readonly ManagedServer[], replicaPort: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const sentinel of sentinels) {
    const client = new Redis({ port: sentinel.port, host: "127.0.0.1" });
    try {
      for (;;) {
        const replicas = (await client.call("SENTINEL", "replicas", SENTINEL_MASTER)) as string[][];
        const known = replicas.some((fields) => {
          const port = fields[fields.indexOf("port") + 1];
          const flags = fields[fields.indexOf("flags") + 1] ?? "";
          return port === String(replicaPort) && !flags.includes("down") && !flags.includes("disconnected");
        });
        if (known) break;
        if (Date.now() > deadline) throw new Error("the sentinels never learned of the replica");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      client.disconnect();
    }
  }
}

export async function startRedisWithFailover(): Promise<RedisWithFailover> {
  // DEBUG SLEEP lets a test hold a replica back, as a slow network or disk would; after a failover
  // either server may be the replica.
  // A primary waits 5 s by default before a full sync to a replica, for others to join it: none will.
  const debug = ["--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"];
  const primary = await startRedis(() => [...DURABLE_REDIS, ...debug]);
  // The replica first follows the primary through a link a test can cut, as a network would.
  const link = await startReplicationLink(primary.port);
  const replica = await startRedis(() => [
    ...DURABLE_REDIS,
    ...debug,
    "--replicaof",
    "127.0.0.1",
    String(link.port),
  ]);
  const sentinels: ManagedServer[] = [];
  for (let i = 0; i < 3; i++) {
    sentinels.push(
      await managed(
        "sentinel",
        (port) => `redis://127.0.0.1:${port}`,
        process.env.REDIS_SERVER_BIN ?? "redis-server",
        (port, dir) => {
          // Sentinel rewrites its config as it learns the topology: a file of its own, there before it starts.
          const file = join(dir, "sentinel.conf");
          writeFileSync(file, sentinelConfig(port, dir, primary.port));
          return [file, "--sentinel"];
        },
      ),
    );
  }
  await replicaLinked(replica);
  await sentinelsKnowReplica(sentinels, replica.port);
  const askPrimary = async (): Promise<number> => {
    for (const sentinel of sentinels) {
      const client = new Redis({ port: sentinel.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
      try {
        const reply = (await client.call("SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER)) as
          string[] | null;
        if (reply?.[1]) return Number(reply[1]);
      } catch {
        // This one is down: ask the next.
      } finally {
        client.disconnect();
      }
    }
    throw new Error("no sentinel names a primary");
  };
  return {
    primary,
    replica,
    sentinels,
    url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${SENTINEL_MASTER}`,
    primaryPort: askPrimary,
    partitionReplica: () => link.cut(),
    async failedOverFrom(port, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await askPrimary().catch(() => port);
        if (now !== port) return now;
        if (Date.now() > deadline) throw new Error(`no failover from ${port} in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async dispose() {
      await Promise.all([...sentinels, replica, primary].map((s) => s.dispose()));
      link.close();
    },
  };
}

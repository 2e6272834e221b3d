// Many sessions over several senders (issue 16, "Many sessions"): N sim sessions spread over 4 real
// sender processes, and what single ownership, a sender's death and the lease/presence traffic cost.
//
// Ownership is read two ways, both for every session at every sample:
// - the senders' own view, from their logs: a session is held from its "session acquired" line to
//   its "session stopping" line (pino's `time`, one clock for every process here), and until the
//   SIGKILL for the sender killed;
// - the lease view, from a watch on the `session_leases` bucket: the key's last write is a PUT
//   younger than LEASE_TTL_MS (nats-server 2.9 sends no event when a key expires, so the age decides).
// NATS traffic is read from the server's monitoring endpoint (/connz per connection, /varz for the
// whole server) over a window with no blast running, so everything the senders exchange with NATS
// is leases, presence and the presence watch.
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KvWatchEntry } from "@nats-io/kv";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";
import {
  SENDER_PRESENCE,
  SESSION_LEASES,
  bucketStream,
  leaseBucketConfig,
} from "../../shared/nats/topology.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import type { Platform, RunningService } from "../harness/platform.ts";
import { freePort, startNats, startRedis, type Servers } from "../harness/servers.ts";
import {
  cpuSecondsOf,
  log,
  memoryOf,
  percentile,
  serverPidOn,
  sessionIds,
  sleep,
  startBenchPlatform,
} from "./benchSupport.ts";

export interface ScaleOptions {
  readonly sessions: number;
  readonly senders: number;
  readonly leaseTtlMs: number;
  /** Steady-state window: ownership sampled and traffic counted over it. */
  readonly steadySeconds: number;
  /** The same after the kill, once the survivors have taken the dead sender's sessions. */
  readonly afterKillSeconds: number;
  /** How often ownership is sampled. */
  readonly sampleEveryMs: number;
}

/** Moments ownership was sampled, and those with a session held twice or by nobody. */
export interface OwnershipSamples {
  readonly samples: number;
  /** Sender view: moments with at least one session held by two senders. */
  readonly momentsOwnedTwice: number;
  /** Sender view: moments with at least one session held by no sender. */
  readonly momentsOwnedByNone: number;
  /** Lease view: moments with at least one session without a live lease. */
  readonly momentsLeaseless: number;
  /** Largest number of sessions without an owner (sender view) at one moment. */
  readonly maxOwnedByNone: number;
}

/** Messages and bytes a second, as nats-server counts them (in = published by clients, out = delivered). */
export interface Traffic {
  readonly inMsgsPerSecond: number;
  readonly outMsgsPerSecond: number;
  readonly inBytesPerSecond: number;
  readonly outBytesPerSecond: number;
}

export interface TrafficWindow {
  readonly seconds: number;
  readonly sessions: number;
  readonly senders: number;
  /** Summed over the sender processes' connections. */
  readonly senderConnections: Traffic;
  /**
   * What the senders published a second besides lease and presence writes: mostly failed `create`s
   * (a put refused, then a get: two requests each) by a sender below its share scanning every id.
   */
  readonly otherSenderRequestsPerSecond: number;
  /** Messages each sender published a second (in the order of `senders`): shows which one costs more. */
  readonly perSenderInMsgsPerSecond: readonly number[];
  /** The gateway's connection (idle: should be ~0). */
  readonly gatewayConnection: Traffic;
  /** The whole server (/varz) minus this benchmark's own watching connection. */
  readonly serverMinusBench: Traffic;
  /** Writes to the buckets' streams a second (each renewal, acquisition, release, heartbeat is one). */
  readonly leaseWritesPerSecond: number;
  readonly presenceWritesPerSecond: number;
  /** Sender connections' msgs (in + out) and bytes (in + out) a second, per session. */
  readonly msgsPerSecondPerSession: number;
  readonly bytesPerSecondPerSession: number;
  /** Share of one core each process used over the window, in percent. */
  readonly natsCoreShare: number;
  readonly redisCoreShare: number;
  readonly sendersCoreShare: readonly number[];
  /** Commands Redis ran a second (the idle workers' polls of their blasts are most of them). */
  readonly redisCommandsPerSecond: number;
}

export interface ScaleResult {
  readonly sessions: number;
  readonly senders: number;
  readonly leaseTtlMs: number;
  /** Length of the SESSION_IDS value the gateway got, in bytes. */
  readonly sessionIdsBytes: number;
  /** Gateway spawn to /readyz, with SESSION_IDS listing every session (each added to Redis one by one). */
  readonly gatewayStartSeconds: number;
  /** Gateway ready (sessions registered) to every session open and held by exactly one sender. */
  readonly spreadSeconds: number;
  readonly heldPerSender: readonly number[];
  readonly senderRssMb: readonly number[];
  readonly steady: OwnershipSamples;
  /** Exact check over the whole run: pairs of intervals in which two senders held one session. */
  readonly overlapsWholeRun: number;
  readonly traffic: TrafficWindow;
  /** The first LEASE_TTL_MS + 4 s after the spread, before the steady window. */
  readonly afterSpread: TrafficWindow;
  readonly kill: {
    readonly sessionsOfKilled: number;
    /** SIGKILL to the last of its sessions leased by a survivor. */
    readonly allReleasedSeconds: number;
    /** SIGKILL to the last of its sessions reported open by a survivor. */
    readonly allOpenElsewhereSeconds: number;
    readonly openElsewhereP50Seconds: number;
    /** LEASE_TTL_MS + 5 s. */
    readonly budgetSeconds: number;
    readonly met: boolean;
    /** From the SIGKILL until every session was open again. */
    readonly during: OwnershipSamples;
  };
  readonly afterKill: {
    readonly heldPerSender: readonly number[];
    readonly steady: OwnershipSamples;
    readonly traffic: TrafficWindow;
  };
}

interface Hold {
  readonly owner: string;
  readonly from: number;
  to: number;
}

/** What every sender says it holds, from its log lines. */
class SenderView {
  readonly holds = new Map<string, Hold[]>();

  /** From the start: what the sender logged before the harness saw it ready, then every new line. */
  follow(owner: string, service: RunningService): void {
    const earlier = service.output();
    // The harness keeps the last 20,000 characters: a longer start-up log has lost its first lines.
    if (earlier.length >= 20_000) throw new Error(`${owner} logged too much before it was ready to follow`);
    const lines = earlier.split("\n");
    let pending = lines.pop() ?? "";
    for (const line of lines) this.line(owner, line);
    service.child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) this.line(owner, line);
    });
  }

  private line(owner: string, line: string): void {
    if (!line.includes('"session acquired"') && !line.includes('"session stopping"')) return;
    const entry = JSON.parse(line) as { time: number; sessionId: string; msg: string };
    const holds = this.holds.get(entry.sessionId) ?? [];
    this.holds.set(entry.sessionId, holds);
    if (entry.msg === "session acquired") {
      holds.push({ owner, from: entry.time, to: Number.POSITIVE_INFINITY });
      return;
    }
    const open = holds.find((h) => h.owner === owner && h.to === Number.POSITIVE_INFINITY);
    if (open) open.to = entry.time;
  }

  /** A SIGKILLed sender logs nothing more: what it held ends at the kill. */
  killed(owner: string, at: number): void {
    for (const holds of this.holds.values())
      for (const h of holds) if (h.owner === owner && h.to === Number.POSITIVE_INFINITY) h.to = at;
  }

  ownersAt(sessionId: string, at: number): string[] {
    return (this.holds.get(sessionId) ?? []).filter((h) => h.from <= at && at < h.to).map((h) => h.owner);
  }

  held(owner: string, at = Date.now()): string[] {
    return [...this.holds.keys()].filter((id) => this.ownersAt(id, at).includes(owner));
  }

  /** Pairs of holds by different senders of one session that overlap in time. */
  overlaps(): number {
    let count = 0;
    for (const holds of this.holds.values())
      for (let i = 0; i < holds.length; i++)
        for (let j = i + 1; j < holds.length; j++) {
          const a = holds[i] as Hold;
          const b = holds[j] as Hold;
          if (a.owner !== b.owner && a.from < b.to && b.from < a.to) count++;
        }
    return count;
  }
}

/** The lease bucket as a watch sees it, and every session's last reported status. */
class LeaseView {
  private readonly last = new Map<string, { owner: string; put: boolean; at: number }>();
  /** Latest status of each session, and when each was first reported open by each owner. */
  readonly status = new Map<string, { status: string; owner: string }>();
  readonly openedBy = new Map<string, Array<{ owner: string; at: number }>>();
  readonly leasedBy = new Map<string, Array<{ owner: string; at: number }>>();

  constructor(
    private readonly ttlMs: number,
    private readonly nc: NatsConnection,
  ) {}

  async start(): Promise<void> {
    const kv = await new Kvm(this.nc).open(SESSION_LEASES);
    const watch = await kv.watch();
    void (async () => {
      for await (const entry of watch) this.record(entry);
    })();
    this.nc.subscribe("session.*.status", {
      callback: (err, msg) => {
        if (err) return;
        const m = JSON.parse(new TextDecoder().decode(msg.data)) as {
          sessionId: string;
          status: string;
          owner?: string;
        };
        const owner = m.owner ?? "";
        this.status.set(m.sessionId, { status: m.status, owner });
        if (m.status === "open") {
          const list = this.openedBy.get(m.sessionId) ?? [];
          list.push({ owner, at: Date.now() });
          this.openedBy.set(m.sessionId, list);
        }
      },
    });
  }

  private record(entry: KvWatchEntry): void {
    const put = entry.operation === "PUT";
    const owner = put ? new TextDecoder().decode(entry.value) : "";
    const previous = this.last.get(entry.key);
    this.last.set(entry.key, { owner, put, at: entry.created.getTime() });
    // A create (new owner) rather than a renewal: when each owner got the lease.
    if (put && previous?.owner !== owner) {
      const list = this.leasedBy.get(entry.key) ?? [];
      list.push({ owner, at: Date.now() });
      this.leasedBy.set(entry.key, list);
    }
  }

  leased(sessionId: string, now = Date.now()): string | undefined {
    const last = this.last.get(sessionId);
    return last?.put && now - last.at < this.ttlMs ? last.owner : undefined;
  }

  allOpen(ids: readonly string[]): boolean {
    return ids.every((id) => this.status.get(id)?.status === "open");
  }
}

/** Samples both views every `everyMs` until `until` resolves. Sender-view moments are judged at the end. */
async function sampleOwnership(
  ids: readonly string[],
  leases: LeaseView,
  everyMs: number,
  until: () => Promise<boolean>,
): Promise<{ moments: number[]; leaseless: number }> {
  const moments: number[] = [];
  let leaseless = 0;
  for (;;) {
    const now = Date.now();
    moments.push(now);
    if (ids.some((id) => leases.leased(id, now) === undefined)) leaseless++;
    if (await until()) break;
    await sleep(Math.max(0, everyMs - (Date.now() - now)));
  }
  return { moments, leaseless };
}

/** Judged once log lines have arrived for every moment (they reach this process with a small delay). */
function judge(
  ids: readonly string[],
  senders: SenderView,
  sampled: { moments: number[]; leaseless: number },
): OwnershipSamples {
  let twice = 0;
  let none = 0;
  let maxNone = 0;
  for (const at of sampled.moments) {
    let noneHere = 0;
    let twiceHere = false;
    for (const id of ids) {
      const owners = senders.ownersAt(id, at).length;
      if (owners === 0) noneHere++;
      if (owners > 1) twiceHere = true;
    }
    if (noneHere > 0) none++;
    if (twiceHere) twice++;
    maxNone = Math.max(maxNone, noneHere);
  }
  return {
    samples: sampled.moments.length,
    momentsOwnedTwice: twice,
    momentsOwnedByNone: none,
    momentsLeaseless: sampled.leaseless,
    maxOwnedByNone: maxNone,
  };
}

interface ConnCounters {
  readonly name?: string;
  readonly in_msgs: number;
  readonly out_msgs: number;
  readonly in_bytes: number;
  readonly out_bytes: number;
}

async function monitor<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  if (!res.ok) throw new Error(`nats-server ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

const ZERO: ConnCounters = { in_msgs: 0, out_msgs: 0, in_bytes: 0, out_bytes: 0 };

function sum(conns: readonly ConnCounters[]): ConnCounters {
  return conns.reduce(
    (a, c) => ({
      in_msgs: a.in_msgs + c.in_msgs,
      out_msgs: a.out_msgs + c.out_msgs,
      in_bytes: a.in_bytes + c.in_bytes,
      out_bytes: a.out_bytes + c.out_bytes,
    }),
    ZERO,
  );
}

type Counter = "in_msgs" | "out_msgs" | "in_bytes" | "out_bytes";

function rate(before: ConnCounters, after: ConnCounters, seconds: number): Traffic {
  const per = (k: Counter) => Math.round((after[k] - before[k]) / seconds);
  return {
    inMsgsPerSecond: per("in_msgs"),
    outMsgsPerSecond: per("out_msgs"),
    inBytesPerSecond: per("in_bytes"),
    outBytesPerSecond: per("out_bytes"),
  };
}

interface Snapshot {
  readonly at: number;
  readonly conns: readonly ConnCounters[];
  readonly varz: ConnCounters;
  readonly leaseSeq: number;
  readonly presenceSeq: number;
  readonly cpu: Readonly<Record<string, number>>;
  readonly redisCommands: number;
}

const BENCH_CONNECTION = "scale-bench";

async function snapshot(
  monitorPort: number,
  nc: NatsConnection,
  redis: Redis,
  pids: Readonly<Record<string, number>>,
): Promise<Snapshot> {
  const jsm = await jetstreamManager(nc);
  const [connz, varz, leases, presence, info] = await Promise.all([
    monitor<{ connections: ConnCounters[] }>(monitorPort, "/connz?limit=1000"),
    monitor<ConnCounters>(monitorPort, "/varz"),
    jsm.streams.info(bucketStream.kv(SESSION_LEASES)),
    jsm.streams.info(bucketStream.kv(SENDER_PRESENCE)),
    redis.info("stats"),
  ]);
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      cpu[name] = cpuSecondsOf(pid);
    } catch {
      cpu[name] = Number.NaN;
    }
  }
  return {
    at: performance.now(),
    conns: connz.connections,
    varz,
    leaseSeq: leases.state.last_seq,
    presenceSeq: presence.state.last_seq,
    cpu,
    redisCommands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN),
  };
}

function trafficBetween(
  a: Snapshot,
  b: Snapshot,
  sessions: number,
  senders: readonly string[],
): TrafficWindow {
  const seconds = (b.at - a.at) / 1000;
  const named = (s: Snapshot, test: (name: string) => boolean) =>
    sum(s.conns.filter((c) => test(c.name ?? "")));
  const isSender = (name: string) => name.startsWith("sender-");
  const senderTraffic = rate(named(a, isSender), named(b, isSender), seconds);
  const bench = (s: Snapshot) => named(s, (n) => n === BENCH_CONNECTION);
  const minusBench = (s: Snapshot) => {
    const own = bench(s);
    return {
      in_msgs: s.varz.in_msgs - own.in_msgs,
      out_msgs: s.varz.out_msgs - own.out_msgs,
      in_bytes: s.varz.in_bytes - own.in_bytes,
      out_bytes: s.varz.out_bytes - own.out_bytes,
    };
  };
  const share = (name: string) =>
    Math.round((((b.cpu[name] ?? 0) - (a.cpu[name] ?? 0)) / seconds) * 1000) / 10;
  return {
    seconds: Math.round(seconds * 10) / 10,
    sessions,
    senders: senders.length,
    senderConnections: senderTraffic,
    perSenderInMsgsPerSecond: senders.map(
      (o) =>
        rate(
          named(a, (n) => n === `sender-${o}`),
          named(b, (n) => n === `sender-${o}`),
          seconds,
        ).inMsgsPerSecond,
    ),
    gatewayConnection: rate(
      named(a, (n) => n === "gateway"),
      named(b, (n) => n === "gateway"),
      seconds,
    ),
    serverMinusBench: rate(minusBench(a), minusBench(b), seconds),
    otherSenderRequestsPerSecond: Math.round(
      senderTraffic.inMsgsPerSecond - (b.leaseSeq - a.leaseSeq + b.presenceSeq - a.presenceSeq) / seconds,
    ),
    leaseWritesPerSecond: Math.round((b.leaseSeq - a.leaseSeq) / seconds),
    presenceWritesPerSecond: Math.round(((b.presenceSeq - a.presenceSeq) / seconds) * 10) / 10,
    msgsPerSecondPerSession:
      Math.round(((senderTraffic.inMsgsPerSecond + senderTraffic.outMsgsPerSecond) / sessions) * 1000) / 1000,
    bytesPerSecondPerSession:
      Math.round(((senderTraffic.inBytesPerSecond + senderTraffic.outBytesPerSecond) / sessions) * 10) / 10,
    natsCoreShare: share("nats"),
    redisCoreShare: share("redis"),
    sendersCoreShare: senders.map(share),
    redisCommandsPerSecond: Math.round((b.redisCommands - a.redisCommands) / seconds),
  };
}

async function until(what: string, timeoutMs: number, check: () => boolean): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await sleep(100);
  }
  return (performance.now() - started) / 1000;
}

/**
 * One scale run: fresh servers, `senders` senders started first with no session, then the gateway
 * with SESSION_IDS listing all of them, so the senders share them out as equals (a sender that
 * starts alone takes every session and hands its surplus over in a tick, see docs/SCALING.md).
 */
export async function measureScale(options: ScaleOptions): Promise<ScaleResult> {
  const { sessions, leaseTtlMs } = options;
  const monitorPort = await freePort();
  const [natsServer, redisServer] = await Promise.all([startNats(["-m", String(monitorPort)]), startRedis()]);
  const servers: Servers = {
    nats: natsServer,
    redis: redisServer,
    async dispose() {
      await Promise.all([natsServer.dispose(), redisServer.dispose()]);
    },
  };
  const platform: Platform = await startBenchPlatform(servers, {
    SESSION_IDS: "",
    LEASE_TTL_MS: String(leaseTtlMs),
  });
  const nc = await natsConnect({ servers: natsServer.url, name: BENCH_CONNECTION });
  const redis = connectRedis(redisServer.url);
  const view = new SenderView();
  const ids = sessionIds(sessions);
  const owners = Array.from({ length: options.senders }, (_, i) => `scale-${i + 1}`);
  try {
    const started = await Promise.all(
      owners.map(async (owner) => {
        const service = await platform.start("sender", { SENDER_ID: owner });
        view.follow(owner, service);
        return service;
      }),
    );
    // Every sender heartbeats each tick (≤ 2 s) and hears the others through its presence watch.
    await sleep(Math.min(2000, Math.max(500, leaseTtlMs / 3)) + 1000);
    const leases = new LeaseView(leaseTtlMs, nc);
    await leases.start();
    const sessionIdsValue = ids.join(",");
    const gatewayAt = performance.now();
    await platform.start("gateway", { SESSION_IDS: sessionIdsValue });
    const gatewayStartSeconds = (performance.now() - gatewayAt) / 1000;
    log(
      `scale ${sessions}: gateway ready in ${gatewayStartSeconds.toFixed(1)} s with ${ids.length} SESSION_IDS`,
    );
    const exactlyOne = () => ids.every((id) => view.ownersAt(id, Date.now()).length === 1);
    const spreadSeconds = await until(
      "every session open, each held once",
      180_000,
      () => leases.allOpen(ids) && exactlyOne(),
    );
    const heldPerSender = owners.map((o) => view.held(o).length);
    log(`scale ${sessions}: spread in ${spreadSeconds.toFixed(1)} s: ${heldPerSender.join(" / ")}`);
    const pids: Record<string, number> = {};
    const natsPid = serverPidOn(natsServer.port);
    const redisPid = serverPidOn(redisServer.port);
    if (natsPid) pids.nats = natsPid;
    if (redisPid) pids.redis = redisPid;
    owners.forEach((o, i) => {
      const pid = started[i]?.child.pid;
      if (pid) pids[o] = pid;
    });
    const settleFrom = await snapshot(monitorPort, nc, redis, pids);
    // A sender busy acquiring misses heartbeats, so the others may count one sender fewer for a
    // TTL and scan every id for a bigger share: the window starts once that has passed.
    // Ownership is sampled from the spread on, this settling included.
    const settleEnds = Date.now() + leaseTtlMs + 4000;
    const settleSamples = await sampleOwnership(
      ids,
      leases,
      options.sampleEveryMs,
      async () => Date.now() >= settleEnds,
    );

    const settled = await snapshot(monitorPort, nc, redis, pids);
    const afterSpread = trafficBetween(settleFrom, settled, sessions, owners);
    const senderRssMb = owners.map((o) => Math.round(memoryOf(pids[o] as number).rssMb));

    // Steady state: ownership sampled and traffic counted over the same window.
    const before = settled;
    const windowEnds = Date.now() + options.steadySeconds * 1000;
    const steadySamples = await sampleOwnership(
      ids,
      leases,
      options.sampleEveryMs,
      async () => Date.now() >= windowEnds,
    );
    const after = await snapshot(monitorPort, nc, redis, pids);
    const traffic = trafficBetween(before, after, sessions, owners);
    log(`scale ${sessions}: steady traffic ${JSON.stringify(traffic)}`);

    // A sender dies: SIGKILL, no release, no goodbye.
    const victim = owners[0] as string;
    const victimService = started[0] as RunningService;
    const victimSessions = view.held(victim);
    const killedAt = Date.now();
    await platform.kill(victimService, "SIGKILL");
    view.killed(victim, killedAt);
    const survivors = owners.slice(1);
    const openElsewhere = (id: string) =>
      (leases.openedBy.get(id) ?? []).find((o) => o.owner !== victim && o.at >= killedAt)?.at;
    const leasedElsewhere = (id: string) =>
      (leases.leasedBy.get(id) ?? []).find((o) => o.owner !== victim && o.at >= killedAt)?.at;
    // Bounded: a failover that never completes is reported (NaN / not met), not waited on forever.
    const giveUpAt = killedAt + leaseTtlMs + 60_000;
    const duringSamples = await sampleOwnership(
      ids,
      leases,
      options.sampleEveryMs,
      async () => victimSessions.every((id) => openElsewhere(id) !== undefined) || Date.now() > giveUpAt,
    );
    const openTimes = victimSessions.map((id) => ((openElsewhere(id) ?? Number.NaN) - killedAt) / 1000);
    const leaseTimes = victimSessions.map((id) => ((leasedElsewhere(id) ?? Number.NaN) - killedAt) / 1000);
    const budgetSeconds = leaseTtlMs / 1000 + 5;
    const allOpenElsewhereSeconds = Math.max(...openTimes);
    log(
      `scale ${sessions}: ${victimSessions.length} sessions of the killed sender open elsewhere after ` +
        `${allOpenElsewhereSeconds.toFixed(1)} s (budget ${budgetSeconds} s)`,
    );

    // After the kill: the survivors' steady state (shares no longer divide evenly).
    await sleep(leaseTtlMs);
    const pidsAfter = { ...pids };
    delete pidsAfter[victim];
    const before2 = await snapshot(monitorPort, nc, redis, pidsAfter);
    const ends2 = Date.now() + options.afterKillSeconds * 1000;
    const afterSamples = await sampleOwnership(
      ids,
      leases,
      options.sampleEveryMs,
      async () => Date.now() >= ends2,
    );
    const after2 = await snapshot(monitorPort, nc, redis, pidsAfter);
    const trafficAfter = trafficBetween(before2, after2, sessions, survivors);
    log(`scale ${sessions}: after-kill traffic ${JSON.stringify(trafficAfter)}`);
    // Log lines reach this process a little after they are written: let the last ones in.
    await sleep(1000);
    return {
      sessions,
      senders: options.senders,
      leaseTtlMs,
      sessionIdsBytes: Buffer.byteLength(sessionIdsValue),
      gatewayStartSeconds: Math.round(gatewayStartSeconds * 10) / 10,
      spreadSeconds: Math.round(spreadSeconds * 10) / 10,
      heldPerSender,
      senderRssMb,
      steady: judge(ids, view, {
        moments: [...settleSamples.moments, ...steadySamples.moments],
        leaseless: settleSamples.leaseless + steadySamples.leaseless,
      }),
      overlapsWholeRun: view.overlaps(),
      traffic,
      afterSpread,
      kill: {
        sessionsOfKilled: victimSessions.length,
        allReleasedSeconds: Math.round(Math.max(...leaseTimes) * 10) / 10,
        allOpenElsewhereSeconds: Math.round(allOpenElsewhereSeconds * 10) / 10,
        openElsewhereP50Seconds: Math.round(percentile(openTimes, 50) * 10) / 10,
        budgetSeconds,
        met: allOpenElsewhereSeconds <= budgetSeconds,
        during: judge(ids, view, duringSamples),
      },
      afterKill: {
        heldPerSender: survivors.map((o) => view.held(o).length),
        steady: judge(ids, view, afterSamples),
        traffic: trafficAfter,
      },
    };
  } finally {
    await nc.close().catch(() => undefined);
    redis.disconnect();
    await platform.stop();
    await servers.dispose();
  }
}

export interface ColdStartResult {
  readonly sessions: number;
  readonly senders: number;
  readonly leaseTtlMs: number;
  /** Supervisor tick: min(2 s, max(0.5 s, TTL / 3)); a sender above its share hands its surplus over in one tick. */
  readonly tickMs: number;
  /** The first sender alone: until it held every session, open. */
  readonly firstAloneSeconds: number;
  /** The other senders started (together, SESSION_IDS the same for all) until the spread was even. */
  readonly balanceSeconds: number;
  readonly heldPerSender: readonly number[];
  /** Sessions stopped by one sender and started by another while balancing. */
  readonly handovers: number;
  /** Exact check over the run: pairs of intervals in which two senders held one session. */
  readonly overlaps: number;
  /** Sampled while balancing: moments with a session held by nobody (each handover leaves one unheld until the next tick). */
  readonly balancing: OwnershipSamples;
}

/**
 * What a deployment gets when every sender has the same SESSION_IDS and one starts first (a
 * rolling start, a scale-up from one): the first takes every session, the rest get theirs as it
 * hands them over, one a tick.
 */
export async function measureColdStart(options: {
  sessions: number;
  senders: number;
  leaseTtlMs: number;
  timeoutSeconds: number;
}): Promise<ColdStartResult> {
  const { sessions, leaseTtlMs } = options;
  const [natsServer, redisServer] = await Promise.all([startNats(), startRedis()]);
  const servers: Servers = {
    nats: natsServer,
    redis: redisServer,
    async dispose() {
      await Promise.all([natsServer.dispose(), redisServer.dispose()]);
    },
  };
  const ids = sessionIds(sessions);
  const platform = await startBenchPlatform(servers, {
    SESSION_IDS: ids.join(","),
    LEASE_TTL_MS: String(leaseTtlMs),
  });
  const nc = await natsConnect({ servers: natsServer.url, name: BENCH_CONNECTION });
  const view = new SenderView();
  const leases = new LeaseView(leaseTtlMs, nc);
  const owners = Array.from({ length: options.senders }, (_, i) => `cold-${i + 1}`);
  try {
    // The bucket as the senders create it, so the watch can start before the first of them.
    await new Kvm(nc).create(SESSION_LEASES, leaseBucketConfig(leaseTtlMs, 1));
    await leases.start();
    const startedAt = performance.now();
    view.follow(owners[0] as string, await platform.start("sender", { SENDER_ID: owners[0] as string }));
    await until(
      "the first sender holding every session",
      120_000,
      () => leases.allOpen(ids) && view.held(owners[0] as string).length === sessions,
    );
    const firstAloneSeconds = (performance.now() - startedAt) / 1000;
    const othersAt = Date.now();
    await Promise.all(
      owners
        .slice(1)
        .map(async (owner) => view.follow(owner, await platform.start("sender", { SENDER_ID: owner }))),
    );
    const share = Math.ceil(sessions / options.senders);
    const even = () => {
      const held = owners.map((o) => view.held(o).length);
      return held.every((h) => h >= share - 1 && h <= share) && held.reduce((a, b) => a + b, 0) === sessions;
    };
    const giveUpAt = othersAt + options.timeoutSeconds * 1000;
    const sampled = await sampleOwnership(ids, leases, 500, async () => even() || Date.now() > giveUpAt);
    const balanceSeconds = (Date.now() - othersAt) / 1000;
    await sleep(1000);
    const handovers = [...view.holds.values()].reduce((n, holds) => n + Math.max(0, holds.length - 1), 0);
    return {
      sessions,
      senders: options.senders,
      leaseTtlMs,
      tickMs: Math.min(2000, Math.max(500, Math.floor(leaseTtlMs / 3))),
      firstAloneSeconds: Math.round(firstAloneSeconds * 10) / 10,
      balanceSeconds: even() ? Math.round(balanceSeconds * 10) / 10 : Number.NaN,
      heldPerSender: owners.map((o) => view.held(o).length),
      handovers,
      overlaps: view.overlaps(),
      balancing: judge(ids, view, sampled),
    };
  } finally {
    await nc.close().catch(() => undefined);
    await platform.stop();
    await servers.dispose();
  }
}

// Holds the leases of the sessions this sender runs: acquires a fair share of unowned sessions,
// renews the leases, stops a session at once when its lease is lost (before another owner can
// open it), and hands sessions over when more senders join. Running a session is RunningSession's.
import type { Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Lease, SessionLeases } from "../../../shared/nats/sessionLeases.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { SessionRegistry } from "../../../shared/redis/sessions.ts";
import type { StatusUpdate } from "../transports/transport.ts";
import { RunningSession, type SessionRunDeps } from "./runningSession.ts";

export interface SupervisorDeps extends SessionRunDeps {
  readonly leases: SessionLeases;
  readonly registry: SessionRegistry;
  readonly log: Logger;
  /** Raises the auth-state fence to a new lease's token; false if a newer owner exists. */
  readonly claimFence: (sessionId: string, token: number) => Promise<boolean>;
}

const decoder = new TextDecoder();

/** Sessions handed over in one tick at most: each waits for its worker's batch in hand. */
const MAX_HANDOVERS_PER_TICK = 100;

export class SessionSupervisor {
  private readonly sessions = new Map<string, RunningSession>();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private busy = false;
  private progress: Subscription | undefined;
  private released: Subscription | undefined;
  /**
   * Sessions another sender held when this one tried, with when to try again: not before their
   * lease could have lapsed. Without it, a sender one session short of its share asked for the
   * lease of every other session on every tick (two requests each).
   */
  private readonly heldElsewhere = new Map<string, number>();
  private lastLiveSenders = 0;

  constructor(private readonly deps: SupervisorDeps) {}

  get owned(): string[] {
    return [...this.sessions.keys()].sort();
  }

  statuses(): Array<{ sessionId: string; status: StatusUpdate["status"] }> {
    return [...this.sessions].map(([sessionId, running]) => ({ sessionId, status: running.status }));
  }

  async start(): Promise<void> {
    this.progress = this.deps.nats.nc.subscribe(subjects.allBlastProgress, {
      callback: (err, msg) => {
        if (!err) this.nudgePool(msg.data);
      },
    });
    this.released = this.deps.nats.nc.subscribe(subjects.leaseReleased, {
      callback: (err, msg) => {
        if (!err) this.heldElsewhere.delete(decoder.decode(msg.data));
      },
    });
    await this.tick();
    const every = Math.max(500, Math.floor(this.deps.leases.ttlMs / 3));
    this.timers = [
      setInterval(() => void this.guard(() => this.tick()), Math.min(2000, every)),
      setInterval(() => void this.guard(() => this.renewAll()), every),
    ];
  }

  /**
   * The projector's progress snapshots name the blast's pool: a running blast wakes the idle
   * workers of its accounts here, so a new or resumed blast starts now, not at the next poll.
   */
  private nudgePool(data: Uint8Array): void {
    try {
      const progress = JSON.parse(decoder.decode(data)) as { status?: unknown; sessionIds?: unknown };
      if (progress.status !== "running" || !Array.isArray(progress.sessionIds)) return;
      for (const sessionId of progress.sessionIds) {
        if (typeof sessionId === "string") this.sessions.get(sessionId)?.nudge();
      }
    } catch {
      // Not a snapshot this sender understands: the idle poll still finds the work.
    }
  }

  private async guard(step: () => Promise<void>): Promise<void> {
    if (this.stopping) return;
    try {
      await step();
    } catch (err) {
      this.deps.log.warn({ err }, "session supervision step failed");
    }
  }

  /** Takes up to a fair share of unowned sessions; gives back what it holds beyond that. */
  private async tick(): Promise<void> {
    if (this.busy || this.stopping) return;
    this.busy = true;
    try {
      const { leases, owner, registry } = this.deps;
      await leases.heartbeat(owner);
      const ids = await registry.ids();
      const live = await leases.liveSenders();
      // A sender left (released its leases, or went silent as they lapse): its sessions are free.
      if (live < this.lastLiveSenders) this.heldElsewhere.clear();
      this.lastLiveSenders = live;
      const share = Math.ceil(ids.length / Math.max(1, live));
      const now = Date.now();
      for (const sessionId of ids) {
        if (this.sessions.size >= share || this.stopping) break;
        if (this.sessions.has(sessionId) || (this.heldElsewhere.get(sessionId) ?? 0) > now) continue;
        const lease = await leases.acquire(sessionId, owner);
        if (!lease) {
          this.heldElsewhere.set(sessionId, now + leases.ttlMs);
          continue;
        }
        this.heldElsewhere.delete(sessionId);
        if (!(await this.deps.claimFence(sessionId, lease.token))) {
          await leases.release(lease);
          continue;
        }
        await this.run(sessionId, lease);
      }
      // The whole surplus at once (not one a tick): senders that start together even out in a tick.
      const surplus = Math.min(this.sessions.size - share, MAX_HANDOVERS_PER_TICK);
      if (surplus > 0) {
        await Promise.all(
          this.owned
            .slice(-surplus)
            .map((id) => this.stopSession(id, "handed over to balance senders", true)),
        );
      }
    } finally {
      this.busy = false;
    }
  }

  private async run(sessionId: string, lease: Lease): Promise<void> {
    const proxy = await this.deps.registry.proxy(sessionId);
    const running = new RunningSession(this.deps, sessionId, lease, proxy);
    this.sessions.set(sessionId, running);
    await running.start();
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.sessions.entries()].map(async ([sessionId, running]) => {
        try {
          const renewed = await this.deps.leases.renew(running.lease);
          if (renewed) running.lease = renewed;
          else await this.stopSession(sessionId, "lease lost to another sender", false);
        } catch (err) {
          // Cannot reach NATS: stop before the lease can lapse and be taken by someone else.
          if (Date.now() > running.lease.expiresAt - this.deps.leases.ttlMs / 3) {
            this.deps.log.error({ err, sessionId }, "cannot renew lease; stopping session");
            await this.stopSession(sessionId, "lease could not be renewed", false);
          }
        }
      }),
    );
  }

  private async stopSession(sessionId: string, why: string, release: boolean): Promise<void> {
    const running = this.sessions.get(sessionId);
    if (!running) return;
    this.sessions.delete(sessionId);
    await running.stop(why);
    if (!release) return;
    await this.deps.leases.release(running.lease).catch(() => undefined);
    this.deps.nats.nc.publish(subjects.leaseReleased, sessionId);
  }

  /** Graceful: each worker finishes the batch it has in hand, sockets close, leases are released. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.progress?.unsubscribe();
    this.released?.unsubscribe();
    for (const timer of this.timers) clearInterval(timer);
    for (const running of this.sessions.values()) {
      running.publishStatus({ status: "closed", reason: "its sender stopped" });
    }
    await Promise.all(this.owned.map((id) => this.stopSession(id, "sender stopping", true)));
    await this.deps.leases.leave(this.deps.owner).catch(() => undefined);
  }
}

// Single ownership of WhatsApp sessions across sender processes. A lease is a key in a JetStream
// KV bucket whose TTL is the bucket's max age: `create` acquires (fails while another owner holds
// it), `update` with the last revision renews, and the revision at acquisition is the fencing token
// that guards writes only the owner may make (auth state in Redis). nats-server 2.9 raises no
// event when a key expires, so takeover is found by retrying `create`.
//
// Which senders are alive is read from one watch on the presence bucket kept open for the life of
// this object: listing the keys instead costs an ephemeral consumer per call, which the server
// keeps for minutes, and the supervisor asks every couple of seconds.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvWatchEntry } from "@nats-io/kv";
import { ensureReplicas } from "./connection.ts";
import { SESSION_LEASES, SENDER_PRESENCE, bucketStream, leaseBucketConfig } from "./topology.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Lease {
  readonly sessionId: string;
  readonly owner: string;
  /** Revision of the acquiring write: grows with every new owner, never reused. */
  readonly token: number;
  /** Revision of the latest renewal, needed for the next one. */
  readonly revision: number;
  /** When this lease lapses unless renewed (local clock, with the TTL taken at acquire/renew). */
  readonly expiresAt: number;
}

type PresenceWatch = Awaited<ReturnType<KV["watch"]>>;

/** How long to wait before watching the presence bucket again after the watch ended. */
const REWATCH_DELAY_MS = 1000;

export class SessionLeases {
  /** When each sender was last heard from, on this process' clock. */
  private readonly heardFrom = new Map<string, number>();
  private watch: PresenceWatch | undefined;
  private rewatchTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly leases: KV,
    private readonly presence: KV,
    readonly ttlMs: number,
  ) {}

  /**
   * Resolves once the senders already present are known; call `close()` when done. `replicas` is
   * NATS_REPLICAS: buckets made before it changed are scaled to it.
   */
  static async open(nc: NatsConnection, ttlMs: number, replicas = 1): Promise<SessionLeases> {
    const kvm = new Kvm(nc);
    const leases = await kvm.create(SESSION_LEASES, leaseBucketConfig(ttlMs, replicas));
    const presence = await kvm.create(SENDER_PRESENCE, leaseBucketConfig(ttlMs, replicas));
    const jsm = await jetstreamManager(nc);
    for (const bucket of [SESSION_LEASES, SENDER_PRESENCE])
      await ensureReplicas(jsm, bucketStream.kv(bucket), replicas);
    const sessionLeases = new SessionLeases(nc, leases, presence, ttlMs);
    await sessionLeases.watchPresence();
    return sessionLeases;
  }

  /** Stops watching the presence bucket. Leases and presence are left as they are. */
  close(): void {
    this.closed = true;
    clearTimeout(this.rewatchTimer);
    this.watch?.stop();
    this.watch = undefined;
  }

  async acquire(sessionId: string, owner: string, now = Date.now()): Promise<Lease | undefined> {
    try {
      const revision = await this.leases.create(sessionId, encoder.encode(owner));
      return { sessionId, owner, token: revision, revision, expiresAt: now + this.ttlMs };
    } catch (err) {
      if (isTaken(err)) return undefined;
      throw err;
    }
  }

  /** Undefined when the lease was lost (expired and taken by another owner, or deleted). */
  async renew(lease: Lease, now = Date.now()): Promise<Lease | undefined> {
    try {
      const revision = await this.leases.update(lease.sessionId, encoder.encode(lease.owner), lease.revision);
      return { ...lease, revision, expiresAt: now + this.ttlMs };
    } catch (err) {
      if (isTaken(err)) return undefined;
      throw err;
    }
  }

  async release(lease: Lease): Promise<void> {
    await this.leases.delete(lease.sessionId, { previousSeq: lease.revision }).catch((err: unknown) => {
      if (!isTaken(err)) throw err;
    });
  }

  /**
   * Current owner of each leased session. Each call lists the keys through a new ephemeral
   * consumer that the server keeps for minutes: fine once, not for polling.
   */
  async owners(): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    for await (const key of await this.leases.keys()) {
      const entry = await this.leases.get(key);
      if (entry && entry.operation === "PUT") owners.set(key, decoder.decode(entry.value));
    }
    return owners;
  }

  /** Says this sender is alive; senders that stop saying it drop out after the TTL. */
  async heartbeat(owner: string): Promise<void> {
    await this.presence.put(owner, encoder.encode(String(Date.now())));
    // Counted at once: the watch may deliver this put only after the caller's next liveSenders().
    this.heardFrom.set(owner, Date.now());
  }

  async leave(owner: string): Promise<void> {
    await this.presence.delete(owner);
    this.heardFrom.delete(owner);
  }

  /**
   * Senders heard from within the TTL. Throws while the presence watch is down (NATS lost it):
   * a count that silently fell to zero would make this sender take every session.
   */
  async liveSenders(): Promise<number> {
    if (!this.watch) throw new Error("sender presence is not being watched right now");
    const now = Date.now();
    let count = 0;
    for (const [owner, at] of this.heardFrom) {
      // nats-server 2.9 sends no event when a key expires: a sender that stopped is aged out here.
      if (now - at >= this.ttlMs) this.heardFrom.delete(owner);
      else count++;
    }
    return count;
  }

  /** Resolves once the watch has delivered every key present when it started. */
  private async watchPresence(): Promise<void> {
    const watch = await this.presence.watch();
    this.watch = watch;
    let caughtUp = false;
    let signalCaughtUp = () => {};
    const hasCaughtUp = new Promise<void>((resolve) => (signalCaughtUp = resolve));
    const catchUp = () => {
      caughtUp = true;
      signalCaughtUp();
    };
    const ended = () => this.watchEnded(watch);
    void (async () => {
      for await (const entry of watch) {
        this.record(entry, caughtUp);
        // Nothing left pending on the watch's consumer: every key older than the watch is here.
        if (entry.delta === 0) catchUp();
      }
    })().then(ended, ended);
    // An empty bucket delivers no entry to wait for. Without the count, the fallback below decides.
    const stored = await this.presence.status().then(
      (status) => status.values,
      () => undefined,
    );
    if (stored === 0) catchUp();
    // A key can expire between the count and its delivery; after a TTL every older key has either
    // arrived or expired, so the view is complete by then whatever happened.
    let fallback: NodeJS.Timeout | undefined;
    await Promise.race([
      hasCaughtUp,
      new Promise<void>((resolve) => (fallback = setTimeout(resolve, this.ttlMs))),
    ]);
    clearTimeout(fallback);
    catchUp();
  }

  private record(entry: KvWatchEntry, live: boolean): void {
    if (entry.operation !== "PUT") {
      this.heardFrom.delete(entry.key);
      return;
    }
    const now = Date.now();
    // A live heartbeat is dated by its arrival, which keeps liveness free of clock skew between
    // hosts; one from before the watch started can only be dated by the server's timestamp, kept
    // within what the bucket's TTL allows.
    const at = live ? now : Math.max(now - this.ttlMs, Math.min(now, entry.created.getTime()));
    this.heardFrom.set(entry.key, Math.max(at, this.heardFrom.get(entry.key) ?? at));
  }

  /** A watch ends by itself only when the client gives up on its consumer: watch again. */
  private watchEnded(watch: PresenceWatch): void {
    if (this.watch !== watch) return;
    this.watch = undefined;
    this.rewatchLater();
  }

  private rewatchLater(): void {
    if (this.closed || this.nc.isClosed() || this.nc.isDraining()) return;
    this.rewatchTimer = setTimeout(() => {
      if (!this.closed) this.watchPresence().catch(() => this.rewatchLater());
    }, REWATCH_DELAY_MS);
  }
}

function isTaken(err: unknown): boolean {
  const text = String((err as { message?: string })?.message ?? err);
  return /wrong last sequence|key exists|exists/i.test(text);
}

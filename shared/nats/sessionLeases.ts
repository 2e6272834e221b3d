// Single ownership of WhatsApp sessions across sender processes. A lease is a key in a JetStream
// KV bucket whose TTL is the bucket's max age: `create` acquires (fails while another owner holds
// it), `update` with the last revision renews, and the revision at acquisition is the fencing token
// that guards writes only the owner may make (auth state in Redis). nats-server 2.9 raises no
// event when a key expires, so takeover is found by retrying `create`.
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { SESSION_LEASES, SENDER_PRESENCE } from "./topology.ts";

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

export class SessionLeases {
  private constructor(
    private readonly leases: KV,
    private readonly presence: KV,
    readonly ttlMs: number,
  ) {}

  static async open(nc: NatsConnection, ttlMs: number): Promise<SessionLeases> {
    const kvm = new Kvm(nc);
    const leases = await kvm.create(SESSION_LEASES, { ttl: ttlMs, history: 1 });
    const presence = await kvm.create(SENDER_PRESENCE, { ttl: ttlMs, history: 1 });
    return new SessionLeases(leases, presence, ttlMs);
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

  /** Current owner of each leased session. */
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
  }

  async leave(owner: string): Promise<void> {
    await this.presence.delete(owner);
  }

  async liveSenders(): Promise<number> {
    let count = 0;
    for await (const key of await this.presence.keys()) {
      const entry = await this.presence.get(key);
      if (entry && entry.operation === "PUT") count++;
    }
    return count;
  }
}

function isTaken(err: unknown): boolean {
  const text = String((err as { message?: string })?.message ?? err);
  return /wrong last sequence|key exists|exists/i.test(text);
}

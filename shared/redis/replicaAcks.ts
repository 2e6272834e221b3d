// Redis replicates asynchronously: a primary that fails right after answering may take writes its
// replica never got, and a failover then forgets them. For the writes that must survive a failover
// (an idempotency claim, before its message is sent; WhatsApp credentials), the caller waits until
// enough replicas hold every write of the connection so far (WAIT), and treats fewer as a failure.
import type { Redis } from "ioredis";

export interface ReplicaAckPolicy {
  /** Replicas that must hold a write before it counts; 0: do not wait (a single Redis). */
  readonly replicas: number;
  readonly timeoutMs: number;
}

export const NO_REPLICA_ACKS: ReplicaAckPolicy = { replicas: 0, timeoutMs: 0 };

export class ReplicationError extends Error {}

/** Resolves once `policy.replicas` replicas hold every write made on `redis` so far. */
export async function confirmReplicated(redis: Redis, policy: ReplicaAckPolicy, what: string): Promise<void> {
  if (policy.replicas <= 0) return;
  const acked = Number(await redis.call("WAIT", policy.replicas, policy.timeoutMs));
  if (acked < policy.replicas) {
    throw new ReplicationError(
      `${what} reached ${acked} of ${policy.replicas} Redis replica(s) in ${policy.timeoutMs} ms: not relied on`,
    );
  }
}

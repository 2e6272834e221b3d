// The raw JetStream ceiling on this machine: async publish into a work-queue stream and
// consume() + ack() out of it, with the payload of a real send-work message and nothing else
// (no idempotency record, no event log, no Redis), the bound the whole pipeline is compared to.
import { AckPolicy } from "@nats-io/jetstream";
import { newId } from "../../shared/domain/ids.ts";
import { connectNats, ensureStreams, type Nats } from "../../shared/nats/connection.ts";
import { SEND_WORK, subjects } from "../../shared/nats/topology.ts";
import { startNats, startNatsCluster } from "../harness/servers.ts";
import { sendWorkPayload } from "./benchSupport.ts";

/** Publishes kept in flight before awaiting their acks: the gateway's own window. */
const PUBLISH_WINDOW = 1000;

export interface CeilingResult {
  readonly messages: number;
  readonly publishPerSecond: number;
  readonly consumeAckPerSecond: number;
}

/** Publishes `count` send-work messages with async publish; returns the seconds it took. */
export async function publishRaw(
  nats: Nats,
  subject: string,
  blastId: string,
  count: number,
): Promise<number> {
  const payloads = Array.from({ length: count }, (_, idx) => sendWorkPayload(blastId, idx));
  const started = performance.now();
  let window: Promise<unknown>[] = [];
  for (const payload of payloads) {
    window.push(nats.js.publish(subject, payload));
    if (window.length >= PUBLISH_WINDOW) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
  return (performance.now() - started) / 1000;
}

async function consumeAndAck(nats: Nats, subject: string, count: number): Promise<number> {
  const durable = "ceiling";
  await nats.jsm.consumers.add(SEND_WORK, {
    durable_name: durable,
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
  });
  const consumer = await nats.js.consumers.get(SEND_WORK, durable);
  const started = performance.now();
  const messages = await consumer.consume();
  let seen = 0;
  for await (const msg of messages) {
    msg.ack();
    if (++seen >= count) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await messages.close();
  return seconds;
}

/** One run on a fresh nats-server with file storage, as the platform runs it. */
export async function measureCeiling(messages: number): Promise<CeilingResult> {
  const server = await startNats();
  const nats = await connectNats(server.url, "bench-ceiling");
  try {
    await ensureStreams(nats.jsm);
    const blastId = newId("b");
    const subject = subjects.sendWork(blastId);
    const publishSeconds = await publishRaw(nats, subject, blastId, messages);
    const consumeSeconds = await consumeAndAck(nats, subject, messages);
    return {
      messages,
      publishPerSecond: messages / publishSeconds,
      consumeAckPerSecond: messages / consumeSeconds,
    };
  } finally {
    await nats.nc.close();
    await server.dispose();
  }
}

export interface ClusterCeilingResult extends CeilingResult {
  readonly replicas: number;
}

/**
 * The same on a 3-node JetStream cluster (all on this machine), with the streams at `replicas`:
 * what NATS_REPLICAS=3 costs the write path against R1 on the same cluster.
 */
export async function measureClusterCeiling(
  messages: number,
  replicas: number,
): Promise<ClusterCeilingResult> {
  const cluster = await startNatsCluster(3);
  const nats = await connectNats(cluster.url, "bench-cluster-ceiling");
  try {
    await ensureStreams(nats.jsm, { replicas });
    if (replicas > 1) await cluster.waitForReplicas(SEND_WORK);
    const blastId = newId("b");
    const subject = subjects.sendWork(blastId);
    const publishSeconds = await publishRaw(nats, subject, blastId, messages);
    const consumeSeconds = await consumeAndAck(nats, subject, messages);
    return {
      replicas,
      messages,
      publishPerSecond: messages / publishSeconds,
      consumeAckPerSecond: messages / consumeSeconds,
    };
  } finally {
    await nats.nc.close();
    await cluster.dispose();
  }
}

// One blast's queued work as one account pulls it: the blast's durable consumer (shared by its
// pool, created by whichever account gets there first), and batches sized to what is there, so a
// batch neither waits for messages that will not come nor takes more than it can send.
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Nats } from "../../../shared/nats/connection.ts";
import { isNotFound } from "../../../shared/nats/connection.ts";
import { SEND_WORK, sendWorkConsumer, sendWorkConsumerConfig } from "../../../shared/nats/topology.ts";

/** The shortest pull the client allows; a pull of one returns as soon as a message is there. */
const PULL_EXPIRES_MS = 1000;

export class BlastWork {
  private consumer: Consumer | undefined;
  /** Messages the blast still had queued after the last one this account took (JetStream's count). */
  private pending = 0;
  /** This account has taken work from the blast before: an empty queue means drained, not "not yet". */
  private received = false;

  constructor(
    private readonly nats: Nats,
    readonly blastId: string,
    private readonly ackWaitMs: number,
    /** Messages the whole pool may hold unacked at once. */
    private readonly inFlight: number,
    /** Accounts pulling from the same consumer. */
    private readonly poolSize: number,
  ) {}

  private async open(): Promise<Consumer> {
    if (this.consumer) return this.consumer;
    const name = sendWorkConsumer(this.blastId);
    try {
      await this.nats.jsm.consumers.info(SEND_WORK, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.nats.jsm.consumers.add(
        SEND_WORK,
        sendWorkConsumerConfig(this.blastId, this.ackWaitMs, this.inFlight),
      );
    }
    this.consumer = await this.nats.js.consumers.get(SEND_WORK, name);
    return this.consumer;
  }

  /**
   * Up to `max` messages. A pull for more than one asks only for what JetStream says is queued
   * (an account's share of it, in a pool, where the others take from the same queue), so it is
   * answered at once; a pull for more than is there would wait out its expiry. A pull of one waits
   * up to a second for work to arrive, as does the first pull of a blast whose work is still being
   * queued; an account that has drained a blast moves on at once instead.
   */
  async take(max: number): Promise<JsMsg[]> {
    const consumer = await this.open();
    if (max > 1 && (this.poolSize > 1 || this.pending === 0)) {
      const info = await consumer.info(false);
      this.pending = info.num_pending === 0 ? 0 : Math.max(1, Math.floor(info.num_pending / this.poolSize));
      // Nothing queued and nothing out (a message handed back waits among the unacked ones).
      const drained = info.num_pending === 0 && info.num_ack_pending === 0;
      if (drained && this.received) return [];
    }
    const want = Math.max(1, Math.min(max, this.pending));
    const taken: JsMsg[] = [];
    if (want === 1) {
      const msg = await consumer.next({ expires: PULL_EXPIRES_MS });
      if (msg) taken.push(msg);
    } else {
      const batch = await consumer.fetch({ max_messages: want, expires: PULL_EXPIRES_MS });
      for await (const msg of batch) {
        taken.push(msg);
        if (taken.length >= want) break;
      }
    }
    const last = taken.at(-1);
    this.pending = last ? last.info.pending : 0;
    if (last) this.received = true;
    return taken;
  }

  /** Deletes the blast's consumer once it has no work left (any account of the pool may). */
  async close(): Promise<void> {
    this.consumer = undefined;
    await this.nats.jsm.consumers.delete(SEND_WORK, sendWorkConsumer(this.blastId)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

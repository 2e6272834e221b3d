// Applies the event log to the Redis projection, in order, exactly once per event (the projection
// stores the last applied sequence), publishes progress snapshots, and closes a blast with a
// `completed` event when every recipient has an outcome. If Redis comes back without events it
// had projected (restored from a backup, a failover to a lagging replica), the projector reads the
// log again from the last one Redis still has.
import type { ConsumerMessages } from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { BlastError, decide, type BlastEvent, type BlastProgress } from "../../shared/domain/blast.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import { appendEvents, decodeEvent } from "../../shared/nats/eventLog.ts";
import { BLAST_EVENTS, subjects } from "../../shared/nats/topology.ts";
import type { BlastProjection } from "../../shared/redis/projection.ts";
import { ProgressThrottle } from "./progressThrottle.ts";

const encoder = new TextEncoder();

export class Projector {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly throttle: ProgressThrottle;
  /** The last stream sequence this projector saw Redis hold. */
  private position = 0;
  /** Where to read from again, once Redis was found behind `position`. */
  private rewindTo: number | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly nats: Nats,
    private readonly projection: BlastProjection,
    private readonly log: Logger,
    progressIntervalMs = 100,
  ) {
    this.throttle = new ProgressThrottle(progressIntervalMs, (p) => this.publishProgress(p));
  }

  async start(): Promise<void> {
    const from = await this.projection.lastSeq();
    this.messages = await this.follow(from);
    this.unsubscribe = this.projection.onReady(() => {
      this.checkRedis().catch((err: unknown) => this.log.warn({ err }, "could not check Redis' projection"));
    });
    this.loop = this.run(this.messages).catch((err: unknown) => {
      this.log.fatal({ err }, "projector stopped");
      process.exitCode = 1;
    });
  }

  private async follow(after: number): Promise<ConsumerMessages> {
    this.position = after;
    const consumer = await this.nats.js.consumers.get(BLAST_EVENTS, {
      filter_subjects: subjects.allBlastEvents,
      ...(after > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    this.log.info({ fromSeq: after + 1 }, "projector following the event log");
    return consumer.consume();
  }

  private async run(first: ConsumerMessages): Promise<void> {
    let messages = first;
    for (;;) {
      if (this.stopped) {
        await messages.close();
        return;
      }
      for await (const msg of messages) {
        let event: BlastEvent;
        try {
          event = decodeEvent(msg.data);
        } catch (err) {
          // Not one of ours (a hand-published test message, a newer version's event): counting it
          // could only corrupt the counters, and stopping would stop every blast's progress.
          this.log.error({ err, seq: msg.seq, subject: msg.subject }, "skipping a malformed event");
          continue;
        }
        await this.handle(msg.seq, event);
        if (this.rewindTo !== undefined) break;
      }
      await messages.close();
      const from = this.rewindTo;
      if (this.stopped) return;
      if (from === undefined) throw new Error("the event log consumer ended");
      this.rewindTo = undefined;
      this.log.warn(
        { projected: this.position, redisHas: from },
        "Redis lost projected events; reading them again",
      );
      messages = this.messages = await this.follow(from);
    }
  }

  /** After a reconnect: a Redis that came back older is caught now, not at the next event. */
  private async checkRedis(): Promise<void> {
    const last = await this.projection.lastSeq();
    if (last < this.position && this.rewindTo === undefined) {
      this.rewindTo = last;
      await this.messages?.close();
    }
  }

  private async handle(seq: number, event: BlastEvent): Promise<void> {
    const result = await this.projection.apply(seq, event, this.position);
    if (result.behindAt !== undefined) {
      this.rewindTo = Math.min(result.behindAt, this.rewindTo ?? Infinity);
      return;
    }
    this.position = Math.max(this.position, seq);
    if (!result.progress) return;
    if (result.applied) this.throttle.offer(result.progress);
    const { progress } = result;
    if (progress.pending === 0 && (progress.status === "running" || progress.status === "paused")) {
      await this.complete(event.data.blastId);
    }
  }

  private async complete(blastId: string): Promise<void> {
    try {
      const events = decide({ type: "complete", now: new Date() }, await this.projection.state(blastId));
      await appendEvents(this.nats.js, events);
    } catch (err) {
      if (!(err instanceof BlastError)) throw err;
    }
  }

  private publishProgress(progress: BlastProgress): void {
    this.nats.nc.publish(
      subjects.blastProgress(progress.blastId),
      encoder.encode(JSON.stringify({ type: "blast_progress", ...progress })),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.throttle.close();
    await this.messages?.close();
    await this.loop;
  }
}

// Applies the event log to the Redis projection, in order, exactly once per event (the projection
// stores the last applied sequence), publishes progress snapshots, and closes a blast with a
// `completed` event when every recipient has an outcome.
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

  constructor(
    private readonly nats: Nats,
    private readonly projection: BlastProjection,
    private readonly log: Logger,
    progressIntervalMs = 100,
  ) {
    this.throttle = new ProgressThrottle(progressIntervalMs, (p) => this.publishProgress(p));
  }

  async start(): Promise<void> {
    const after = await this.projection.lastSeq();
    const consumer = await this.nats.js.consumers.get(BLAST_EVENTS, {
      filter_subjects: subjects.allBlastEvents,
      ...(after > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.log.info({ fromSeq: after + 1 }, "projector following the event log");
    this.loop = (async () => {
      for await (const msg of messages) {
        await this.handle(msg.seq, decodeEvent(msg.data));
      }
    })().catch((err: unknown) => {
      this.log.fatal({ err }, "projector stopped");
      process.exitCode = 1;
    });
  }

  private async handle(seq: number, event: BlastEvent): Promise<void> {
    const result = await this.projection.apply(seq, event);
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
    this.throttle.close();
    await this.messages?.close();
    await this.loop;
  }
}

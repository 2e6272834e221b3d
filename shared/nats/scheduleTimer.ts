// A timer for things due at a time (a scheduled blast's start), built on what nats-server 2.9.10
// has: no scheduled messages, but streams, durable consumers and negative acks with a delay. Each
// schedule is the one message on `schedule.<id>` in SCHEDULES (one per subject: rescheduling
// replaces it, cancelling replaces it with a cleared marker). Every timer process pulls from one shared durable consumer;
// a schedule not yet due is handed back with a delay that ends at its time (at most a minute, so
// a clock or an edit is looked at again), and the server holds it meanwhile, so nothing of a
// schedule lives in a process: every service can restart and it still fires on time. When it is
// due, the timer that holds it calls `onDue`, then acks. `onDue` must be idempotent (a timer that
// dies before its ack hands the schedule to another): for a blast, the start is a `decide` that
// refuses a blast already started, appended with a message id.
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { ensureDurableConsumer } from "./durableConsumers.ts";
import { isNotFound, type Nats } from "./connection.ts";
import { SCHEDULES, schedulerConsumerConfig, subjects } from "./topology.ts";

/** Longest a schedule is handed back for before it is looked at again. */
const MAX_HOLD_MS = 60_000;
/** A failed `onDue` is tried again after this. */
const RETRY_MS = 1000;

interface StoredSchedule {
  readonly id: string;
  readonly at: string;
  /** Cleared: nothing fires. */
  readonly cleared?: boolean;
}

/** Sets (or moves) when `id` is due. */
export async function setSchedule(nats: Nats, id: string, at: Date): Promise<void> {
  const schedule: StoredSchedule = { id, at: at.toISOString() };
  await nats.js.publish(subjects.schedule(id), JSON.stringify(schedule));
}

/**
 * Takes `id`'s schedule away: it will not fire. A cleared marker replaces the schedule rather than
 * a purge, because on nats-server 2.9 purging one subject also drops the pending (handed back)
 * messages of other subjects from the consumer: every other schedule would be lost.
 */
export async function clearSchedule(nats: Nats, id: string): Promise<void> {
  const cleared: StoredSchedule = { id, at: new Date(0).toISOString(), cleared: true };
  await nats.js.publish(subjects.schedule(id), JSON.stringify(cleared));
}

/** How long to hand a schedule back for, or 0 when it is due. */
export function holdFor(at: number, now: number, maxHoldMs = MAX_HOLD_MS): number {
  return Math.max(0, Math.min(at - now, maxHoldMs));
}

export interface ScheduleTimerOptions {
  readonly nats: Nats;
  readonly log: Logger;
  /** How long a timer that died holding a due schedule delays it. */
  readonly ackWaitMs?: number;
}

export class ScheduleTimer {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: ScheduleTimerOptions) {}

  async start(onDue: (id: string, at: Date) => Promise<void>): Promise<void> {
    const { nats } = this.options;
    const consumer = await ensureDurableConsumer(
      nats,
      SCHEDULES,
      schedulerConsumerConfig(this.options.ackWaitMs ?? 5000),
    );
    const messages = await consumer.consume({ max_messages: 100 });
    this.messages = messages;
    this.loop = (async () => {
      for await (const msg of messages) await this.take(msg, onDue);
    })().catch((err: unknown) => this.options.log.error({ err }, "schedule timer stopped"));
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private async take(msg: JsMsg, onDue: (id: string, at: Date) => Promise<void>): Promise<void> {
    let schedule: StoredSchedule;
    try {
      schedule = msg.json<StoredSchedule>();
    } catch (err) {
      this.options.log.error({ err, seq: msg.seq }, "dropping a malformed schedule");
      msg.term();
      return;
    }
    if (schedule.cleared) {
      msg.ack();
      return;
    }
    const at = Date.parse(schedule.at);
    const hold = holdFor(at, Date.now());
    if (hold > 0) {
      msg.nak(hold);
      return;
    }
    const heartbeat = setInterval(() => msg.working(), 1000);
    try {
      // A schedule moved or cleared while this copy was on its way is no longer the one to fire.
      if (!(await this.isCurrent(msg))) {
        msg.ack();
        return;
      }
      await onDue(schedule.id, new Date(at));
      msg.ack();
    } catch (err) {
      this.options.log.warn({ err, id: schedule.id }, "due schedule not handled; retrying");
      msg.nak(RETRY_MS);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Whether this is still its subject's schedule; throws (to be tried again) when NATS cannot say. */
  private async isCurrent(msg: JsMsg): Promise<boolean> {
    const latest = await this.options.nats.jsm.streams
      .getMessage(SCHEDULES, { last_by_subj: msg.subject })
      .catch((err: unknown) => {
        // Purged (cleared) since: nothing to fire.
        if (isNotFound(err) || /no message found/i.test(String(err))) return null;
        throw err;
      });
    return latest?.seq === msg.seq;
  }
}

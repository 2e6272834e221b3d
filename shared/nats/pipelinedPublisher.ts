// JetStream publishes with many in flight and one shared reply inbox, for imports that queue a
// million messages. The client's `js.publish` is a request per message: a promise, a timer and two
// errors built with stack traces for each, which made a third of an import's CPU and most of its
// garbage (docs/PERFORMANCE.md). Here a message is a core publish whose reply subject carries a
// counter; acks are counted as they come back and read only when they are not plain successes.
// The server still stores every message before acking it, and a message id still makes a
// republish a duplicate the stream drops.
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";

export interface PipelinedPublisherOptions {
  /** Most messages awaiting their ack; a publish beyond it waits for half of them. */
  readonly window: number;
  /** How long the stream may stay silent while acks are awaited before the publishing fails. */
  readonly ackTimeoutMs: number;
}

const OK_ACK = new TextEncoder().encode('{"stream":');

function isPlainAck(data: Uint8Array): boolean {
  if (data.length < OK_ACK.length) return false;
  for (let i = 0; i < OK_ACK.length; i++) if (data[i] !== OK_ACK[i]) return false;
  return true;
}

/** Why the server answered other than with an ack: a JetStream error, or a status (503: no stream). */
function refusal(msg: Msg): Error {
  if (msg.data.length === 0) {
    const status = msg.headers?.code === 503 ? "no stream takes this subject" : `status ${msg.headers?.code}`;
    return new Error(`JetStream refused a message: ${status}`);
  }
  try {
    const answer = msg.json<{ error?: { description?: string } }>();
    return new Error(`JetStream refused a message: ${answer.error?.description ?? msg.string()}`);
  } catch {
    return new Error(`JetStream refused a message: ${msg.string()}`);
  }
}

export class PipelinedPublisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private sent = 0;
  private acked = 0;
  private failure: Error | undefined;
  private waiter: { until: number; resolve: () => void; reject: (err: Error) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: PipelinedPublisherOptions,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return this.fail(err);
        if (!isPlainAck(msg.data)) return this.fail(refusal(msg));
        this.acked++;
        this.wakeIfDone();
      },
    });
  }

  /** Publishes one message; resolves at once unless the window is full. */
  async publish(subject: string, data: Uint8Array, msgId: string): Promise<void> {
    if (this.failure) throw this.failure;
    const h = headers();
    h.set("Nats-Msg-Id", msgId);
    this.nc.publish(subject, data, { reply: `${this.inbox}.${this.sent++}`, headers: h });
    if (this.sent - this.acked >= this.options.window) {
      await this.until(this.sent - Math.floor(this.options.window / 2));
    }
  }

  /** Resolves when the stream has stored every message published so far; throws if any was refused. */
  async flush(): Promise<void> {
    await this.until(this.sent);
  }

  /** Stops listening for acks; messages published and not yet flushed are not waited for. */
  close(): void {
    clearTimeout(this.timer);
    this.sub.unsubscribe();
  }

  private until(acked: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.acked >= acked) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiter = { until: acked, resolve, reject };
      this.armTimer();
    });
  }

  /** The timer measures silence: every ack that arrives while waiting restarts it. */
  private armTimer(): void {
    clearTimeout(this.timer);
    const ackedWhenArmed = this.acked;
    this.timer = setTimeout(() => {
      if (this.acked === ackedWhenArmed) {
        this.fail(new Error(`no ack from JetStream for ${this.options.ackTimeoutMs} ms`));
      } else if (this.waiter) this.armTimer();
    }, this.options.ackTimeoutMs);
  }

  private wakeIfDone(): void {
    const waiter = this.waiter;
    if (!waiter || this.acked < waiter.until) return;
    this.waiter = undefined;
    clearTimeout(this.timer);
    waiter.resolve();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiter = this.waiter;
    this.waiter = undefined;
    clearTimeout(this.timer);
    waiter?.reject(this.failure);
  }
}

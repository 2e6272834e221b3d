// Queues planned recipients: each chunk is appended to the log (`blast.recipients_added`) and its
// send work published, pipelined, with a message id per recipient so a second queueing of the same
// recipients (a retried start) is dropped by JetStream, or else settled once by the claim.
import { decide, initialBlastState, RECIPIENTS_PER_EVENT } from "../../../shared/domain/blast.ts";
import type { PlannedRecipient } from "../../../shared/domain/recipients.ts";
import { encodeSendWork } from "../../../shared/messages/sendWork.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { PipelinedPublisher } from "../../../shared/nats/pipelinedPublisher.ts";
import { eventMsgId, subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";

const PUBLISH_WINDOW = 1000;
/** Silence from JetStream while work is queued that fails the import. */
const ACK_TIMEOUT_MS = 10_000;

export class RecipientQueue {
  private readonly work: PipelinedPublisher;
  private readonly subject: string;
  private chunk: PlannedRecipient[] = [];
  /** Something of the blast was appended or published: a failure must withdraw it. */
  private touched = false;

  constructor(
    private readonly deps: GatewayDeps,
    private readonly blastId: string,
  ) {
    this.work = new PipelinedPublisher(deps.nats.nc, {
      window: PUBLISH_WINDOW,
      ackTimeoutMs: ACK_TIMEOUT_MS,
    });
    this.subject = subjects.sendWork(blastId);
  }

  get started(): boolean {
    return this.touched;
  }

  async add(recipients: readonly PlannedRecipient[]): Promise<void> {
    for (const r of recipients) {
      this.chunk.push(r);
      if (this.chunk.length === RECIPIENTS_PER_EVENT) await this.flushChunk();
    }
  }

  /** Queues what is left and waits until JetStream stored all of it. */
  async finish(): Promise<void> {
    await this.flushChunk();
    await this.work.flush();
  }

  close(): void {
    this.work.close();
  }

  private async flushChunk(): Promise<void> {
    if (this.chunk.length === 0) return;
    const recipients = this.chunk;
    const { blastId } = this;
    this.chunk = [];
    this.touched = true;
    // The chunk's size is the Decider's to check; the blast existing or not is the caller's.
    await appendEvents(
      this.deps.nats.js,
      decide({ type: "add_recipients", blastId, recipients }, initialBlastState),
    );
    for (const r of recipients) {
      // The variant's text itself is in the durable work: a redelivery sends the same words.
      const payload = encodeSendWork({ blastId, idx: r.idx, phone: r.phone, text: r.text });
      await this.work.publish(this.subject, payload, eventMsgId.work(blastId, r.idx));
    }
  }
}

// Acts on what people write to our accounts, from INBOUND_MESSAGES through one durable consumer
// every sender shares (each message handled once, again only if its sender died first):
// - a reply to a blast message becomes that recipient's `recipient.replied` (the first one counts);
// - a message that is only an opt-out keyword puts the number on the suppression list, which the
//   send claim checks, so no queued message reaches them after it; an opt-in keyword takes off an
//   opt-out the person made by keyword (one an operator added stays);
// - every change of consent is logged to CONSENT_EVENTS.
// Each step is idempotent (message ids, first-reply marks, set semantics), so a redelivery after a
// crash repeats nothing a person or a counter would notice.
import { createHash } from "node:crypto";
import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decide } from "../../../shared/domain/blast.ts";
import { keywordForm, type ConsentKeywordMatcher } from "../../../shared/domain/consentKeywords.ts";
import { isValidId } from "../../../shared/domain/ids.ts";
import type { ConsentEvent } from "../../../shared/messages/consentEvents.ts";
import { decodeInboundEvent, type InboundEvent } from "../../../shared/messages/inboundEvents.ts";
import { appendConsentEvents } from "../../../shared/nats/consentLog.ts";
import { isNotFound, type Nats } from "../../../shared/nats/connection.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import {
  INBOUND_MESSAGES,
  INBOUND_PROCESSOR,
  inboundProcessorConsumerConfig,
} from "../../../shared/nats/topology.ts";
import type { Conversations } from "../../../shared/redis/conversations.ts";
import type { BlastProjection } from "../../../shared/redis/projection.ts";
import type { SuppressionList } from "../../../shared/redis/suppression.ts";

const RETRY_DELAY_MS = 5000;
const MAX_RETRY_DELAY_MS = 10 * 60_000;

export interface InboundProcessorDeps {
  readonly nats: Nats;
  readonly conversations: Conversations;
  readonly suppression: SuppressionList;
  readonly projection: BlastProjection;
  readonly keywords: ConsentKeywordMatcher;
  readonly replyWindowMs: number;
  readonly log: Logger;
  readonly onConsent?: (change: ConsentEvent["type"], sessionId: string) => void;
  /** What to answer an opt-out or opt-in with, from the account it reached; nothing when unset. */
  readonly confirmations?: { readonly optout?: string; readonly optin?: string };
  /** Has the account send one message at its pace; throws when it could not (retried later). */
  readonly sendReply?: (sessionId: string, to: string, text: string, messageId: string) => Promise<void>;
  /** Records that a confirmation went out; false when it already had (a redelivered message). */
  readonly claimConfirmation?: (sessionId: string, messageId: string) => Promise<boolean>;
  readonly releaseConfirmation?: (sessionId: string, messageId: string) => Promise<void>;
}

/** Our id for the confirmation answering one inbound message: the same on every retry. */
export function confirmationIdFor(sessionId: string, inboundMessageId: string): string {
  return `WC${createHash("sha256").update(`${sessionId}:${inboundMessageId}`).digest("hex").slice(0, 20).toUpperCase()}`;
}

/** What one inbound message led to, for tests and logs. */
export interface InboundHandled {
  readonly repliedTo?: { blastId: string; idx: number };
  readonly consent?: ConsentEvent["type"];
  readonly skipped?: "already_processed";
}

export class InboundProcessor {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: InboundProcessorDeps) {}

  async start(): Promise<void> {
    const consumer = await this.consumer();
    this.messages = await consumer.consume({ max_messages: 64 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const msg of messages) await this.take(msg);
    })().catch((err: unknown) => this.deps.log.error({ err }, "inbound processing stopped"));
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private async consumer(): Promise<Consumer> {
    const { jsm, js } = this.deps.nats;
    try {
      await jsm.consumers.info(INBOUND_MESSAGES, INBOUND_PROCESSOR);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(INBOUND_MESSAGES, inboundProcessorConsumerConfig()).catch((addErr: unknown) => {
        // Another sender created it first.
        if (!String(addErr).includes("already in use")) throw addErr;
      });
    }
    return js.consumers.get(INBOUND_MESSAGES, INBOUND_PROCESSOR);
  }

  private async take(msg: JsMsg): Promise<void> {
    let event: InboundEvent;
    try {
      event = decodeInboundEvent(msg.data);
    } catch (err) {
      this.deps.log.error({ err, seq: msg.seq }, "dropping a malformed inbound event");
      msg.term();
      return;
    }
    try {
      await this.handle(event);
      msg.ack();
    } catch (err) {
      // Longer and longer: a confirmation waiting for an account that is down for hours must not
      // spin through the queue every few seconds.
      const delay = Math.min(
        RETRY_DELAY_MS * 2 ** Math.min(msg.info.deliveryCount - 1, 10),
        MAX_RETRY_DELAY_MS,
      );
      this.deps.log.warn({ err, seq: msg.seq, retryInMs: delay }, "inbound message not processed; retrying");
      msg.nak(delay);
    }
  }

  async handle(event: InboundEvent): Promise<InboundHandled> {
    const { conversations } = this.deps;
    const { sessionId, messageId, phone, quotedMessageId } = event.data;
    // WhatsApp's ids name Redis keys here: anything unexpected is handled without the marker.
    const keyed = isValidId(messageId);
    if (keyed && (await conversations.isProcessed(sessionId, messageId)))
      return { skipped: "already_processed" };
    const repliedTo = await this.recordReply(event, quotedMessageId);
    if (phone !== undefined) await conversations.markRepliedTo(sessionId, phone);
    const consent = await this.actOnKeyword(event);
    if (keyed) await conversations.markProcessed(sessionId, messageId);
    return { ...(repliedTo ? { repliedTo } : {}), ...(consent ? { consent } : {}) };
  }

  private async recordReply(
    event: InboundEvent,
    quotedMessageId: string | undefined,
  ): Promise<{ blastId: string; idx: number } | undefined> {
    const { conversations, projection } = this.deps;
    const { sessionId, phone, messageId, text, receivedAt } = event.data;
    const target =
      event.data.answers ??
      (await conversations.replyTarget(sessionId, phone, quotedMessageId, Date.parse(receivedAt)));
    if (!target) return undefined;
    const state = await projection.state(target.blastId);
    if (state.status === "none") return undefined;
    const events = decide(
      {
        type: "record_reply",
        idx: target.idx,
        phone: phone ?? "",
        sessionId,
        messageId,
        // decide cuts it to what a blast keeps, without splitting a character.
        text,
        now: new Date(receivedAt),
      },
      state,
    );
    await appendEvents(this.deps.nats.js, events);
    return target;
  }

  private async actOnKeyword(event: InboundEvent): Promise<ConsentEvent["type"] | undefined> {
    const { suppression, keywords, log } = this.deps;
    const { sessionId, phone, messageId, text, receivedAt } = event.data;
    const intent = keywords.intentOf(text);
    if (!intent) return undefined;
    if (phone === undefined) {
      // Nothing to list it under: WhatsApp gave a LID the account has never seen with a number.
      log.warn({ sessionId, messageId, intent }, "consent keyword from a number that could not be resolved");
      return undefined;
    }
    const data = { phone, source: "keyword" as const, sessionId, messageId, text, at: receivedAt };
    if (intent === "optout") {
      await suppression.add([{ ...data, reason: `keyword ${keywordForm(text)}` }]);
      await appendConsentEvents(this.deps.nats.js, [
        { type: "consent.optout", data: { ...data, reason: `keyword ${keywordForm(text)}` } },
      ]);
      this.deps.onConsent?.("consent.optout", sessionId);
      await this.confirm(event, this.deps.confirmations?.optout);
      return "consent.optout";
    }
    const entry = await suppression.get(phone);
    if (!entry) return undefined;
    if (entry.source !== "keyword") {
      // An operator's entry (a complaint, a legal request) is not theirs to lift by keyword.
      log.info(
        { sessionId, messageId, source: entry.source },
        "opt-in keyword left an operator's entry in place",
      );
      return undefined;
    }
    await suppression.remove([phone]);
    await appendConsentEvents(this.deps.nats.js, [{ type: "consent.optin", data }]);
    this.deps.onConsent?.("consent.optin", sessionId);
    await this.confirm(event, this.deps.confirmations?.optin);
    return "consent.optin";
  }

  /**
   * Answers the person from the account they wrote to, once per message of theirs: the claim is
   * taken before sending and given back if the send fails, so a retry sends it and a redelivery
   * after it went out does not.
   */
  private async confirm(event: InboundEvent, text: string | undefined): Promise<void> {
    const { sendReply, claimConfirmation, releaseConfirmation } = this.deps;
    const { sessionId, messageId, phone } = event.data;
    if (!text || !phone || !sendReply || !claimConfirmation || !releaseConfirmation) return;
    if (!(await claimConfirmation(sessionId, messageId))) return;
    try {
      await sendReply(sessionId, phone, text, confirmationIdFor(sessionId, messageId));
    } catch (err) {
      await releaseConfirmation(sessionId, messageId);
      throw err;
    }
  }
}

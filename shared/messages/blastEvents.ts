// The blast event log's schema: every fact a blast's life records, as stored on
// `blast.<blastId>.<what>` in BLAST_EVENTS. Events are decoded through this schema, never cast, so
// a malformed or foreign message is refused at the edge instead of corrupting a fold.
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";

const PacingWindow = Type.Object({
  startHour: Type.Number(),
  endHour: Type.Number(),
  timeZone: Type.String(),
});

/** Pacing settings for one blast over its accounts' (mirrors `PacingOverrides`). */
const PacingOverridesSchema = Type.Object({
  minDelayMs: Type.Optional(Type.Number()),
  maxDelayMs: Type.Optional(Type.Number()),
  perMinute: Type.Optional(Type.Number()),
  perHour: Type.Optional(Type.Number()),
  perDay: Type.Optional(Type.Number()),
  typing: Type.Optional(Type.Boolean()),
  checkNumbers: Type.Optional(Type.Boolean()),
  window: Type.Optional(Type.Union([PacingWindow, Type.Null()])),
});

/** A blast's own frequency cap (mirrors `FrequencyCap`); null: sent without one. */
const FrequencyCapSchema = Type.Union([
  Type.Object({ max: Type.Integer({ minimum: 1 }), periodHours: Type.Integer({ minimum: 1 }) }),
  Type.Null(),
]);

/** What WhatsApp shows an attachment as. */
export const MediaKindSchema = Type.Union([
  Type.Literal("image"),
  Type.Literal("video"),
  Type.Literal("document"),
  Type.Literal("audio"),
]);

/** A blast's attachment, as the media library describes it (mirrors `MediaRef`); the bytes stay there. */
const MediaRefSchema = Type.Object({
  mediaId: Type.String(),
  kind: MediaKindSchema,
  mimetype: Type.String(),
  fileName: Type.String(),
  sha256: Type.String(),
  size: Type.Integer({ minimum: 1 }),
});

const VariantsSchema = Type.Array(Type.Object({ text: Type.String(), weight: Type.Number() }), {
  minItems: 1,
});

/** What a blast not yet started will send, and when: what an edit may change. */
const BlastPlanSchema = Type.Object({
  blastId: Type.String(),
  at: Type.String(),
  sessionIds: Type.Array(Type.String(), { minItems: 1 }),
  template: Type.String(),
  pacing: Type.Optional(PacingOverridesSchema),
  frequencyCap: Type.Optional(FrequencyCapSchema),
  media: Type.Optional(MediaRefSchema),
  variants: Type.Optional(VariantsSchema),
  /** ISO, UTC; absent: a draft. */
  scheduledFor: Type.Optional(Type.String()),
  timeZone: Type.Optional(Type.String()),
});

export type BlastPlanEdit = Static<typeof BlastPlanSchema>;

const RecipientRefSchema = Type.Object({
  idx: Type.Integer({ minimum: 0 }),
  phone: Type.String(),
  name: Type.Optional(Type.String()),
  /** The message variant it was rendered from (shared/domain/variants.ts), when the blast has any. */
  variant: Type.Optional(Type.String()),
});

/** One recipient's outcome inside a `recipients.settled` event. */
const SettledOutcomeSchema = Type.Union([
  Type.Object({
    idx: Type.Integer({ minimum: 0 }),
    phone: Type.String(),
    kind: Type.Literal("sent"),
    messageId: Type.String(),
  }),
  Type.Object({
    idx: Type.Integer({ minimum: 0 }),
    phone: Type.String(),
    kind: Type.Literal("failed"),
    reason: Type.String(),
  }),
  Type.Object({ idx: Type.Integer({ minimum: 0 }), phone: Type.String(), kind: Type.Literal("in_doubt") }),
]);

const event = <T extends string, D extends ReturnType<typeof Type.Object>>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

const recipientFact = Type.Object({
  blastId: Type.String(),
  idx: Type.Integer({ minimum: 0 }),
  phone: Type.String(),
  at: Type.String(),
});

const receiptData = Type.Object({
  blastId: Type.String(),
  idx: Type.Integer({ minimum: 0 }),
  phone: Type.String(),
  at: Type.String(),
  /** The account whose message it was (receipts logged before pools lack it). */
  sessionId: Type.Optional(Type.String()),
});

export const BlastEventSchema = Type.Union([
  event(
    "blast.created",
    Type.Object({
      blastId: Type.String(),
      /** The pool: every account that may send this blast's messages (one or more). */
      sessionIds: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
      /** Blasts created before pools name their one account here. */
      sessionId: Type.Optional(Type.String()),
      campaignId: Type.Optional(Type.String()),
      template: Type.String(),
      total: Type.Integer({ minimum: 0 }),
      rejected: Type.Integer({ minimum: 0 }),
      duplicates: Type.Integer({ minimum: 0 }),
      createdAt: Type.String(),
      pacing: Type.Optional(PacingOverridesSchema),
      /** Absent: the deployment's cap applies when the blast is sent. */
      frequencyCap: Type.Optional(FrequencyCapSchema),
      /** The attachment every recipient gets, the message its caption; absent: a text blast. */
      media: Type.Optional(MediaRefSchema),
      /** The texts it rotates, with their weights; `template` is then the first. Spintax stays in `template`. */
      variants: Type.Optional(VariantsSchema),
      /**
       * Set: the blast waits until then (ISO, UTC) and its recipients wait as kept rows; sent from
       * `blast.started` on. `timeZone` is the zone its time was given in, for showing it.
       */
      scheduledFor: Type.Optional(Type.String()),
      timeZone: Type.Optional(Type.String()),
      /** Saved to be scheduled or started later; sends nothing until `blast.started`. */
      draft: Type.Optional(Type.Boolean()),
    }),
  ),
  /**
   * A blast not yet started was changed: the plan as it now stands, whole (a later edit replaces
   * it). With `scheduledFor` it is scheduled then; without, it is a draft.
   */
  event("blast.edited", BlastPlanSchema),
  /** A scheduled blast's time came, or a person started a draft: its recipients are queued from here. */
  event("blast.started", Type.Object({ blastId: Type.String(), at: Type.String() })),
  event(
    "blast.recipients_added",
    Type.Object({ blastId: Type.String(), recipients: Type.Array(RecipientRefSchema) }),
  ),
  /** Outcomes settled by one account in one step: one event for a batch, or for a single send. */
  event(
    "recipients.settled",
    Type.Object({
      blastId: Type.String(),
      sessionId: Type.String(),
      at: Type.String(),
      outcomes: Type.Array(SettledOutcomeSchema, { minItems: 1 }),
    }),
  ),
  // One outcome per event, as blasts logged them before outcomes were batched; still folded.
  event(
    "recipient.sent",
    Type.Object({
      blastId: Type.String(),
      idx: Type.Integer({ minimum: 0 }),
      phone: Type.String(),
      messageId: Type.String(),
      at: Type.String(),
    }),
  ),
  event(
    "recipient.failed",
    Type.Object({
      blastId: Type.String(),
      idx: Type.Integer({ minimum: 0 }),
      phone: Type.String(),
      reason: Type.String(),
      at: Type.String(),
    }),
  ),
  event("recipient.in_doubt", recipientFact),
  event("recipient.delivered", receiptData),
  event("recipient.read", receiptData),
  /** The recipient's first reply to the blast (a message quoting ours, or one soon after it). */
  event(
    "recipient.replied",
    Type.Object({
      blastId: Type.String(),
      idx: Type.Integer({ minimum: 0 }),
      phone: Type.String(),
      /** The account the reply reached. */
      sessionId: Type.String(),
      /** WhatsApp's id of the reply. */
      messageId: Type.String(),
      /** The reply as written, cut to 1,000 characters. */
      text: Type.String(),
      at: Type.String(),
    }),
  ),
  event(
    "blast.paused",
    Type.Object({
      blastId: Type.String(),
      reason: Type.String(),
      at: Type.String(),
      /** Paused because no account in the pool could send, not by a person. */
      byPool: Type.Optional(Type.Boolean()),
    }),
  ),
  event("blast.resumed", Type.Object({ blastId: Type.String(), at: Type.String() })),
  event(
    "blast.account_paused",
    Type.Object({
      blastId: Type.String(),
      sessionId: Type.String(),
      reason: Type.String(),
      at: Type.String(),
    }),
  ),
  event(
    "blast.account_resumed",
    Type.Object({ blastId: Type.String(), sessionId: Type.String(), at: Type.String() }),
  ),
  event("blast.cancelled", Type.Object({ blastId: Type.String(), at: Type.String() })),
  event("blast.completed", Type.Object({ blastId: Type.String(), at: Type.String() })),
]);

export type BlastEvent = Static<typeof BlastEventSchema>;
export type BlastEventType = BlastEvent["type"];
export type SettledOutcome = Static<typeof SettledOutcomeSchema>;
export type RecipientRef = Static<typeof RecipientRefSchema>;

const checkEvent = Compile(BlastEventSchema);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeBlastEvent(event: BlastEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

export class MalformedEventError extends Error {}

export function decodeBlastEvent(data: Uint8Array): BlastEvent {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    throw new MalformedEventError("blast event is not JSON");
  }
  if (!checkEvent.Check(value)) {
    const first = checkEvent.Errors(value)[0];
    throw new MalformedEventError(
      `malformed blast event${first ? `: ${first.instancePath || "/"} ${first.message}` : ""}`,
    );
  }
  return value;
}

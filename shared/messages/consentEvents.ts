// Consent facts on `consent.optout` / `consent.optin` in CONSENT_EVENTS: every change to the
// suppression list, whoever made it, so that an opt-out being honoured can be shown later and
// webhooks can tell a CRM. Decoded through the schema, never cast.
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";

export const ConsentSourceSchema = Type.Union([
  /** The person wrote an opt-out (or opt-in) keyword to one of our accounts. */
  Type.Literal("keyword"),
  /** Someone added or removed the number through the API or the console. */
  Type.Literal("api"),
  /** The number was in a suppression list uploaded through the API or the console. */
  Type.Literal("import"),
]);

export const ConsentEventSchema = Type.Object({
  type: Type.Union([Type.Literal("consent.optout"), Type.Literal("consent.optin")]),
  data: Type.Object({
    /** E.164. */
    phone: Type.String(),
    source: ConsentSourceSchema,
    /** Why, as given (an API caller's note, "keyword STOP", an import's file name). */
    reason: Type.Optional(Type.String()),
    /** The account the keyword reached. */
    sessionId: Type.Optional(Type.String()),
    /** WhatsApp's id of the person's message that carried the keyword. */
    messageId: Type.Optional(Type.String()),
    /** The person's message as written (a keyword: short, and the proof of the request). */
    text: Type.Optional(Type.String()),
    at: Type.String(),
  }),
});

export type ConsentEvent = Static<typeof ConsentEventSchema>;
export type ConsentSource = Static<typeof ConsentSourceSchema>;

const checkConsent = Compile(ConsentEventSchema);

export function encodeConsentEvent(event: ConsentEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}

export function decodeConsentEvent(data: Uint8Array): ConsentEvent {
  const value: unknown = JSON.parse(new TextDecoder().decode(data));
  if (!checkConsent.Check(value)) throw new Error("malformed consent event");
  return value;
}

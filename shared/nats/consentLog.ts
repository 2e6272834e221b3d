// Appends consent facts (opt-outs, opt-ins) to CONSENT_EVENTS. Each carries a message id made of
// the change, the number and its time, so a retried append is stored once.
import type { JetStreamClient } from "@nats-io/jetstream";
import { encodeConsentEvent, type ConsentEvent } from "../messages/consentEvents.ts";
import { eventMsgId, subjects } from "./topology.ts";

/** Appends in order and waits until every one is stored. */
export async function appendConsentEvents(
  js: JetStreamClient,
  events: readonly ConsentEvent[],
): Promise<void> {
  for (const event of events) {
    const change = event.type === "consent.optout" ? "optout" : "optin";
    await js.publish(subjects.consentEvent(change), encodeConsentEvent(event), {
      msgID: eventMsgId.consent(change, event.data.phone, event.data.at),
    });
  }
}

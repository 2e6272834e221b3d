// Answers commands for one session over NATS request/reply: the gateway's (connect, logout,
// pairing code) and the inbound processor's (reply: a consent confirmation to send from this
// account) and test-send (a blast's first message, with its attachment, sent as a test). Only the
// sender that runs the session is subscribed, so it is the one that answers.
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { MediaRef } from "../../../shared/domain/media.ts";
import type { Nats } from "../../../shared/nats/connection.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { SendResult, SessionConnection } from "../transports/transport.ts";

/** One message outside any blast, sent from the account at its pace. */
export interface PacedMessage {
  readonly to: string;
  /** The text, or the attachment's caption ("" for none). */
  readonly text: string;
  readonly messageId: string;
  readonly media?: MediaRef;
  /** A test send from the blast form: logged as one, never part of a blast. */
  readonly test?: boolean;
}

/** Sends one message from the account at its pace (a consent confirmation, a test send). */
export type PacedReply = (message: PacedMessage) => Promise<SendResult>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function answerSessionCommands(
  nats: Nats,
  owner: string,
  sessionId: string,
  connection: SessionConnection,
  reply: PacedReply,
): Subscription {
  return nats.nc.subscribe(subjects.sessionCommands(sessionId), {
    callback: (err, msg) => {
      if (!err) void answer(owner, connection, reply, msg);
    },
  });
}

async function answer(
  owner: string,
  connection: SessionConnection,
  pacedReply: PacedReply,
  msg: Msg,
): Promise<void> {
  const what = msg.subject.split(".").at(-1);
  const reply = (body: object) => msg.respond(encoder.encode(JSON.stringify({ owner, ...body })));
  try {
    if (what === "connect") await connection.connect();
    else if (what === "logout") await connection.logout();
    else if (what === "pairing-code") {
      const { phone } = JSON.parse(decoder.decode(msg.data)) as { phone: string };
      return void reply({ ok: true, code: await connection.requestPairingCode(phone) });
    } else if (what === "reply") {
      const { to, text, messageId } = JSON.parse(decoder.decode(msg.data)) as Record<string, string>;
      if (!to || !text || !messageId)
        return void reply({ ok: false, error: "reply needs to, text and messageId" });
      const sent = await pacedReply({ to, text, messageId });
      return void reply(sent.ok ? { ok: true } : { ok: false, error: sent.reason });
    } else if (what === "test-send") {
      const message = JSON.parse(decoder.decode(msg.data)) as Partial<PacedMessage>;
      const { to, text, messageId, media } = message;
      if (!to || typeof text !== "string" || !messageId || (text === "" && !media))
        return void reply({ ok: false, error: "test-send needs to, text (or media) and messageId" });
      const sent = await pacedReply({ to, text, messageId, ...(media ? { media } : {}), test: true });
      return void reply(sent.ok ? { ok: true } : { ok: false, error: sent.reason });
    } else return void reply({ ok: false, error: `unknown command ${what}` });
    reply({ ok: true });
  } catch (err) {
    reply({ ok: false, error: (err as Error).message });
  }
}

/**
 * Asks whichever sender runs the session to send one message at the account's pace; throws when
 * no sender runs it or the send did not happen, so the caller can try again later.
 */
export async function requestPacedReply(
  nats: Nats,
  sessionId: string,
  to: string,
  text: string,
  messageId: string,
): Promise<void> {
  const answer = await nats.nc.request(
    subjects.sessionCommand(sessionId, "reply"),
    encoder.encode(JSON.stringify({ to, text, messageId })),
    // The owner may wait up to a minute for the account's next slot.
    { timeout: 75_000 },
  );
  const { ok, error } = JSON.parse(decoder.decode(answer.data)) as { ok: boolean; error?: string };
  if (!ok) throw new Error(`confirmation not sent from ${sessionId}: ${error ?? "unknown error"}`);
}

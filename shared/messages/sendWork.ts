// One recipient's send work, published on `send.pool.<blastId>` in the SEND_WORK stream and taken
// by whichever account of the blast's pool pulls it.
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";

export const SendWorkSchema = Type.Object({
  blastId: Type.String(),
  /** Set by blasts queued before pools, which went to one account. */
  sessionId: Type.Optional(Type.String()),
  idx: Type.Integer({ minimum: 0 }),
  phone: Type.String(),
  text: Type.String(),
});

export type SendWork = Static<typeof SendWorkSchema>;

// Compiled once: every recipient's work message is checked on its way into the sender.
const checkSendWork = Compile(SendWorkSchema);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeSendWork(work: SendWork): Uint8Array {
  return encoder.encode(JSON.stringify(work));
}

export function decodeSendWork(data: Uint8Array): SendWork {
  const value: unknown = JSON.parse(decoder.decode(data));
  if (!checkSendWork.Check(value)) throw new Error("malformed send work message");
  return value;
}

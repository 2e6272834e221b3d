// A test send from the blast form: the blast's first rendered message (its variant, its
// attachment) sent now to one or a few numbers from one account, through that account's sender at
// its pace. Nothing is published to a blast stream and no blast exists or is counted: the sender
// sends it like a consent confirmation and logs it as a test.
import { randomBytes } from "node:crypto";
import type { CountryCode } from "libphonenumber-js";
import type { MediaRef } from "../../../shared/domain/media.ts";
import { normalizePhone } from "../../../shared/domain/phones.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import { HttpError } from "../http/errors.ts";
import type { GatewayDeps } from "../deps.ts";
import { firstMessage, type CreateBlastInput } from "./blastCommands.ts";

/** Most numbers one test send reaches: a handful of the team's phones, never an audience. */
export const MAX_TEST_RECIPIENTS = 5;
/** The sender may wait up to a minute for the account's next slot, per number. */
const TEST_SEND_TIMEOUT_MS = 75_000;

export interface TestSendResult {
  readonly sessionId: string;
  readonly text: string;
  readonly variant?: string;
  readonly media?: MediaRef;
  readonly sent: { to: string; messageId: string }[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Our WhatsApp message id for a test: "WT" and random hex, where a blast's are "WB" and a hash of
 * (blast, recipient), so a test's receipts can never be read as a blast recipient's.
 */
export function testMessageId(): string {
  return `WT${randomBytes(10).toString("hex").toUpperCase()}`;
}

/** The numbers as E.164; an invalid or suppressed one refuses the whole test. */
async function testRecipients(deps: GatewayDeps, to: readonly string[]): Promise<string[]> {
  const phones: string[] = [];
  for (const raw of to) {
    const phone = normalizePhone(raw, deps.config.DEFAULT_COUNTRY as CountryCode);
    if (!phone.ok) throw new HttpError(400, `cannot send a test to ${raw}: ${phone.reason}`);
    if (!phones.includes(phone.e164)) phones.push(phone.e164);
  }
  // A number that opted out is not messaged again, test or not.
  const suppressed = [...(await deps.suppression.suppressedAmong(phones))];
  if (suppressed.length > 0) {
    throw new HttpError(400, `${suppressed.join(", ")} is on the suppression list; a test is not sent to it`);
  }
  return phones;
}

/**
 * Renders the blast's first message as the blast would (every check that refuses a blast before its
 * rows, then only as many rows as it takes), then has the account's sender send it to each number
 * in turn.
 */
export async function testSend(
  deps: GatewayDeps,
  input: CreateBlastInput,
  to: readonly string[],
  sessionId: string | undefined,
): Promise<TestSendResult> {
  const phones = await testRecipients(deps, to);
  const account = sessionId ?? input.sessionIds[0];
  if (account === undefined) throw new HttpError(400, "give sessionId: the account to send the test from");
  if (!(await deps.sessions.exists(account))) throw new HttpError(404, `session ${account} not found`);
  const first = await firstMessage(deps, input);
  if (!first) throw new HttpError(400, "the blast has no valid recipient to render the message for");
  const { media } = input;
  const sent: { to: string; messageId: string }[] = [];
  for (const phone of phones) {
    const messageId = testMessageId();
    const payload = { to: phone, text: first.text, messageId, ...(media ? { media } : {}) };
    let answer: { ok: boolean; error?: string };
    try {
      const reply = await deps.nats.nc.request(
        subjects.sessionCommand(account, "test-send"),
        encoder.encode(JSON.stringify(payload)),
        { timeout: TEST_SEND_TIMEOUT_MS },
      );
      answer = JSON.parse(decoder.decode(reply.data)) as { ok: boolean; error?: string };
    } catch {
      throw new HttpError(503, `no sender is running session ${account} right now; try again shortly`);
    }
    if (!answer.ok) {
      const already = sent.length > 0 ? ` (sent to ${sent.map((s) => s.to).join(", ")} before it)` : "";
      throw new HttpError(
        503,
        `the test to ${phone} was not sent: ${answer.error ?? "unknown error"}${already}`,
      );
    }
    sent.push({ to: phone, messageId });
  }
  return {
    sessionId: account,
    text: first.text,
    ...(first.variant !== undefined ? { variant: first.variant } : {}),
    ...(media ? { media } : {}),
    sent,
  };
}

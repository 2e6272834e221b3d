// The test-send API through app.inject against real NATS and Redis, with a stand-in for the
// account's sender on the session's command subject: what the sender is asked to send, that
// nothing reaches a blast stream or Redis, and the 503s when no sender runs the account or the
// send fails.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Subscription } from "@nats-io/transport-node";
import { BLAST_EVENTS, SEND_WORK, subjects } from "../../../shared/nats/topology.ts";
import { dataKeyCount, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

interface AskedTestSend {
  to: string;
  text: string;
  messageId: string;
  media?: { mediaId: string };
}

describe("test send API", () => {
  let gw: GatewayUnderTest;
  let standIn: Subscription | undefined;
  const asked: AskedTestSend[] = [];

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    standIn?.unsubscribe();
    await gw?.close();
  });

  /** Answers s1's test-send commands as its sender would, with `error` when given. */
  function runSender(error?: string): void {
    standIn?.unsubscribe();
    standIn = gw.nats.nc.subscribe(subjects.sessionCommand("s1", "test-send"), {
      callback: (_err, msg) => {
        asked.push(JSON.parse(new TextDecoder().decode(msg.data)) as AskedTestSend);
        msg.respond(JSON.stringify(error ? { ok: false, error } : { ok: true, owner: "stand-in" }));
      },
    });
  }

  const testSend = (payload: object) => gw.inject({ method: "POST", url: "/api/blasts/test-send", payload });
  const streamMessages = async (name: string) => (await gw.nats.jsm.streams.info(name)).state.messages;
  const blast = {
    sessionId: "s1",
    variants: [{ text: "Hi {name}" }, { text: "Hello {name}" }],
    recipients: [
      { phone: "+12025550181", name: "Ana" },
      { phone: "+12025550182", name: "Bo" },
    ],
  };

  it("asks the account's sender for the first rendered variant, and makes nothing of a blast", async () => {
    runSender();
    const before = {
      events: await streamMessages(BLAST_EVENTS),
      work: await streamMessages(SEND_WORK),
      keys: await dataKeyCount(gw.redis),
    };
    const preview = await gw.inject({ method: "POST", url: "/api/blasts/preview", payload: blast });
    const first = preview.json<{ messages: Array<{ text: string; variant: string }> }>().messages[0];
    assert.ok(first);
    asked.length = 0;
    const res = await testSend({ ...blast, to: ["+1 202 555 0191", "+12025550192", "+12025550191"] });
    assert.equal(res.statusCode, 200, res.body);
    const answer = res.json<{
      text: string;
      variant: string;
      sent: Array<{ to: string; messageId: string }>;
    }>();
    assert.equal(answer.text, first.text);
    assert.equal(answer.variant, first.variant);
    assert.deepEqual(
      answer.sent.map((s) => s.to),
      ["+12025550191", "+12025550192"],
      "normalized, each number once",
    );
    assert.deepEqual(
      asked.map(({ to, text, media }) => ({ to, text, media })),
      answer.sent.map(({ to }) => ({ to, text: first.text, media: undefined })),
    );
    assert.deepEqual(
      asked.map((a) => a.messageId),
      answer.sent.map((s) => s.messageId),
    );
    for (const { messageId } of answer.sent) assert.match(messageId, /^WT[0-9A-F]{20}$/);
    assert.equal(await streamMessages(BLAST_EVENTS), before.events, "no event appended");
    assert.equal(await streamMessages(SEND_WORK), before.work, "no work queued");
    assert.equal(await dataKeyCount(gw.redis), before.keys, "no Redis key written");
  });

  it("answers 503 with the reason when the send fails, and when no sender runs the account", async () => {
    runSender("session_not_open");
    const failed = await testSend({ ...blast, to: ["+12025550191"] });
    assert.equal(failed.statusCode, 503);
    assert.match(failed.json<{ message: string }>().message, /not sent: session_not_open/);
    standIn?.unsubscribe();
    standIn = undefined;
    const nobody = await testSend({ ...blast, to: ["+12025550191"] });
    assert.equal(nobody.statusCode, 503);
    assert.match(nobody.json<{ message: string }>().message, /no sender is running session s1/);
  });

  it("refuses bad numbers, too many numbers and an unknown account before asking any sender", async () => {
    runSender();
    asked.length = 0;
    const cases: Array<[object, number, RegExp]> = [
      [{ ...blast, to: ["nope"] }, 400, /cannot send a test to nope/],
      [{ ...blast, to: [] }, 400, /to/],
      [{ ...blast, to: Array.from({ length: 6 }, (_, i) => `+1202555019${i}`) }, 400, /to/],
      [{ ...blast, sessionId: "nobody", to: ["+12025550191"] }, 404, /session nobody not found/],
    ];
    for (const [payload, status, message] of cases) {
      const res = await testSend(payload);
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.json<{ message: string }>().message, message);
    }
    assert.equal(asked.length, 0);
  });
});

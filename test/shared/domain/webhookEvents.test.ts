import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isWebhookEventId,
  pingEvent,
  wantsEvent,
  webhookEventId,
  webhookEventOfConsent,
  webhookEventOfInbound,
  webhookEventsOfBlastEvent,
  type SourcePosition,
} from "../../../shared/domain/webhookEvents.ts";
import { decodeQueuedWebhook, encodeWebhookEvent } from "../../../shared/messages/webhookEvents.ts";

const at = "2026-11-30T12:00:00.000Z";
const position: SourcePosition = { source: "blast", streamCreatedMs: 1_764_000_000_000, seq: 42 };

describe("webhook events", () => {
  it("splits a settled batch into one event per recipient, in the batch's order, with ids of their own", () => {
    const events = webhookEventsOfBlastEvent(
      {
        type: "recipients.settled",
        data: {
          blastId: "b1",
          sessionId: "s1",
          at,
          outcomes: [
            { idx: 7, phone: "+12025550107", kind: "sent", messageId: "m7" },
            { idx: 3, phone: "+12025550103", kind: "failed", reason: "not_on_whatsapp" },
            { idx: 9, phone: "+12025550109", kind: "in_doubt" },
          ],
        },
      },
      position,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.data.idx]),
      [
        ["recipient.sent", 7],
        ["recipient.failed", 3],
        ["recipient.in_doubt", 9],
      ],
    );
    assert.deepEqual(events[0]?.data, {
      blastId: "b1",
      idx: 7,
      phone: "+12025550107",
      sessionId: "s1",
      at,
      messageId: "m7",
    });
    assert.equal(events[1]?.data.reason, "not_on_whatsapp");
    assert.equal(new Set(events.map((e) => e.id)).size, 3);
    assert.equal(events[0]?.id, webhookEventId(position, 7));
    assert.ok(events.every((e) => isWebhookEventId(e.id) && e.createdAt === at));
  });

  it("reads outcomes logged one at a time before batches", () => {
    const [sent] = webhookEventsOfBlastEvent(
      { type: "recipient.sent", data: { blastId: "b1", idx: 1, phone: "+1", messageId: "m1", at } },
      position,
    );
    assert.equal(sent?.type, "recipient.sent");
    assert.equal(sent?.id, webhookEventId(position));
    assert.deepEqual(sent?.data, { blastId: "b1", idx: 1, phone: "+1", at, messageId: "m1" });
  });

  it("passes receipts, replies, pauses and the end through; creation and imports are not events", () => {
    const of = (event: Parameters<typeof webhookEventsOfBlastEvent>[0]) =>
      webhookEventsOfBlastEvent(event, position);
    assert.equal(
      of({
        type: "recipient.delivered",
        data: { blastId: "b1", idx: 1, phone: "+1", at, sessionId: "s1" },
      })[0]?.type,
      "recipient.delivered",
    );
    assert.equal(
      of({ type: "recipient.read", data: { blastId: "b1", idx: 1, phone: "+1", at } })[0]?.data.sessionId,
      undefined,
    );
    const [reply] = of({
      type: "recipient.replied",
      data: { blastId: "b1", idx: 1, phone: "+1", sessionId: "s1", messageId: "w1", text: "Thanks!", at },
    });
    assert.equal(reply?.data.text, "Thanks!");
    const [paused] = of({
      type: "blast.paused",
      data: { blastId: "b1", reason: "restricted", at, byPool: true },
    });
    assert.deepEqual(paused?.data, { blastId: "b1", reason: "restricted", byPool: true, at });
    assert.equal(of({ type: "blast.completed", data: { blastId: "b1", at } })[0]?.type, "blast.completed");
    assert.deepEqual(of({ type: "blast.resumed", data: { blastId: "b1", at } }).length, 1);
    assert.deepEqual(of({ type: "blast.recipients_added", data: { blastId: "b1", recipients: [] } }), []);
    assert.deepEqual(of({ type: "blast.account_resumed", data: { blastId: "b1", sessionId: "s1", at } }), []);
  });

  it("turns people's messages and consent changes into events", () => {
    const inbound = webhookEventOfInbound(
      {
        type: "inbound.message",
        data: {
          sessionId: "s1",
          messageId: "w1",
          phone: "+1",
          fromJid: "1@s.whatsapp.net",
          text: "hi",
          sentAt: at,
          receivedAt: at,
        },
      },
      { ...position, source: "inbound" },
    );
    assert.equal(inbound.type, "inbound.message");
    assert.match(inbound.id, /^evt_i/);
    const optout = webhookEventOfConsent(
      { type: "consent.optout", data: { phone: "+1", source: "keyword", reason: "keyword STOP", at } },
      { ...position, source: "consent" },
    );
    assert.equal(optout.type, "consent.optout");
    assert.deepEqual(optout.data, { phone: "+1", source: "keyword", reason: "keyword STOP", at });
  });

  it("names the same fact the same way, and the same sequence of a new stream differently", () => {
    assert.equal(webhookEventId(position, 3), webhookEventId({ ...position }, 3));
    assert.notEqual(
      webhookEventId(position),
      webhookEventId({ ...position, streamCreatedMs: position.streamCreatedMs + 1 }),
    );
    assert.notEqual(webhookEventId(position), webhookEventId({ ...position, source: "consent" }));
  });

  it("matches an endpoint's filter; a ping goes to everyone", () => {
    assert.equal(wantsEvent(["recipient.sent"], "recipient.sent"), true);
    assert.equal(wantsEvent(["recipient.sent"], "recipient.failed"), false);
    assert.equal(wantsEvent([], "ping"), true);
  });

  it("queues the exact body it will sign, and refuses anything else", () => {
    const ping = pingEvent("wh_1", new Date(at));
    const queued = decodeQueuedWebhook(encodeWebhookEvent(ping));
    assert.deepEqual(queued, { eventId: ping.id, type: "ping", body: JSON.stringify(ping) });
    for (const bad of [
      "",
      "{}",
      "[]",
      '{"id":"x","type":"ping","createdAt":"","data":{}}',
      '{"id":"evt_a.b","type":"ping","createdAt":"","data":{}}',
    ]) {
      assert.throws(() => decodeQueuedWebhook(new TextEncoder().encode(bad)), /queued webhook/, bad);
    }
  });
});

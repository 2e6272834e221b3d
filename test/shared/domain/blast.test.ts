// The blast Decider, read as given(events) / when(command) / then(events or error).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BlastError,
  RECIPIENTS_PER_EVENT,
  decide,
  foldBlast,
  progressOf,
  type BlastCommand,
  type BlastErrorCode,
  type BlastEvent,
} from "../../../shared/domain/blast.ts";
import type { PlannedRecipient } from "../../../shared/domain/recipients.ts";

const now = new Date("2026-11-24T10:00:00.000Z");
const at = now.toISOString();

function given(...events: BlastEvent[]) {
  const state = foldBlast(events);
  return {
    when(command: BlastCommand) {
      return {
        then(expected: BlastEvent[]) {
          assert.deepEqual(decide(command, state), expected);
        },
        thenThrows(code: BlastErrorCode, message?: RegExp) {
          assert.throws(
            () => decide(command, state),
            (err: unknown) =>
              err instanceof BlastError && err.code === code && (!message || message.test(err.message)),
          );
        },
      };
    },
  };
}

const recipients = (n: number): PlannedRecipient[] =>
  Array.from({ length: n }, (_, idx) => ({
    idx,
    phone: `+1202555${String(idx).padStart(4, "0")}`,
    ...(idx % 2 === 0 ? { name: `N${idx}` } : {}),
    text: `hi ${idx}`,
  }));

const created = (total = 3): BlastEvent => ({
  type: "blast.created",
  data: { blastId: "b1", sessionId: "s1", template: "hi", total, rejected: 0, duplicates: 0, createdAt: at },
});
const sent = (idx: number): BlastEvent => ({
  type: "recipient.sent",
  data: { blastId: "b1", idx, phone: `+1${idx}`, messageId: `m${idx}`, at },
});
const failed = (idx: number): BlastEvent => ({
  type: "recipient.failed",
  data: { blastId: "b1", idx, phone: `+1${idx}`, reason: "x", at },
});
const paused: BlastEvent = { type: "blast.paused", data: { blastId: "b1", reason: "paused by user", at } };
const resumed: BlastEvent = { type: "blast.resumed", data: { blastId: "b1", at } };
const cancelled: BlastEvent = { type: "blast.cancelled", data: { blastId: "b1", at } };
const completed: BlastEvent = { type: "blast.completed", data: { blastId: "b1", at } };

const create = (n: number): BlastCommand => ({
  type: "create",
  blastId: "b1",
  sessionId: "s1",
  template: "hi",
  recipients: recipients(n),
  rejected: 2,
  duplicates: 1,
  now,
});

describe("blast decider", () => {
  it("create records the blast and its recipients in chunks", () => {
    const events = decide(create(2500), { status: "none" });
    assert.equal(events[0]?.type, "blast.created");
    assert.deepEqual(events[0]?.data, {
      blastId: "b1",
      sessionId: "s1",
      template: "hi",
      total: 2500,
      rejected: 2,
      duplicates: 1,
      createdAt: at,
    });
    const chunks = events.slice(1);
    assert.equal(chunks.length, Math.ceil(2500 / RECIPIENTS_PER_EVENT));
    const listed = chunks.flatMap((e) => (e.type === "blast.recipients_added" ? e.data.recipients : []));
    assert.deepEqual(
      listed.map((r) => r.idx),
      Array.from({ length: 2500 }, (_, i) => i),
    );
    assert.deepEqual(listed[0], { idx: 0, phone: "+12025550000", name: "N0" });
    assert.deepEqual(listed[1], { idx: 1, phone: "+12025550001" }, "no name key when there is no name");
  });

  it("create refuses an existing blast and an empty one", () => {
    given(created())
      .when(create(1))
      .thenThrows("conflict", /already exists/);
    given()
      .when(create(0))
      .thenThrows("invalid", /no valid recipients/);
  });

  it("commands on a blast that does not exist are not_found", () => {
    for (const type of ["pause", "resume", "cancel", "complete"] as const) {
      given().when({ type, now }).thenThrows("not_found");
    }
  });

  it("pause only a running blast, resume only a paused one", () => {
    given(created()).when({ type: "pause", now }).then([paused]);
    given(created())
      .when({ type: "pause", reason: "463", now })
      .then([{ type: "blast.paused", data: { blastId: "b1", reason: "463", at } }]);
    given(created(), paused)
      .when({ type: "pause", now })
      .thenThrows("conflict", /paused/);
    given(created(), paused).when({ type: "resume", now }).then([resumed]);
    given(created())
      .when({ type: "resume", now })
      .thenThrows("conflict", /running/);
    given(created(), cancelled).when({ type: "resume", now }).thenThrows("conflict");
  });

  it("cancel a running or paused blast, never a finished one", () => {
    given(created()).when({ type: "cancel", now }).then([cancelled]);
    given(created(), paused).when({ type: "cancel", now }).then([cancelled]);
    given(created(), cancelled)
      .when({ type: "cancel", now })
      .thenThrows("conflict", /cancelled/);
    given(created(1), sent(0), completed)
      .when({ type: "cancel", now })
      .thenThrows("conflict", /completed/);
  });

  it("records each outcome, including after a cancel, and refuses unknown recipients", () => {
    given(created())
      .when({ type: "record_outcome", idx: 1, phone: "+11", outcome: { kind: "sent", messageId: "m1" }, now })
      .then([sent(1)]);
    given(created())
      .when({ type: "record_outcome", idx: 2, phone: "+12", outcome: { kind: "failed", reason: "x" }, now })
      .then([failed(2)]);
    given(created(), cancelled)
      .when({ type: "record_outcome", idx: 0, phone: "+10", outcome: { kind: "in_doubt" }, now })
      .then([{ type: "recipient.in_doubt", data: { blastId: "b1", idx: 0, phone: "+10", at } }]);
    given(created())
      .when({ type: "record_outcome", idx: 3, phone: "+13", outcome: { kind: "in_doubt" }, now })
      .thenThrows("invalid");
  });

  it("completes only when every recipient has an outcome, and only once", () => {
    given(created(), sent(0), failed(1))
      .when({ type: "complete", now })
      .thenThrows("conflict", /1 pending/);
    given(created(), sent(0), failed(1), sent(2)).when({ type: "complete", now }).then([completed]);
    given(created(), paused, sent(0), failed(1), sent(2)).when({ type: "complete", now }).then([completed]);
    given(created(1), sent(0), completed).when({ type: "complete", now }).then([]);
  });

  it("terminal states absorb later lifecycle facts", () => {
    const state = foldBlast([created(1), sent(0), completed, cancelled, resumed]);
    assert.equal(state.status, "completed");
    assert.equal(foldBlast([created(), cancelled, paused]).status, "cancelled");
  });

  it("progress counts outcomes and shows nothing pending once cancelled", () => {
    const running = foldBlast([created(5), sent(0), failed(1)]);
    if (running.status === "none") return assert.fail("blast exists");
    assert.deepEqual(progressOf(running), {
      blastId: "b1",
      status: "running",
      total: 5,
      sent: 1,
      failed: 1,
      inDoubt: 0,
      delivered: 0,
      read: 0,
      pending: 3,
    });
    const stopped = foldBlast([created(5), sent(0), cancelled]);
    if (stopped.status === "none") return assert.fail("blast exists");
    assert.equal(progressOf(stopped).pending, 0);
  });
});

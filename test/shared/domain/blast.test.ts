// The blast Decider, read as given(events) / when(command) / then(events or error).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BlastError,
  RECIPIENTS_PER_EVENT,
  REPLY_TEXT_MAX,
  decide,
  foldBlast,
  progressOf,
  type BlastCommand,
  type BlastErrorCode,
  type BlastEvent,
  type SettledOutcome,
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

type CreatedData = Extract<BlastEvent, { type: "blast.created" }>["data"];
const createdWith = (extra: Partial<CreatedData> = {}): BlastEvent => ({
  type: "blast.created",
  data: {
    blastId: "b1",
    sessionIds: ["s1"],
    template: "hi",
    total: 3,
    rejected: 0,
    duplicates: 0,
    createdAt: at,
    ...extra,
  },
});
const created = (total = 3, sessionIds = ["s1"]): BlastEvent => createdWith({ total, sessionIds });
const settled = (sessionId: string, ...outcomes: SettledOutcome[]): BlastEvent => ({
  type: "recipients.settled",
  data: { blastId: "b1", sessionId, at, outcomes },
});
const sentOutcome = (idx: number): SettledOutcome => ({
  idx,
  phone: `+1${idx}`,
  kind: "sent",
  messageId: `m${idx}`,
});
const failedOutcome = (idx: number): SettledOutcome => ({
  idx,
  phone: `+1${idx}`,
  kind: "failed",
  reason: "x",
});
const sent = (idx: number, sessionId = "s1"): BlastEvent => settled(sessionId, sentOutcome(idx));
const failed = (idx: number, sessionId = "s1"): BlastEvent => settled(sessionId, failedOutcome(idx));
const accountPaused = (sessionId: string, reason: string): BlastEvent => ({
  type: "blast.account_paused",
  data: { blastId: "b1", sessionId, reason, at },
});
const accountResumed = (sessionId: string): BlastEvent => ({
  type: "blast.account_resumed",
  data: { blastId: "b1", sessionId, at },
});
const paused: BlastEvent = { type: "blast.paused", data: { blastId: "b1", reason: "paused by user", at } };
const resumed: BlastEvent = { type: "blast.resumed", data: { blastId: "b1", at } };
const cancelled: BlastEvent = { type: "blast.cancelled", data: { blastId: "b1", at } };
const completed: BlastEvent = { type: "blast.completed", data: { blastId: "b1", at } };

const replied = (idx: number, text = "yes please", sessionId = "s1"): BlastEvent => ({
  type: "recipient.replied",
  data: { blastId: "b1", idx, phone: `+1${idx}`, sessionId, messageId: `in${idx}-${text.length}`, text, at },
});
const reply = (idx: number, text = "yes please", sessionId = "s1"): BlastCommand => ({
  type: "record_reply",
  idx,
  phone: `+1${idx}`,
  sessionId,
  messageId: `in${idx}-${text.length}`,
  text,
  now,
});

const create = (n: number, sessionIds = ["s1"]): BlastCommand => ({
  type: "create",
  blastId: "b1",
  sessionIds,
  template: "hi",
  total: n,
  rejected: 2,
  duplicates: 1,
  now,
});

describe("blast decider", () => {
  it("an import records its recipients a chunk at a time, then creates the blast with the total", () => {
    const planned = recipients(2500);
    const chunks: BlastEvent[] = [];
    for (let start = 0; start < planned.length; start += RECIPIENTS_PER_EVENT) {
      const chunk = planned.slice(start, start + RECIPIENTS_PER_EVENT);
      chunks.push(
        ...decide({ type: "add_recipients", blastId: "b1", recipients: chunk }, { status: "none" }),
      );
    }
    assert.equal(chunks.length, Math.ceil(2500 / RECIPIENTS_PER_EVENT));
    const listed = chunks.flatMap((e) => (e.type === "blast.recipients_added" ? e.data.recipients : []));
    assert.deepEqual(
      listed.map((r) => r.idx),
      Array.from({ length: 2500 }, (_, i) => i),
    );
    assert.deepEqual(listed[0], { idx: 0, phone: "+12025550000", name: "N0" });
    assert.deepEqual(listed[1], { idx: 1, phone: "+12025550001" }, "no name key and no text in the log");

    const events = decide(create(2500), foldBlast(chunks));
    assert.deepEqual(events, [
      {
        type: "blast.created",
        data: {
          blastId: "b1",
          sessionIds: ["s1"],
          template: "hi",
          total: 2500,
          rejected: 2,
          duplicates: 1,
          createdAt: at,
        },
      },
    ]);
  });

  it("recipients are fixed once the blast exists, and come at most a chunk at a time", () => {
    given(created())
      .when({ type: "add_recipients", blastId: "b1", recipients: recipients(1) })
      .thenThrows("conflict", /fixed/);
    given()
      .when({ type: "add_recipients", blastId: "b1", recipients: recipients(RECIPIENTS_PER_EVENT + 1) })
      .thenThrows("invalid", /at most/);
    given().when({ type: "add_recipients", blastId: "b1", recipients: [] }).then([]);
  });

  it("create refuses an existing blast, an empty one, an empty pool and an account listed twice", () => {
    given(created())
      .when(create(1))
      .thenThrows("conflict", /already exists/);
    given()
      .when(create(0))
      .thenThrows("invalid", /no valid recipients/);
    given()
      .when(create(1, []))
      .thenThrows("invalid", /no account/);
    given()
      .when(create(1, ["s1", "s2", "s1"]))
      .thenThrows("invalid", /listed twice/);
  });

  it("create carries the blast's own frequency cap, or its choice of none, and refuses an unusable one", () => {
    const createdWith = (frequencyCap: { max: number; periodHours: number } | null) =>
      decide({ ...create(1), frequencyCap } as BlastCommand, { status: "none" })[0];
    assert.deepEqual(createdWith({ max: 2, periodHours: 168 })?.data, {
      blastId: "b1",
      sessionIds: ["s1"],
      template: "hi",
      total: 1,
      rejected: 2,
      duplicates: 1,
      createdAt: at,
      frequencyCap: { max: 2, periodHours: 168 },
    });
    const off = createdWith(null);
    assert.equal(off?.type === "blast.created" ? off.data.frequencyCap : "missing", null);
    given()
      .when({ ...create(1), frequencyCap: { max: 0, periodHours: 24 } } as BlastCommand)
      .thenThrows("invalid", /frequencyCap.max/);
    given()
      .when({ ...create(1), frequencyCap: { max: 1, periodHours: 745 } } as BlastCommand)
      .thenThrows("invalid", /frequencyCap.periodHours/);
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

  it("records a batch of outcomes as one event, including after a cancel, and refuses unknown recipients", () => {
    given(created(3, ["s1", "s2"]))
      .when({ type: "record_outcomes", sessionId: "s2", outcomes: [sentOutcome(1), failedOutcome(2)], now })
      .then([settled("s2", sentOutcome(1), failedOutcome(2))]);
    const doubt: SettledOutcome = { idx: 0, phone: "+10", kind: "in_doubt" };
    given(created(), cancelled)
      .when({ type: "record_outcomes", sessionId: "s1", outcomes: [doubt], now })
      .then([settled("s1", doubt)]);
    given(created())
      .when({ type: "record_outcomes", sessionId: "s1", outcomes: [sentOutcome(0), sentOutcome(3)], now })
      .thenThrows("invalid", /recipient 3/);
    given(created())
      .when({ type: "record_outcomes", sessionId: "s1", outcomes: [], now })
      .thenThrows("invalid");
  });

  it("an account of the pool pauses alone while others can send", () => {
    given(created(3, ["s1", "s2"]))
      .when({ type: "pause_account", sessionId: "s1", reason: "463", now })
      .then([accountPaused("s1", "463")]);
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"))
      .when({ type: "pause_account", sessionId: "s1", reason: "again", now })
      .then([]);
    given(created(3, ["s1", "s2"]))
      .when({ type: "pause_account", sessionId: "s3", reason: "x", now })
      .thenThrows("invalid", /not in the pool/);
    given(created(3, ["s1", "s2"]), cancelled)
      .when({ type: "pause_account", sessionId: "s1", reason: "x", now })
      .then([]);
  });

  it("the blast pauses, with every account's reason, when the last account of its pool stops", () => {
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"))
      .when({ type: "pause_account", sessionId: "s2", reason: "logged out", now })
      .then([
        accountPaused("s2", "logged out"),
        {
          type: "blast.paused",
          data: {
            blastId: "b1",
            reason: "no account in the pool can send (s1: 463; s2: logged out)",
            at,
            byPool: true,
          },
        },
      ]);
    // Already paused by a person: the account stops, the blast's reason stays the person's.
    given(created(1), paused)
      .when({ type: "pause_account", sessionId: "s1", reason: "463", now })
      .then([accountPaused("s1", "463")]);
  });

  it("two accounts paused at once, each on a state without the other's pause, leave it to a second look", () => {
    // Each worker decided on a state where the other account could still send: no pool pause.
    const both = [created(3, ["s1", "s2"]), accountPaused("s1", "463"), accountPaused("s2", "logged out")];
    given(...both)
      .when({ type: "pause_if_pool_stopped", now })
      .then([
        {
          type: "blast.paused",
          data: {
            blastId: "b1",
            reason: "no account in the pool can send (s1: 463; s2: logged out)",
            at,
            byPool: true,
          },
        },
      ]);
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"))
      .when({ type: "pause_if_pool_stopped", now })
      .then([]);
    given(...both, paused)
      .when({ type: "pause_if_pool_stopped", now })
      .then([]);
    given(...both, cancelled)
      .when({ type: "pause_if_pool_stopped", now })
      .then([]);
  });

  it("resumes one account, or the whole blast with every account", () => {
    const byPool: BlastEvent = {
      type: "blast.paused",
      data: { blastId: "b1", reason: "no account in the pool can send", at, byPool: true },
    };
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"))
      .when({ type: "resume", sessionId: "s1", now })
      .then([accountResumed("s1")]);
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"), accountPaused("s2", "463"), byPool)
      .when({ type: "resume", sessionId: "s2", now })
      .then([accountResumed("s2"), resumed]);
    // A person paused the blast: an account coming back does not overrule them.
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"), paused)
      .when({ type: "resume", sessionId: "s1", now })
      .then([accountResumed("s1")]);
    given(created(3, ["s1", "s2"]), accountPaused("s1", "463"), accountPaused("s2", "x"), byPool)
      .when({ type: "resume", now })
      .then([resumed, accountResumed("s1"), accountResumed("s2")]);
    given(created(3, ["s1", "s2"]), accountPaused("s2", "x"))
      .when({ type: "resume", now })
      .then([accountResumed("s2")]);
    given(created(3, ["s1", "s2"]))
      .when({ type: "resume", sessionId: "s1", now })
      .thenThrows("conflict", /not paused/);
    given(created(3, ["s1", "s2"]))
      .when({ type: "resume", sessionId: "s9", now })
      .thenThrows("invalid", /not in the pool/);
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

  it("progress counts outcomes per account and shows nothing pending once cancelled", () => {
    const running = foldBlast([
      created(5, ["s1", "s2"]),
      sent(0, "s1"),
      failed(1, "s2"),
      sent(0, "s2"),
      accountPaused("s2", "463"),
    ]);
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
      replied: 0,
      pending: 3,
      sessionIds: ["s1", "s2"],
      bySession: {
        s1: { sent: 1, failed: 0, inDoubt: 0 },
        s2: { sent: 0, failed: 1, inDoubt: 0, paused: "463" },
      },
    });
    const stopped = foldBlast([created(5), sent(0), cancelled]);
    if (stopped.status === "none") return assert.fail("blast exists");
    assert.equal(progressOf(stopped).pending, 0);
  });

  it("records a reply as a fact in any status, and refuses a recipient the blast does not have", () => {
    given(created(3, ["s1", "s2"]))
      .when(reply(1, "yes please", "s2"))
      .then([replied(1, "yes please", "s2")]);
    // People answer after the blast finished or was stopped: still a fact about the blast.
    given(created(1), sent(0), completed)
      .when(reply(0))
      .then([replied(0)]);
    given(created(), cancelled)
      .when(reply(2))
      .then([replied(2)]);
    given(created(), paused)
      .when(reply(0))
      .then([replied(0)]);
    // Whether it is the first reply is the folds' to say: a second one is logged, and counts nothing.
    given(created(), replied(0))
      .when(reply(0, "again"))
      .then([replied(0, "again")]);
    given(created())
      .when(reply(3))
      .thenThrows("invalid", /recipient 3/);
    given(created()).when(reply(-1)).thenThrows("invalid");
    given().when(reply(0)).thenThrows("not_found");
  });

  it("cuts a reply's text to REPLY_TEXT_MAX, never inside a surrogate pair", () => {
    const textOf = (text: string) => {
      const [event] = decide(reply(0, text), foldBlast([created()]));
      return event?.type === "recipient.replied" ? event.data.text : assert.fail("a reply event");
    };
    assert.equal(textOf("a".repeat(REPLY_TEXT_MAX + 50)), "a".repeat(REPLY_TEXT_MAX));
    const fits = `${"a".repeat(REPLY_TEXT_MAX - 2)}😀`;
    assert.equal(textOf(fits), fits);
    // An emoji straddling the limit goes whole rather than leaving half of it.
    assert.equal(textOf(`${"a".repeat(REPLY_TEXT_MAX - 1)}😀 and more`), "a".repeat(REPLY_TEXT_MAX - 1));
  });

  it("counts each recipient's first reply once, on the blast and in its progress", () => {
    const state = foldBlast([
      created(3, ["s1", "s2"]),
      sent(0, "s1"),
      sent(1, "s2"),
      failed(2, "s2"),
      replied(0, "yes", "s1"),
      replied(0, "yes again", "s1"),
      replied(1, "stop", "s2"),
      replied(1, "stop", "s2"),
      completed,
      replied(2, "late, but counted"),
    ]);
    if (state.status === "none") return assert.fail("blast exists");
    assert.equal(state.replied, 3);
    assert.deepEqual([...(state.marks?.replied ?? [])].sort(), [0, 1, 2]);
    const progress = progressOf(state);
    assert.equal(progress.replied, 3);
    assert.equal(progress.status, "completed");
    // Replies are not outcomes: no account's figures move.
    assert.deepEqual(progress.bySession, {
      s1: { sent: 1, failed: 0, inDoubt: 0 },
      s2: { sent: 1, failed: 1, inDoubt: 0 },
    });
  });

  it("folds the one-outcome events of blasts logged before pools onto their one account", () => {
    const legacy: BlastEvent[] = [
      {
        type: "blast.created",
        data: {
          blastId: "b1",
          sessionId: "old",
          template: "hi",
          total: 2,
          rejected: 0,
          duplicates: 0,
          createdAt: at,
        },
      },
      { type: "recipient.sent", data: { blastId: "b1", idx: 0, phone: "+10", messageId: "m0", at } },
      { type: "recipient.in_doubt", data: { blastId: "b1", idx: 1, phone: "+11", at } },
    ];
    const state = foldBlast(legacy);
    if (state.status === "none") return assert.fail("blast exists");
    assert.deepEqual(progressOf(state).bySession, { old: { sent: 1, failed: 0, inDoubt: 1 } });
    assert.equal(progressOf(state).pending, 0);
  });
});

describe("blast decider: scheduled blasts and drafts", () => {
  const later = new Date("2026-12-07T02:00:00.000Z");
  const scheduledCreated = createdWith({ scheduledFor: later.toISOString(), timeZone: "Asia/Jakarta" });
  const draftCreated = createdWith({ draft: true });
  const started: BlastEvent = { type: "blast.started", data: { blastId: "b1", at } };
  const createCommand = (extra: Partial<Extract<BlastCommand, { type: "create" }>>): BlastCommand => ({
    type: "create",
    blastId: "b1",
    sessionIds: ["s1"],
    template: "hi",
    total: 3,
    rejected: 0,
    duplicates: 0,
    now,
    ...extra,
  });
  const edit = (extra: Partial<Extract<BlastCommand, { type: "edit" }>> = {}): BlastCommand => ({
    type: "edit",
    now,
    sessionIds: ["s1", "s2"],
    template: "hello {name}",
    scheduledFor: later,
    timeZone: "Asia/Jakarta",
    ...extra,
  });

  it("create with a time makes it scheduled, without one as a draft; a past time or both are refused", () => {
    given()
      .when(createCommand({ scheduledFor: later, timeZone: "Asia/Jakarta" }))
      .then([scheduledCreated]);
    given()
      .when(createCommand({ draft: true }))
      .then([draftCreated]);
    given()
      .when(createCommand({ scheduledFor: new Date(now.getTime() - 1) }))
      .thenThrows("invalid", /has passed/);
    given()
      .when(createCommand({ scheduledFor: now }))
      .thenThrows("invalid", /has passed/);
    given()
      .when(createCommand({ scheduledFor: later, draft: true }))
      .thenThrows("invalid", /not both/);
    const state = foldBlast([scheduledCreated]);
    assert.equal(foldBlast([draftCreated]).status, "draft");
    assert.ok(state.status === "scheduled");
    assert.equal(progressOf(state).scheduledFor, later.toISOString());
    assert.equal(progressOf(state).pending, 3, "nothing of it is settled");
  });

  it("an edit before the start replaces the plan, whole: pool, message and time", () => {
    given(scheduledCreated)
      .when(edit())
      .then([
        {
          type: "blast.edited",
          data: {
            blastId: "b1",
            at,
            sessionIds: ["s1", "s2"],
            template: "hello {name}",
            scheduledFor: later.toISOString(),
            timeZone: "Asia/Jakarta",
          },
        },
      ]);
    const [edited] = decide(
      edit({ scheduledFor: undefined, timeZone: undefined }),
      foldBlast([scheduledCreated]),
    );
    assert.ok(edited);
    const state = foldBlast([scheduledCreated, edited]);
    assert.ok(state.status === "draft", "an edit without a time makes it a draft");
    assert.deepEqual(state.sessionIds, ["s1", "s2"]);
    assert.equal(state.scheduledFor, undefined);
    const [rescheduled] = decide(edit(), state);
    assert.ok(rescheduled);
    assert.equal(foldBlast([scheduledCreated, edited, rescheduled]).status, "scheduled");
  });

  it("an edit is checked as a creation is, and refused once the blast started or ended", () => {
    given(scheduledCreated)
      .when(edit({ sessionIds: [] }))
      .thenThrows("invalid", /no account/);
    given(scheduledCreated)
      .when(edit({ sessionIds: ["s1", "s1"] }))
      .thenThrows("invalid", /twice/);
    given(scheduledCreated)
      .when(edit({ scheduledFor: new Date(now.getTime() - 60_000) }))
      .thenThrows("invalid", /has passed/);
    given(scheduledCreated)
      .when(edit({ frequencyCap: { max: 0, periodHours: 24 } }))
      .thenThrows("invalid");
    given(scheduledCreated, started)
      .when(edit())
      .thenThrows("conflict", /running/);
    given(created()).when(edit()).thenThrows("conflict");
    given(scheduledCreated, cancelled).when(edit()).thenThrows("conflict");
  });

  it("start queues a scheduled blast or a draft once; a started or ended one cannot start again", () => {
    given(scheduledCreated).when({ type: "start", now }).then([started]);
    given(draftCreated).when({ type: "start", now }).then([started]);
    given(scheduledCreated, started)
      .when({ type: "start", now })
      .thenThrows("conflict", /running/);
    given(created()).when({ type: "start", now }).thenThrows("conflict");
    given(draftCreated, cancelled)
      .when({ type: "start", now })
      .thenThrows("conflict", /cancelled/);
    assert.equal(foldBlast([scheduledCreated, started]).status, "running");
    // A start appended twice (two timers) changes nothing the second time.
    assert.equal(foldBlast([scheduledCreated, started, paused, started]).status, "paused");
  });

  it("before its start a blast can be cancelled but not paused, resumed, or have an account paused", () => {
    given(scheduledCreated).when({ type: "cancel", now }).then([cancelled]);
    given(draftCreated).when({ type: "cancel", now }).then([cancelled]);
    given(scheduledCreated).when({ type: "pause", now }).thenThrows("conflict");
    given(scheduledCreated).when({ type: "resume", now }).thenThrows("conflict");
    given(scheduledCreated).when({ type: "pause_account", sessionId: "s1", reason: "463", now }).then([]);
    // An edit after the start (a race the log's subject check prevents) changes nothing.
    const late: BlastEvent = {
      type: "blast.edited",
      data: { blastId: "b1", at, sessionIds: ["s9"], template: "x" },
    };
    const state = foldBlast([scheduledCreated, started, late]);
    assert.ok(state.status === "running");
    assert.deepEqual(state.sessionIds, ["s1"]);
  });
});

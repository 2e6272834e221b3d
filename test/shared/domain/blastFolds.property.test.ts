// One fact, one answer: the blast's own fold (`evolve`), the Redis projection's Lua and the
// results fold behind the CSV export are fed the same random logs (batched and one-at-a-time
// outcomes, repeats past the log's dedupe, receipts, replies (a recipient's second one too), pauses
// of the blast and of accounts, cancels racing completion) and must agree on every count, every
// account's figures and the status, and the projection's replies list on each recipient's first reply;
// the results fold keeps each recipient's message variant as it was added. Blasts may be created
// scheduled or as drafts, edited (their pool and time; an edit after the start changes nothing) and
// started: the projection offers a blast to its accounts only from its start, and shows the plan of
// the last edit that counted.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Redis } from "ioredis";
import { ResultsFold } from "../../../services/gateway/blasts/blastResults.ts";
import { foldBlast, progressOf, type BlastEvent, type SettledOutcome } from "../../../shared/domain/blast.ts";
import { BlastProjection } from "../../../shared/redis/projection.ts";
import { startRedis, type ManagedServer } from "../../harness/servers.ts";

const POOL = ["s1", "s2", "s3"];
const at = "2026-11-30T10:00:00.000Z";

const outcome = (total: number): fc.Arbitrary<SettledOutcome> =>
  fc.oneof(
    fc
      .nat(total - 1)
      .map((idx): SettledOutcome => ({ idx, phone: `+1${idx}`, kind: "sent", messageId: `m${idx}` })),
    fc.nat(total - 1).map((idx): SettledOutcome => ({ idx, phone: `+1${idx}`, kind: "failed", reason: "x" })),
    fc.nat(total - 1).map((idx): SettledOutcome => ({ idx, phone: `+1${idx}`, kind: "in_doubt" })),
  );

function eventAfterCreate(blastId: string, total: number, legacy: boolean): fc.Arbitrary<BlastEvent> {
  const sessionId = fc.constantFrom(...POOL);
  const idx = fc.nat(total - 1);
  return fc.oneof(
    fc
      .record({ sessionId, outcomes: fc.array(outcome(total), { minLength: 1, maxLength: 5 }) })
      .map(({ sessionId, outcomes }): BlastEvent => ({
        type: "recipients.settled",
        data: { blastId, sessionId, at, outcomes },
      })),
    ...(legacy
      ? [
          idx.map((i): BlastEvent => ({
            type: "recipient.sent",
            data: { blastId, idx: i, phone: `+1${i}`, messageId: `m${i}`, at },
          })),
          idx.map((i): BlastEvent => ({
            type: "recipient.in_doubt",
            data: { blastId, idx: i, phone: `+1${i}`, at },
          })),
        ]
      : []),
    fc.record({ i: idx, read: fc.boolean(), sessionId }).map(({ i, read, sessionId }): BlastEvent => ({
      type: read ? "recipient.read" : "recipient.delivered",
      data: { blastId, idx: i, phone: `+1${i}`, at, sessionId },
    })),
    fc
      .record({
        i: idx,
        sessionId,
        text: fc.constantFrom("yes", "STOP", "=1+1", "", "later\nthanks"),
        ms: fc.nat(5),
      })
      .map(({ i, sessionId, text, ms }): BlastEvent => ({
        type: "recipient.replied",
        data: {
          blastId,
          idx: i,
          phone: `+1${i}`,
          sessionId,
          messageId: `in${i}-${ms}`,
          text,
          at: new Date(Date.parse(at) + ms * 1000).toISOString(),
        },
      })),
    fc.boolean().map((byPool): BlastEvent => ({
      type: "blast.paused",
      data: { blastId, reason: "r", at, ...(byPool ? { byPool } : {}) },
    })),
    fc.constant<BlastEvent>({ type: "blast.resumed", data: { blastId, at } }),
    sessionId.map((s): BlastEvent => ({
      type: "blast.account_paused",
      data: { blastId, sessionId: s, reason: "463", at },
    })),
    sessionId.map((s): BlastEvent => ({
      type: "blast.account_resumed",
      data: { blastId, sessionId: s, at },
    })),
    fc.constant<BlastEvent>({ type: "blast.cancelled", data: { blastId, at } }),
    fc.constant<BlastEvent>({ type: "blast.completed", data: { blastId, at } }),
    // Blasts logged before pools were never scheduled nor edited.
    ...(legacy ? [] : [planEdit(blastId)]),
    fc.constant<BlastEvent>({ type: "blast.started", data: { blastId, at } }),
  );
}

function planEdit(blastId: string): fc.Arbitrary<BlastEvent> {
  return fc
    .record({
      pool: fc.subarray(POOL, { minLength: 1 }),
      scheduled: fc.boolean(),
      template: fc.constantFrom("hello", "hi {name}"),
      capped: fc.constantFrom("none", "null", "cap"),
    })
    .map(({ pool, scheduled, template, capped }): BlastEvent => ({
      type: "blast.edited",
      data: {
        blastId,
        at,
        sessionIds: pool,
        template,
        ...(capped === "none"
          ? {}
          : { frequencyCap: capped === "null" ? null : { max: 2, periodHours: 24 } }),
        ...(scheduled ? { scheduledFor: "2026-12-07T02:00:00.000Z", timeZone: "Asia/Jakarta" } : {}),
      },
    }));
}

const blastLog = fc
  .record({
    total: fc.integer({ min: 1, max: 12 }),
    legacy: fc.boolean(),
    start: fc.constantFrom("now", "scheduled", "draft"),
    n: fc.integer({ min: 0, max: 40 }),
    variants: fc.array(fc.option(fc.constantFrom("1", "2", "1.3"), { nil: undefined }), {
      minLength: 12,
      maxLength: 12,
    }),
  })
  .chain(({ total, legacy, start, n, variants }) => {
    const blastId = "b1";
    // The recipients come first in a real log, some with the message variant they were given.
    const added: BlastEvent = {
      type: "blast.recipients_added",
      data: {
        blastId,
        recipients: Array.from({ length: total }, (_, idx) => {
          const variant = variants[idx];
          return variant === undefined ? { idx, phone: `+1${idx}` } : { idx, phone: `+1${idx}`, variant };
        }),
      },
    };
    const created: BlastEvent = {
      type: "blast.created",
      data: {
        blastId,
        ...(legacy ? { sessionId: "s1" } : { sessionIds: POOL }),
        template: "hi",
        total,
        rejected: 0,
        duplicates: 0,
        createdAt: at,
        ...(start === "scheduled" && !legacy ? { scheduledFor: "2026-12-01T02:00:00.000Z" } : {}),
        ...(start === "draft" && !legacy ? { draft: true } : {}),
      },
    };
    return fc
      .array(eventAfterCreate(blastId, total, legacy), { minLength: n, maxLength: n })
      .map((rest) => [added, created, ...rest]);
  });

describe("the three folds of a blast's log agree", () => {
  let server: ManagedServer;
  let redis: Redis;
  let run = 0;

  before(async () => {
    server = await startRedis();
    redis = new Redis({ port: server.port, lazyConnect: false });
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it("evolve, the projection's Lua and the results fold, on random logs", async () => {
    await fc.assert(
      fc.asyncProperty(blastLog, async (events) => {
        // A fresh prefix per run: each log is projected into an empty projection.
        const projection = new BlastProjection(redis, `prop${run++}:`);
        let seq = 0;
        for (const event of events) await projection.apply(++seq, event);
        const projected = await projection.summary("b1");
        const folded = foldBlast(events);
        assert.ok(projected && folded.status !== "none");
        const expected = progressOf(folded);
        const {
          sessionId: _first,
          campaignId: _c,
          template: _t,
          rejected: _r,
          duplicates: _d,
          createdAt: _ca,
          updatedAt: _u,
          reason: _why,
          timeZone: _z,
          frequencyCap,
          ...fromRedis
        } = projected;
        assert.deepEqual(fromRedis, expected);

        // The plan shown is the one the last edit before the start set.
        let plan: { template: string; frequencyCap?: unknown } = { template: "hi" };
        let open = true;
        for (const event of events) {
          if (event.type === "blast.created") open = !!(event.data.scheduledFor || event.data.draft);
          if (["blast.started", "blast.cancelled", "blast.completed"].includes(event.type)) open = false;
          if (event.type === "blast.edited" && open) {
            plan = {
              template: event.data.template,
              ...(event.data.frequencyCap !== undefined ? { frequencyCap: event.data.frequencyCap } : {}),
            };
          }
        }
        assert.deepEqual(
          { template: projected.template, ...(frequencyCap !== undefined ? { frequencyCap } : {}) },
          plan,
        );
        // Its accounts are offered its work from its start until it ends, and only then.
        const offered = expected.status === "running" || expected.status === "paused";
        for (const sessionId of POOL) {
          const listed = (await projection.activeBlasts(sessionId)).some((b) => b.blastId === "b1");
          assert.equal(listed, offered && expected.sessionIds.includes(sessionId), `offered to ${sessionId}`);
        }

        const results = new ResultsFold();
        for (const event of events) results.apply(event);
        const rows = results.rows();
        const [added] = events;
        assert.ok(added?.type === "blast.recipients_added");
        assert.deepEqual(
          rows.map((r) => r.variant),
          added.data.recipients.map((r) => r.variant ?? ""),
          "each recipient's variant, as added",
        );
        const count = (what: string) => rows.filter((r) => r.outcome === what).length;
        assert.deepEqual(
          {
            sent: count("sent"),
            failed: count("failed"),
            inDoubt: count("in_doubt"),
            delivered: rows.filter((r) => r.deliveredAt !== "").length,
            read: rows.filter((r) => r.readAt !== "").length,
            replied: rows.filter((r) => r.repliedAt !== "").length,
          },
          {
            sent: expected.sent,
            failed: expected.failed,
            inDoubt: expected.inDoubt,
            delivered: expected.delivered,
            read: expected.read,
            replied: expected.replied,
          },
        );
        // The replies list holds what the CSV shows: each recipient's first reply, newest first.
        const listed = await projection.replies("b1", 0, 100);
        assert.equal(listed.total, expected.replied);
        const firstReplies = rows
          .filter((r) => r.repliedAt !== "")
          .map((r) => ({ idx: r.idx, text: r.reply, at: r.repliedAt }));
        assert.deepEqual(
          listed.items.map(({ idx, text, at }) => ({ idx, text, at })).sort((a, b) => a.idx - b.idx),
          firstReplies,
        );
        const times = listed.items.map((r) => Date.parse(r.at));
        assert.deepEqual(
          times,
          [...times].sort((a, b) => b - a),
          "newest first",
        );
        let repliedOverAccounts = 0;
        for (const account of (await projection.totals()).values()) repliedOverAccounts += account.replied;
        assert.equal(repliedOverAccounts, expected.replied);
        for (const sessionId of expected.sessionIds) {
          const mine = rows.filter((r) => r.sessionId === sessionId);
          const account = expected.bySession[sessionId];
          assert.deepEqual(
            {
              sent: mine.filter((r) => r.outcome === "sent").length,
              failed: mine.filter((r) => r.outcome === "failed").length,
              inDoubt: mine.filter((r) => r.outcome === "in_doubt").length,
            },
            { sent: account?.sent, failed: account?.failed, inDoubt: account?.inDoubt },
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

// The plan fold: a blast sends what it was created with, replaced whole by each edit before it
// started; an edit logged after the start, a cancel or the end changes nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { planOf } from "../../../shared/domain/blastPlan.ts";

const at = "2026-11-30T10:00:00.000Z";
const media = {
  mediaId: "m1",
  kind: "image" as const,
  mimetype: "image/png",
  fileName: "a.png",
  sha256: "00",
  size: 10,
};
const created: BlastEvent = {
  type: "blast.created",
  data: {
    blastId: "b1",
    sessionIds: ["s1"],
    campaignId: "c1",
    template: "hi {name}",
    total: 2,
    rejected: 0,
    duplicates: 0,
    createdAt: at,
    media,
    frequencyCap: null,
    scheduledFor: "2026-12-07T02:00:00.000Z",
    timeZone: "Asia/Jakarta",
  },
};
const edit = (template: string, extra: object = {}): BlastEvent => ({
  type: "blast.edited",
  data: { blastId: "b1", at, sessionIds: ["s1", "s2"], template, ...extra },
});
const started: BlastEvent = { type: "blast.started", data: { blastId: "b1", at } };

describe("blast plan", () => {
  it("is the creation's, until an edit replaces it whole (what it leaves out is gone)", () => {
    assert.deepEqual(planOf([created]), {
      blastId: "b1",
      sessionIds: ["s1"],
      campaignId: "c1",
      template: "hi {name}",
      media,
      frequencyCap: null,
      scheduledFor: "2026-12-07T02:00:00.000Z",
      timeZone: "Asia/Jakarta",
    });
    assert.deepEqual(planOf([created, edit("hello", { variants: [{ text: "hello", weight: 2 }] })]), {
      blastId: "b1",
      sessionIds: ["s1", "s2"],
      campaignId: "c1",
      template: "hello",
      variants: [{ text: "hello", weight: 2 }],
    });
  });

  it("ignores edits after the start or the cancel, and blasts sent at once are never edited", () => {
    assert.equal(planOf([created, edit("before"), started, edit("after")])?.template, "before");
    const cancelled: BlastEvent = { type: "blast.cancelled", data: { blastId: "b1", at } };
    assert.equal(planOf([created, cancelled, edit("after")])?.template, "hi {name}");
    const { scheduledFor: _s, timeZone: _z, ...sentAtOnce } = created.data;
    assert.equal(planOf([{ type: "blast.created", data: sentAtOnce }, edit("x")])?.template, "hi {name}");
    assert.equal(planOf([edit("no blast")]), undefined);
  });
});

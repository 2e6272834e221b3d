import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { attributeReply, type SentMessageRef } from "../../../shared/domain/replyAttribution.ts";

const HOUR = 3600_000;
const now = Date.parse("2026-11-30T12:00:00Z");
const phone = "+12025550101";
const quoted: SentMessageRef = { blastId: "b_quoted", idx: 4, phone };
const lastSent: SentMessageRef = { blastId: "b_last", idx: 9, phone, at: now - 2 * HOUR };

describe("reply attribution", () => {
  it("gives a message that quotes one of ours to that recipient, however old", () => {
    assert.deepEqual(attributeReply({ phone, quoted, lastSent, now, windowMs: HOUR }), {
      blastId: "b_quoted",
      idx: 4,
    });
  });

  it("gives an unquoted message to the latest blast message within the window", () => {
    assert.deepEqual(attributeReply({ phone, lastSent, now, windowMs: 3 * HOUR }), {
      blastId: "b_last",
      idx: 9,
    });
    assert.equal(attributeReply({ phone, lastSent, now, windowMs: HOUR }), undefined, "outside the window");
  });

  it("gives nothing for a quote of a message that went to someone else", () => {
    const other = { ...quoted, phone: "+12025550199" };
    assert.deepEqual(attributeReply({ phone, quoted: other, lastSent, now, windowMs: 3 * HOUR }), {
      blastId: "b_last",
      idx: 9,
    });
    assert.equal(attributeReply({ phone, quoted: other, now, windowMs: 3 * HOUR }), undefined);
  });

  it("trusts a quote when the number is an unresolved LID, but nothing else", () => {
    assert.deepEqual(attributeReply({ phone: undefined, quoted, now, windowMs: HOUR }), {
      blastId: "b_quoted",
      idx: 4,
    });
    assert.equal(attributeReply({ phone: undefined, lastSent, now, windowMs: 3 * HOUR }), undefined);
  });

  it("gives nothing when no message of ours is known", () => {
    assert.equal(attributeReply({ phone, now, windowMs: HOUR }), undefined);
    assert.equal(
      attributeReply({ phone, lastSent: { ...lastSent, at: undefined }, now, windowMs: 3 * HOUR }),
      undefined,
    );
  });
});

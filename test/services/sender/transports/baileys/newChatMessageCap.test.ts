// WhatsApp's new-chat message cap payload, as Baileys hands it over untyped at runtime: each field
// is read only when it is what WhatsApp's own types say, and a payload without a known status is
// not a signal at all.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NewChatMessageCapInfo } from "@whiskeysockets/baileys";
import { newChatMessageCapOf } from "../../../../../services/sender/transports/baileys/newChatMessageCap.ts";

const payload = (fields: Record<string, unknown>) => fields as NewChatMessageCapInfo;

describe("new-chat message cap payload", () => {
  it("reads the status, the figures and the end of the cycle (Unix seconds)", () => {
    assert.deepEqual(
      newChatMessageCapOf(
        payload({
          capping_status: "SECOND_WARNING",
          used_quota: 45,
          total_quota: 50,
          cycle_end_timestamp: "1798761600",
        }),
      ),
      { status: "second_warning", used: 45, quota: 50, cycleEndsAt: new Date("2027-01-01T00:00:00.000Z") },
    );
    assert.deepEqual(newChatMessageCapOf(payload({ capping_status: "NONE" })), { status: "none" });
  });

  it("leaves out figures that are not counts and ignores a payload without a known status", () => {
    assert.deepEqual(
      newChatMessageCapOf(
        payload({ capping_status: "CAPPED", used_quota: "50", total_quota: -1, cycle_end_timestamp: "soon" }),
      ),
      { status: "capped" },
    );
    assert.equal(newChatMessageCapOf(payload({ capping_status: "SOMETHING_NEW", used_quota: 1 })), undefined);
    assert.equal(newChatMessageCapOf(payload({})), undefined);
    assert.equal(newChatMessageCapOf(undefined), undefined);
  });
});

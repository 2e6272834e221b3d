import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isCountryCode, normalizePhone } from "../../../shared/domain/phones.ts";

describe("phone normalization", () => {
  it("reads local numbers in the default country", () => {
    assert.deepEqual(normalizePhone("(202) 555-0123", "US"), { ok: true, e164: "+12025550123" });
    assert.deepEqual(normalizePhone("0812-3456-7890", "ID"), { ok: true, e164: "+6281234567890" });
  });

  it("reads international numbers with +, 00, or a dropped plus", () => {
    assert.deepEqual(normalizePhone("+62 812 3456 7890", "US"), { ok: true, e164: "+6281234567890" });
    assert.deepEqual(normalizePhone("0062 812 3456 7890", "US"), { ok: true, e164: "+6281234567890" });
    assert.deepEqual(normalizePhone("6281234567890", "US"), { ok: true, e164: "+6281234567890" });
  });

  it("rejects what is not a phone number, with the reason", () => {
    assert.deepEqual(normalizePhone("", "US"), { ok: false, reason: "empty phone" });
    assert.deepEqual(normalizePhone("call me", "US"), { ok: false, reason: "phone has invalid characters" });
    assert.deepEqual(normalizePhone("12345", "US"), { ok: false, reason: "invalid phone number" });
    assert.deepEqual(normalizePhone("1".repeat(40), "US"), { ok: false, reason: "phone too long" });
  });

  it("knows country codes", () => {
    assert.equal(isCountryCode("ID"), true);
    assert.equal(isCountryCode("XX"), false);
  });
});

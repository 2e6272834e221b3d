// Whatever people type in a phone column becomes E.164 or a rejection with a reason, and an
// accepted number normalizes to itself, so a number read twice (a campaign reused in a blast)
// never changes identity. Fixed seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CountryCode } from "libphonenumber-js";
import { normalizePhone } from "../../../shared/domain/phones.ts";

const SEED = 42;
const E164 = /^\+[1-9]\d{6,14}$/;
const REASONS = ["empty phone", "phone too long", "phone has invalid characters", "invalid phone number"];

const country = fc.constantFrom<CountryCode>("US", "ID", "GB", "DE", "IN", "BR", "NG", "JP", "MX", "FR");
const phoneLike = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[0-9+()\-. /]{0,34}$/),
  fc
    .tuple(
      fc.constantFrom("", "+", "00", "0", " +"),
      fc.constantFrom("1", "62", "44", "49", "91", "55", "234", "81", "52", "33", ""),
      fc.stringMatching(/^[0-9]{4,13}$/),
      fc.constantFrom("", " ", "-", "(", ")", "."),
    )
    .map(
      ([prefix, code, digits, sep]) => `${prefix}${code}${sep}${digits.slice(0, 3)}${sep}${digits.slice(3)}`,
    ),
);

describe("phone normalization under fuzzing", () => {
  let cases = 0;
  let accepted = 0;

  it("answers E.164 or a known reason for any string, and E.164 normalizes to itself", () => {
    fc.assert(
      fc.property(phoneLike, country, country, (raw, home, elsewhere) => {
        cases++;
        const result = normalizePhone(raw, home);
        if (!result.ok) {
          assert.ok(REASONS.includes(result.reason), result.reason);
          return;
        }
        accepted++;
        assert.match(result.e164, E164);
        // Idempotent in any default country: the + makes it international.
        assert.deepEqual(normalizePhone(result.e164, home), result);
        assert.deepEqual(normalizePhone(result.e164, elsewhere), result);
      }),
      { seed: SEED, numRuns: 4000 },
    );
  });

  it("never answers more than 15 digits (regression: 14-digit German numbers)", () => {
    assert.deepEqual(normalizePhone("62000000000000", "DE"), { ok: false, reason: "invalid phone number" });
    assert.deepEqual(normalizePhone("+4962000000000000", "US"), {
      ok: false,
      reason: "invalid phone number",
    });
  });

  it("ran its cases", (t) => {
    t.diagnostic(`phone fuzz cases: ${cases} (${accepted} accepted)`);
    console.log(`phone fuzz cases: ${cases} (${accepted} accepted)`);
    assert.ok(cases >= 4000);
    assert.ok(accepted > 100, "the generator reaches valid numbers");
  });
});

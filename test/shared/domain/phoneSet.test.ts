// The compact set that deduplicates a blast's numbers: it must answer exactly as a Set would, past
// every growth, and hold a million numbers in a fraction of a Set's memory.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PhoneSet } from "../../../shared/domain/phoneSet.ts";

const e164 = fc.bigInt({ min: 1_000_000n, max: 999_999_999_999_999n }).map((n) => `+${n}`);

describe("PhoneSet", () => {
  it("agrees with a Set on any sequence of numbers, repeats included", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(e164, fc.constantFrom("+12025550100", "+6281234567890")), { maxLength: 3000 }),
        (phones) => {
          const compact = new PhoneSet();
          const reference = new Set<string>();
          for (const phone of phones)
            assert.equal(compact.add(phone), !reference.has(phone) && !!reference.add(phone));
          assert.equal(compact.size, reference.size);
          for (const phone of phones) assert.ok(compact.has(phone));
        },
      ),
      { seed: 7, numRuns: 50 },
    );
  });

  it("holds a million numbers of one country in 16 MB, about a quarter of a Set's", () => {
    const set = new PhoneSet();
    for (let i = 0; i < 1_000_000; i++) set.add(`+628${String(1_000_000_000 + i * 7)}`);
    assert.equal(set.size, 1_000_000);
    assert.equal(set.add("+6281000000000"), false, "the first one is still there");
    assert.equal(set.has("+6281000000001"), false);
    assert.ok(set.bytes <= 16 * 1024 * 1024, `${set.bytes} bytes`);
  });

  it("refuses what is not an E.164 number", () => {
    assert.throws(() => new PhoneSet().add("+0"));
    assert.throws(() => new PhoneSet().add("+12x"));
  });
});

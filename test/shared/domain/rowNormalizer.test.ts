// Normalizing a campaign a batch at a time must give exactly what normalizing it whole gives: the
// same recipients (first row for a number wins, phone as E.164), the same rejected rows with their
// reasons, the same duplicate count, however the rows are cut into batches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RowNormalizer } from "../../../shared/domain/rowNormalizer.ts";
import {
  normalizeRows,
  type InputRow,
  type Recipient,
  type RejectedRow,
} from "../../../shared/domain/recipients.ts";

const phone = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((n) => `+1202555${String(100 + n).padStart(4, "0")}`),
  fc.integer({ min: 0, max: 40 }).map((n) => `(202) 555-${String(100 + n).padStart(4, "0")}`),
  fc.constantFrom("", "not a phone", "123", "+44 20 7946 0958", "+442079460958"),
);
// Rows from JSON bodies have their own keys each: some have a city, some a phone only.
const values = fc.record(
  { phone, name: fc.constantFrom("", "Ana", " Bob ", "Çağla"), city: fc.constantFrom("", "Paris", "Lima") },
  { requiredKeys: [] },
);
const rows = fc
  .array(fc.tuple(fc.constantFrom("body" as const, "file" as const), values), { maxLength: 150 })
  .map((items) => items.map(([source, v], i): InputRow => ({ source, row: i + 1, values: v })));

describe("RowNormalizer", () => {
  it("normalizes in batches exactly as normalizeRows does on the whole list", () => {
    fc.assert(
      fc.property(
        rows,
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
        (input, cuts) => {
          const whole = normalizeRows(input, "US");
          const normalizer = new RowNormalizer("US");
          const recipients: Recipient[] = [];
          const rejected: RejectedRow[] = [];
          for (let start = 0, c = 0; start < input.length; c++) {
            const size = cuts[c % cuts.length] ?? 1;
            const batch = normalizer.normalize(input.slice(start, start + size));
            recipients.push(...batch.recipients);
            rejected.push(...batch.rejected);
            start += size;
          }
          assert.deepEqual(recipients, whole.recipients);
          assert.deepEqual(rejected, whole.rejected);
          assert.equal(normalizer.duplicates, whole.duplicates);
          assert.equal(normalizer.total, whole.recipients.length);
          assert.equal(normalizer.rejected, whole.rejected.length);
          // A campaign's columns are those its kept rows have, as normalizeRows counts them.
          assert.deepEqual(new Set(recipients.flatMap((r) => Object.keys(r.values))), whole.columns);
        },
      ),
      { seed: 13, numRuns: 300 },
    );
  });

  it("drops a number seen in an earlier batch, in whatever format it was written", () => {
    const normalizer = new RowNormalizer("US");
    const first = normalizer.normalize([
      { source: "body", row: 1, values: { phone: "+1 202 555 0100", name: "Ana" } },
    ]);
    const second = normalizer.normalize([
      { source: "file", row: 2, values: { phone: "(202) 555-0100", name: "Again" } },
      { source: "file", row: 3, values: { phone: "nope" } },
    ]);
    assert.deepEqual(first.recipients, [
      { source: "body", row: 1, phone: "+12025550100", values: { phone: "+12025550100", name: "Ana" } },
    ]);
    assert.deepEqual(second.recipients, []);
    assert.equal(second.rejected.length, 1);
    assert.equal(second.rejected[0]?.phone, "nope");
    assert.deepEqual([normalizer.total, normalizer.duplicates, normalizer.rejected], [1, 1, 1]);
  });
});

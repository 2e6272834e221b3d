// Planning a blast a batch at a time must give exactly what planning it whole gives: the same
// recipients with the same indexes and messages, the same rejected rows, the same duplicate count,
// however the rows are cut into batches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RecipientPlanner, templateProblem } from "../../../shared/domain/recipientPlanner.ts";
import {
  normalizeRows,
  planRecipients,
  type InputRow,
  type RowSource,
} from "../../../shared/domain/recipients.ts";
import { parseTemplate } from "../../../shared/domain/templates.ts";

const phone = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((n) => `+1202555${String(100 + n).padStart(4, "0")}`),
  fc.integer({ min: 0, max: 40 }).map((n) => `(202) 555-${String(100 + n).padStart(4, "0")}`),
  fc.constantFrom("", "not a phone", "123", "+44 20 7946 0958"),
);
const cells = fc.record({
  phone,
  name: fc.constantFrom("", "Ana", " Bob ", "Çağla"),
  city: fc.constantFrom("", "Paris", "Lima"),
});
const rows = fc
  .array(fc.tuple(fc.constantFrom<RowSource>("campaign", "body", "file"), cells), { maxLength: 120 })
  .map((items) => {
    // Sources arrive in this order, as the gateway reads them.
    const order: Record<RowSource, number> = { campaign: 0, body: 1, file: 2 };
    const sorted = [...items].sort((a, b) => order[a[0]] - order[b[0]]);
    return sorted.map(([source, values], i): InputRow => ({ source, row: i + 2, values }));
  });

describe("RecipientPlanner", () => {
  it("plans in batches exactly as the whole-list planner does", () => {
    fc.assert(
      fc.property(
        rows,
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
        fc.constantFrom("Hi {name}", "Hi {name} from {city}", "Sale!"),
        (input, cuts, text) => {
          const template = parseTemplate(text);
          const whole = planRecipients(template, normalizeRows(input, "US"));
          // The header decides now (every row of these sources has every column): a template it
          // refuses, the whole-list planner refuses too.
          const header = new Set(input.flatMap((r) => Object.keys(r.values)));
          if (templateProblem(template, header) !== undefined) return assert.equal(whole.ok, false);
          const planner = new RecipientPlanner(template, "US");
          const recipients = [];
          const rejected = [];
          for (let start = 0, c = 0; start < input.length; c++) {
            const size = cuts[c % cuts.length] ?? 1;
            const batch = planner.plan(input.slice(start, start + size));
            recipients.push(...batch.recipients);
            rejected.push(...batch.rejected);
            start += size;
          }
          // The whole-list planner took its columns from accepted rows only: with none accepted it
          // refused a template the header allows, and there is nothing to send either way.
          if (!whole.ok) return assert.equal(planner.total, 0);
          assert.deepEqual(recipients, whole.recipients);
          assert.deepEqual(rejected, whole.rejected);
          assert.equal(planner.duplicates, whole.duplicates);
          assert.equal(planner.total, whole.recipients.length);
          assert.equal(planner.rejected, whole.rejected.length);
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });

  it("refuses a placeholder that no source's header has, before any row is read", () => {
    assert.equal(templateProblem(parseTemplate("Hi {name}"), ["phone", "name"]), undefined);
    assert.equal(
      templateProblem(parseTemplate("Hi {name} from {city}"), ["phone", "name"]),
      "template uses {city}, which no recipient has",
    );
    assert.equal(templateProblem(parseTemplate("Hi {name}"), []), undefined, "no header yet: phone and name");
  });
});

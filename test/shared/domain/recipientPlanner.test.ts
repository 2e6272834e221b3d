// Planning a blast a batch at a time must give exactly what planning it whole gives: the same
// recipients with the same indexes and messages, the same rejected rows, the same duplicate count,
// however the rows are cut into batches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RecipientPlanner, SUPPRESSED, templateProblem } from "../../../shared/domain/recipientPlanner.ts";
import {
  normalizeRows,
  planRecipients,
  type InputRow,
  type RejectedRow,
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

  it("plans with a suppression list as the whole-list planner does with those rows rejected", () => {
    fc.assert(
      fc.property(
        rows,
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 20 }),
        (input, cuts, listed) => {
          const suppressed = new Set(listed.map((n) => `+1202555${String(100 + n).padStart(4, "0")}`));
          const template = parseTemplate("Hi {name}");
          // What the gateway does: the whole list normalized, suppressed recipients turned into
          // rejected rows, then planned.
          const normalized = normalizeRows(input, "US");
          const held: RejectedRow[] = normalized.recipients
            .filter((r) => suppressed.has(r.phone))
            .map(({ source, row, phone }) => ({ source, row, phone, reason: SUPPRESSED }));
          const whole = planRecipients(template, {
            ...normalized,
            recipients: normalized.recipients.filter((r) => !suppressed.has(r.phone)),
            rejected: [...normalized.rejected, ...held],
          });
          const planner = new RecipientPlanner(template, "US");
          const recipients = [];
          const rejected = [];
          for (let start = 0, c = 0; start < input.length; c++) {
            const size = cuts[c % cuts.length] ?? 1;
            const batch = planner.normalize(input.slice(start, start + size));
            // Only the batch's own numbers are looked up, as the gateway does.
            const among = new Set(batch.recipients.map((r) => r.phone).filter((p) => suppressed.has(p)));
            const planned = planner.render(batch, among);
            recipients.push(...planned.recipients);
            rejected.push(...planned.rejected);
            start += size;
          }
          assert.ok(whole.ok);
          assert.deepEqual(recipients, whole.recipients);
          assert.deepEqual(rejected, whole.rejected);
          assert.equal(planner.duplicates, whole.duplicates);
          assert.equal(planner.total, whole.recipients.length);
          assert.equal(planner.rejected, whole.rejected.length);
        },
      ),
      { seed: 12, numRuns: 200 },
    );
  });

  it("rejects a suppressed number without giving it an index, and merges its later rows", () => {
    const planner = new RecipientPlanner(parseTemplate("Hi {name}"), "US");
    const row = (n: number, phone: string, name: string): InputRow => ({
      source: "file",
      row: n,
      values: { phone, name },
    });
    const first = planner.normalize([row(2, "+12025550100", "Ana"), row(3, "(202) 555-0101", "Bob")]);
    const planned = planner.render(first, new Set(["+12025550100"]));
    assert.deepEqual(planned.recipients, [{ idx: 0, phone: "+12025550101", name: "Bob", text: "Hi Bob" }]);
    assert.deepEqual(planned.rejected, [
      { source: "file", row: 2, phone: "+12025550100", reason: "suppressed" },
    ]);
    // The same number again in a later batch is a duplicate, not a second rejected row.
    const again = planner.render(planner.normalize([row(4, "2025550100", "Ana again")]));
    assert.deepEqual(again, { recipients: [], rows: [], rejected: [] });
    assert.deepEqual([planner.total, planner.rejected, planner.duplicates], [1, 1, 1]);
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

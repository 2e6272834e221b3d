import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeRows, planRecipients, type InputRow } from "../../../shared/domain/recipients.ts";
import { parseTemplate } from "../../../shared/domain/templates.ts";

const row = (row: number, values: Record<string, string>, source: InputRow["source"] = "file"): InputRow => ({
  source,
  row,
  values,
});

describe("recipients of a blast", () => {
  const rows = [
    row(1, { phone: "+1 202 555 0100", name: "Ana" }, "campaign"),
    row(2, { phone: "202-555-0101", name: "Bob" }),
    row(3, { phone: "(202) 555 0100", name: "Ana again" }),
    row(4, { phone: "oops", name: "Cy" }),
    row(5, { phone: "+12025550102", name: "" }),
  ];

  it("merges duplicates by normalized phone, first row wins", () => {
    const normalized = normalizeRows(rows, "US");
    assert.deepEqual(
      normalized.recipients.map((r) => [r.phone, r.values.name]),
      [
        ["+12025550100", "Ana"],
        ["+12025550101", "Bob"],
        ["+12025550102", ""],
      ],
    );
    assert.equal(normalized.duplicates, 1);
    assert.deepEqual(normalized.rejected, [
      { source: "file", row: 4, phone: "oops", reason: "phone has invalid characters" },
    ]);
  });

  it("renders each message and rejects rows that cannot fill the template, in file order", () => {
    const plan = planRecipients(parseTemplate("Hi {name}"), normalizeRows(rows, "US"));
    assert.ok(plan.ok);
    if (!plan.ok) return;
    assert.deepEqual(plan.recipients, [
      { idx: 0, phone: "+12025550100", name: "Ana", text: "Hi Ana" },
      { idx: 1, phone: "+12025550101", name: "Bob", text: "Hi Bob" },
    ]);
    assert.deepEqual(
      plan.rejected.map((r) => [r.row, r.reason]),
      [
        [4, "phone has invalid characters"],
        [5, "missing value for {name}"],
      ],
    );
  });

  it("fails the whole plan when no recipient has a column the template uses", () => {
    const plan = planRecipients(parseTemplate("Hi {name} in {city}"), normalizeRows(rows, "US"));
    assert.deepEqual(plan, { ok: false, error: "template uses {city}, which no recipient has" });
  });
});

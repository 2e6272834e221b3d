// Hostile uploads: whatever bytes arrive, the importer answers with rows or an ImportError that
// becomes a clear 400, 413 or 415; never another exception (a 500) and never a hang. The seed is
// fixed, so a failure found here is found again on every run.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as XLSX from "xlsx";
import { zipSync } from "fflate";
import { ImportError, readRecipientsFile, type ImportLimits } from "../../../shared/import/recipientsFile.ts";
import type { InputRow } from "../../../shared/domain/recipients.ts";

const SEED = 42;
const limits: Partial<ImportLimits> = { maxRows: 200, maxColumns: 20, maxCellLength: 300 };

type Outcome = { rows: InputRow[] } | { status: number; message: string };

/** Rows or a refusal with a status a client can act on; anything else fails the property. */
function importOutcome(filename: string, data: Uint8Array): Outcome {
  try {
    return { rows: readRecipientsFile(filename, data, "file", limits) };
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    assert.ok([400, 413, 415].includes(err.status), `status ${err.status}`);
    assert.ok(err.message.length > 0);
    return { status: err.status, message: err.message };
  }
}

function assertRowsAreClean(outcome: Outcome): void {
  if (!("rows" in outcome)) return;
  for (const row of outcome.rows) {
    assert.ok(Number.isInteger(row.row) && row.row >= 2);
    assert.equal(typeof row.values.phone, "string");
    for (const [column, value] of Object.entries(row.values)) {
      assert.ok(!["__proto__", "constructor", "prototype"].includes(column), column);
      assert.equal(typeof value, "string");
      assert.ok(value.length <= 300);
    }
  }
}

const hostileCell = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    '"',
    '""',
    '"a,b"',
    "a\nb",
    "\r\n",
    "=1+2",
    '=HYPERLINK("http://x")',
    "+1 202 555 0100",
    "-2+3",
    "@SUM(A1)",
    "\u0000",
    "\uFEFF",
    "__proto__",
    "constructor",
    "toString",
    "<b>x</b>",
    "ID;P",
  ),
  fc.string({ minLength: 280, maxLength: 320 }),
);
const hostileHeader = fc.oneof(
  fc.constantFrom("phone", "Phone Number", "name", "__proto__", "constructor", "prototype", "toString", ""),
  fc.string({ maxLength: 12 }),
);

function csvText(table: string[][], separator: string, quoteAll: boolean): string {
  const cell = (value: string) =>
    quoteAll || /[",\r\n;\t]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  return table.map((row) => row.map(cell).join(separator)).join("\n");
}

function workbook(table: unknown[][]): Uint8Array {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(table), "list");
  return XLSX.write(book, { type: "buffer", bookType: "xlsx" }) as Buffer;
}

/** fflate will not zip a part named "__proto__", so the name is written into the headers after. */
function archiveNamed(name: string, content: Uint8Array): Uint8Array {
  const placeholder = "~".repeat(name.length);
  const archive = Buffer.from(zipSync({ [placeholder]: content }, { level: 9 }));
  for (let at = archive.indexOf(placeholder); at !== -1; at = archive.indexOf(placeholder, at + 1)) {
    archive.write(name, at, "latin1");
  }
  return archive;
}

describe("recipient files under fuzzing", () => {
  let cases = 0;
  const counted =
    <T extends unknown[]>(check: (...args: T) => void) =>
    (...args: T) => {
      cases++;
      check(...args);
    };

  it("answers rows or a 400/413/415 for arbitrary bytes under any name", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("list.csv", "list.xlsx", "list.txt", "list.pdf", "LIST.XLSX", "noextension"),
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          // Bytes that pass the zip signature check reach the archive reader.
          fc.uint8Array({ maxLength: 600 }).map((tail) => Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...tail])),
          // A UTF-16 byte-order mark followed by anything.
          fc.uint8Array({ maxLength: 200 }).map((tail) => Uint8Array.from([0xff, 0xfe, ...tail])),
        ),
        counted((filename, data) => {
          importOutcome(filename, data);
        }),
      ),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it("reads generated CSV with quotes, newlines, formulas, NUL, long cells and __proto__ headers", () => {
    fc.assert(
      fc.property(
        fc.array(hostileHeader, { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(hostileCell, { maxLength: 7 }), { maxLength: 12 }),
        fc.constantFrom(",", ";", "\t"),
        fc.boolean(),
        fc.constantFrom("utf-8", "utf-16le", "windows-1252"),
        counted((header, body, separator, quoteAll, encoding) => {
          const text = csvText([header, ...body], separator, quoteAll);
          const bytes =
            encoding === "utf-16le"
              ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])
              : encoding === "windows-1252"
                ? Buffer.from(text, "latin1")
                : Buffer.from(text, "utf8");
          const outcome = importOutcome("list.csv", bytes);
          assertRowsAreClean(outcome);
          // A well-formed sheet with a phone header and harmless cells always reads.
          const plain = [header, ...body].every((row) => row.every((c) => /^[A-Za-z0-9 +]*$/.test(c)));
          if (plain && header.some((h) => h.trim().toLowerCase() === "phone") && separator === ",") {
            assert.ok("rows" in outcome, JSON.stringify(outcome));
          }
        }),
      ),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it("reads generated .xlsx workbooks with random content, and refuses them damaged", () => {
    fc.assert(
      fc.property(
        fc.array(hostileHeader, { minLength: 1, maxLength: 5 }),
        fc.array(
          fc.array(fc.oneof(hostileCell, fc.double(), fc.integer(), fc.boolean(), fc.constant(null)), {
            maxLength: 6,
          }),
          { maxLength: 8 },
        ),
        fc.oneof(
          fc.constant({ kind: "intact" as const }),
          fc.record({ kind: fc.constant("truncated" as const), at: fc.nat() }),
          fc.record({ kind: fc.constant("flipped" as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
        ),
        counted((header, body, damage) => {
          const bytes = Uint8Array.from(workbook([header, ...body]));
          if (damage.kind === "truncated") {
            importOutcome("list.xlsx", bytes.subarray(0, damage.at % bytes.length));
          } else if (damage.kind === "flipped") {
            bytes[damage.at % bytes.length] = damage.byte;
            importOutcome("list.xlsx", bytes);
          } else {
            assertRowsAreClean(importOutcome("list.xlsx", bytes));
          }
        }),
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("refuses archives with hostile part names and sizes without throwing anything else", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 * 1024 }),
        fc.constantFrom("xl/worksheets/sheet1.xml", "__proto__", "constructor", "a/", "[Content_Types].xml"),
        counted((size, name) => {
          const outcome = importOutcome("parts.xlsx", archiveNamed(name, new Uint8Array(size)));
          assert.ok("status" in outcome, "a workbook of zeros is never rows");
        }),
      ),
      { seed: SEED, numRuns: 100 },
    );
  });

  it("ran its cases", (t) => {
    t.diagnostic(`recipient file fuzz cases: ${cases}`);
    console.log(`recipient file fuzz cases: ${cases}`);
    assert.ok(cases >= 3400);
  });
});

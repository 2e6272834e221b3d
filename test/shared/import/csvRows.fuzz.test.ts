// Hostile uploads to the streaming CSV reader: whatever bytes arrive, cut however, it answers with
// rows or an ImportError that becomes a clear 400, 413 or 415; never another exception, never a
// hang (each case has a time limit), and never an answer that depends on where the chunks were cut.
// The seed is fixed, so a failure found here is found again on every run.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { readCsvRows } from "../../../shared/import/csvRows.ts";
import {
  ImportError,
  defaultImportLimits,
  readRecipientsFile,
  type ImportLimits,
} from "../../../shared/import/recipientsFile.ts";
import type { InputRow } from "../../../shared/domain/recipients.ts";

const SEED = 42;
const limits: ImportLimits = { ...defaultImportLimits, maxRows: 200, maxColumns: 20, maxCellLength: 300 };
/** Per case: a reader that hangs fails the property instead of the whole run. */
const TIMEOUT_MS = 2000;

type Outcome = { rows: InputRow[]; headers: string[][] } | { status: number; message: string };

async function* cut(data: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const at of [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)) {
    yield data.subarray(from, at);
    from = at;
  }
  yield data.subarray(from);
}

/** Rows or a refusal with a status a client can act on; anything else fails the property. */
async function outcome(data: Uint8Array, cuts: number[] = []): Promise<Outcome> {
  const rows: InputRow[] = [];
  const headers: string[][] = [];
  try {
    for await (const batch of readCsvRows(cut(data, cuts), "file", limits, 5)) {
      assert.ok(batch.rows.length <= 5);
      rows.push(...batch.rows);
      headers.push(batch.header);
    }
    return { rows, headers };
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    assert.ok([400, 413, 415].includes(err.status), `status ${err.status}`);
    assert.ok(err.message.length > 0);
    return { status: err.status, message: err.message };
  }
}

function assertRowsAreClean(result: Outcome): void {
  if (!("rows" in result)) return;
  assert.ok(result.headers.length >= 1, "at least one batch, carrying the header");
  const header = result.headers[0] ?? [];
  assert.ok(header.includes("phone"));
  let last = 1;
  for (const row of result.rows) {
    assert.ok(Number.isInteger(row.row) && row.row > last, `row ${row.row} after ${last}`);
    last = row.row;
    // As sets: an object lists integer-like keys ("0") first, whatever the file's order.
    assert.deepEqual(Object.keys(row.values).sort(), [...header].sort());
    for (const [column, value] of Object.entries(row.values)) {
      assert.ok(!["__proto__", "constructor", "prototype"].includes(column), column);
      assert.equal(typeof value, "string");
      assert.ok(value.length <= 300);
      assert.equal(value, value.trim());
    }
    assert.ok(Object.values(row.values).some((value) => value !== ""));
  }
}

// The same hostile cells and headers as recipientsFile.fuzz.test.ts.
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
    "sep=;",
  ),
  fc.string({ minLength: 280, maxLength: 320 }),
);
const hostileHeader = fc.oneof(
  fc.constantFrom("phone", "Phone Number", "name", "__proto__", "constructor", "prototype", "toString", ""),
  fc.string({ maxLength: 12 }),
);
const plainCell = fc.stringMatching(/^[A-Za-z0-9 +]{0,12}$/);

function csvText(table: string[][], separator: string, quoteAll: boolean, newline: string): string {
  const cell = (value: string) =>
    quoteAll || /[",\r\n;\t|]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  return table.map((row) => row.map(cell).join(separator)).join(newline);
}

function encode(text: string, encoding: string): Buffer {
  if (encoding === "utf-16le")
    return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
  if (encoding === "windows-1252") return Buffer.from(text, "latin1");
  return Buffer.from(text, "utf8");
}

const cuts = fc.array(fc.nat(), { maxLength: 8 });

describe("streaming CSV reader under fuzzing", () => {
  let cases = 0;

  it("answers rows or a 400/413/415 for arbitrary bytes, the same however they are cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc.uint8Array({ maxLength: 600 }).map((tail) => Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...tail])),
          fc.uint8Array({ maxLength: 200 }).map((tail) => Uint8Array.from([0xff, 0xfe, ...tail])),
          fc.uint8Array({ maxLength: 200 }).map((tail) => Uint8Array.from([0xfe, 0xff, ...tail])),
          // Printable text with a phone header, which gets past the header to the rows.
          fc
            .uint8Array({ maxLength: 600 })
            .map((tail) =>
              Uint8Array.from([...Buffer.from("phone,name\n"), ...tail.map((b) => (b % 96) + 32)]),
            ),
        ),
        cuts,
        async (data, at) => {
          cases++;
          const whole = await outcome(data);
          assertRowsAreClean(whole);
          assert.deepEqual(await outcome(data, at), whole);
        },
      ),
      { seed: SEED, numRuns: 1500, timeout: TIMEOUT_MS },
    );
  });

  it("reads generated CSV with quotes, newlines, formulas, NUL, long cells and __proto__ headers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileHeader, { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(hostileCell, { maxLength: 7 }), { maxLength: 12 }),
        fc.constantFrom(",", ";", "\t"),
        fc.boolean(),
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.constantFrom("utf-8", "utf-16le", "windows-1252"),
        cuts,
        async (header, body, separator, quoteAll, newline, encoding, at) => {
          cases++;
          const data = encode(csvText([header, ...body], separator, quoteAll, newline), encoding);
          const whole = await outcome(data);
          assertRowsAreClean(whole);
          assert.deepEqual(await outcome(data, at), whole);
          // A well-formed sheet with a phone header and harmless cells always reads.
          const plain = [header, ...body].every((row) => row.every((c) => /^[A-Za-z0-9 +]*$/.test(c)));
          if (plain && header.some((h) => h.trim().toLowerCase() === "phone")) {
            assert.ok("rows" in whole, JSON.stringify(whole));
          }
        },
      ),
      { seed: SEED, numRuns: 1500, timeout: TIMEOUT_MS },
    );
  });

  it("gives the rows readRecipientsFile gives for well-formed CSV, quoted or not", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(fc.constantFrom("phone", "Phone Number", "name", "City", "__proto__", ""), plainCell),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.array(
          fc.array(fc.oneof(plainCell, fc.constantFrom("a,b", 'say "hi"', "two\nlines", "x;y", "Zoë", "")), {
            maxLength: 7,
          }),
          { maxLength: 12 },
        ),
        fc.constantFrom(",", ";", "\t"),
        fc.boolean(),
        fc.constantFrom("\n", "\r\n"),
        fc.constantFrom("utf-8", "utf-16le", "windows-1252"),
        async (header, body, separator, quoteAll, newline, encoding) => {
          cases++;
          const data = encode(csvText([header, ...body], separator, quoteAll, newline), encoding);
          const streamed = await outcome(data);
          let today: Outcome;
          try {
            today = { rows: readRecipientsFile("list.csv", data, "file", limits), headers: [] };
          } catch (err) {
            if (!(err instanceof ImportError)) throw err;
            today = { status: err.status, message: err.message };
          }
          if ("rows" in today) {
            assert.ok("rows" in streamed, JSON.stringify(streamed));
            assert.deepEqual(streamed.rows, today.rows);
          } else {
            // Refused both ways; the wording may differ (the header's place, a row's width).
            assert.ok("status" in streamed, JSON.stringify(streamed));
            assert.equal(streamed.status, today.status);
          }
        },
      ),
      { seed: SEED, numRuns: 1000, timeout: TIMEOUT_MS },
    );
  });

  it("ran its cases", (t) => {
    t.diagnostic(`streaming CSV fuzz cases: ${cases}`);
    assert.ok(cases >= 4000);
  });
});

// A 300,000-row workbook through the streaming reader, from a generator that never holds the file,
// in Excel's part order (the sheet before its strings, so the sheet goes through the temporary
// file): every row arrives, the heap does not grow with the rows, and the event loop keeps turning.
// (A million rows take ~9 s on a 2-core machine and hold 16 MB of live heap: too long for here.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { defaultImportLimits } from "../../../shared/import/recipientsFile.ts";
import { readXlsxRows } from "../../../shared/import/xlsxRows.ts";
import { generatedWorkbook } from "./xlsxWorkbooks.ts";

const ROWS = 300_000;

setFlagsFromString("--expose-gc");
/** A full collection, so that what is measured is what is still held, not garbage not yet swept. */
const gc = runInNewContext("gc") as () => void;

describe("streaming .xlsx reader at scale", () => {
  it(`reads ${ROWS} rows in bounded memory, giving the event loop turns`, { timeout: 120_000 }, async () => {
    gc();
    const before = process.memoryUsage().heapUsed;
    let longestTurn = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestTurn = Math.max(longestTurn, now - last);
      last = now;
    }, 5);
    const growth: number[] = [];
    let rows = 0;
    let lastRow: unknown;
    const started = performance.now();
    try {
      for await (const batch of readXlsxRows(
        generatedWorkbook(ROWS, "sheet-first"),
        "file",
        defaultImportLimits,
      )) {
        rows += batch.rows.length;
        lastRow = batch.rows.at(-1);
        if (rows % 50_000 === 0) {
          gc();
          growth.push(process.memoryUsage().heapUsed - before);
        }
      }
    } finally {
      clearInterval(ticker);
    }
    const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(
      `${ROWS} rows in ${((performance.now() - started) / 1000).toFixed(1)} s; heap growth ` +
        `${growth.map(mb).join(", ")} MB; longest wait of the event loop ${Math.round(longestTurn)} ms`,
    );
    assert.equal(rows, ROWS);
    assert.deepEqual(lastRow, {
      source: "file",
      row: ROWS + 1,
      values: { phone: String(6281200000000 + ROWS), name: `Customer ${ROWS}`, city: "Jakarta" },
    });
    // What stays is the shared strings table (300,000 names, ~4 MB), not the rows: a reader that
    // kept them would fail here, at 63 MB.
    assert.ok(Math.max(...growth) < 48 * 2 ** 20, `heap grew ${growth.map(mb).join(", ")} MB`);
    // Today's reader holds the event loop for the whole file (42 s for a million rows).
    assert.ok(longestTurn < 2000, `the event loop waited ${Math.round(longestTurn)} ms`);
  });
});

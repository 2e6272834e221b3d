// A million-row CSV through the streaming reader, from a generator that never holds the file:
// every row arrives, and the heap does not grow with the file.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { readCsvRows } from "../../../shared/import/csvRows.ts";
import { defaultImportLimits } from "../../../shared/import/recipientsFile.ts";

const ROWS = 1_000_000;

setFlagsFromString("--expose-gc");
/** A full collection, so that what is measured is what is still held, not garbage not yet swept. */
const gc = runInNewContext("gc") as () => void;

async function* generatedCsv(rows: number): AsyncGenerator<Uint8Array> {
  let text = "Phone Number;Name;City;Note\r\n";
  for (let i = 0; i < rows; i++) {
    const note = i % 10 === 0 ? `"line one\r\nline two; ""quoted"""` : "plain";
    text += `+62812${String(i).padStart(7, "0")};Name ${i};Jakarta;${note}\r\n`;
    if (text.length >= 64 * 1024) {
      yield Buffer.from(text);
      text = "";
    }
  }
  yield Buffer.from(text);
}

describe("streaming CSV reader at scale", () => {
  it(`reads ${ROWS} rows with a heap that does not grow with the file`, async () => {
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    let rows = 0;
    let batches = 0;
    let lastRow = 0;
    for await (const batch of readCsvRows(generatedCsv(ROWS), "file", defaultImportLimits)) {
      batches++;
      rows += batch.rows.length;
      lastRow = batch.rows.at(-1)?.row ?? lastRow;
      if (batches % 100 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    assert.equal(rows, ROWS);
    assert.equal(batches, ROWS / 1000);
    assert.equal(lastRow, ROWS + 1);
    assert.ok(peak < 100 * 1024 * 1024, `heap grew by ${Math.round(peak / 1024 / 1024)} MB`);
    console.log(`heap growth while reading ${ROWS} rows: ${(peak / 1024 / 1024).toFixed(1)} MB`);
  });
});

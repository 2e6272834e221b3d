// Recipients given as JSON objects ({phone, name, ...}) become rows like those read from a file.
import type { InputRow, RowSource } from "../domain/recipients.ts";
import { normalizeColumn } from "../domain/templates.ts";
import { FORBIDDEN_COLUMNS } from "./headerColumns.ts";

export function rowsFromRecords(
  records: ReadonlyArray<Record<string, unknown>>,
  source: RowSource,
): InputRow[] {
  return records.map((record, i) => {
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(record)) {
      const column = normalizeColumn(key);
      if (!column || FORBIDDEN_COLUMNS.has(column)) continue;
      if (value === null || value === undefined) continue;
      values[column] = typeof value === "string" ? value.trim() : String(value);
    }
    return { source, row: i + 1, values };
  });
}

// What a recipients file's header row means, the same for every reader (whole-file SheetJS, the
// streaming CSV and XLSX readers) and for JSON records: the phone column by any of its usual
// names, renamed `phone`, and the names a row's values may take.
import { normalizeColumn } from "../domain/templates.ts";

/** Names that would reach an object's prototype if used as keys of a row's values. */
export const FORBIDDEN_COLUMNS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

const PHONE_ALIASES: ReadonlySet<string> = new Set([
  "phone",
  "phone_number",
  "phonenumber",
  "mobile",
  "mobile_number",
  "whatsapp",
  "whatsapp_number",
  "number",
  "msisdn",
  "tel",
  "telephone",
]);

export interface HeaderColumns {
  /** Normalized name per position, the phone column's renamed `phone` ("" for a blank cell). */
  readonly columns: string[];
  /** The positions whose cells become values, with their names. */
  readonly named: ReadonlyArray<{ readonly name: string; readonly column: number }>;
  /** The names a row's values have: in order, each once. */
  readonly header: string[];
}

/** Whether any of these raw cells names the phone column (a header row, or a row that might be). */
export function namesPhone(cells: readonly string[]): boolean {
  return cells.some((cell) => PHONE_ALIASES.has(normalizeColumn(cell)));
}

/** The header these raw cells make, or undefined when none of them names the phone column. */
export function headerColumns(cells: readonly string[]): HeaderColumns | undefined {
  const columns = cells.map((cell) => normalizeColumn(cell));
  const phone = columns.findIndex((column) => PHONE_ALIASES.has(column));
  if (phone === -1) return undefined;
  columns[phone] = "phone";
  const named = columns.flatMap((name, column) =>
    name && !FORBIDDEN_COLUMNS.has(name) ? [{ name, column }] : [],
  );
  return { columns, named, header: [...new Set(named.map(({ name }) => name))] };
}

/** The names a header without a phone column did have, for the refusal. */
export function foundColumns(cells: readonly string[]): string {
  return (
    cells
      .map((cell) => normalizeColumn(cell))
      .filter(Boolean)
      .join(", ") || "none"
  );
}

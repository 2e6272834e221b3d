// Reads an uploaded .xlsx or .csv of recipients into rows. Parsing only: phones, duplicates and
// templates are the domain's job (shared/domain/recipients.ts).
import * as XLSX from "xlsx";
import type { InputRow, RowSource } from "../domain/recipients.ts";
import { FORBIDDEN_COLUMNS, foundColumns, headerColumns } from "./headerColumns.ts";
import { ArchiveRejected, repackWorkbook, type ExpansionLimits } from "./xlsxArchive.ts";

export interface ImportLimits extends ExpansionLimits {
  readonly maxRows: number;
  readonly maxColumns: number;
  readonly maxCellLength: number;
}

export const defaultImportLimits: ImportLimits = {
  maxRows: 1_000_000,
  maxColumns: 100,
  maxCellLength: 1000,
  maxExpandedBytes: 1024 * 1024 * 1024,
  maxExpansionRatio: 100,
};

export class ImportError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export type FileKind = "xlsx" | "csv";

export function fileKindOf(filename: string, data: Uint8Array): FileKind {
  const lower = filename.toLowerCase();
  const isZip = data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04;
  if (lower.endsWith(".xlsx")) {
    if (!isZip) throw new ImportError(400, "the .xlsx file is damaged or not really an Excel workbook");
    return "xlsx";
  }
  if (lower.endsWith(".csv") || lower.endsWith(".txt")) {
    if (isZip)
      throw new ImportError(415, "the .csv file is a zip archive; upload a plain-text CSV or an .xlsx");
    return "csv";
  }
  throw new ImportError(415, `unsupported file type "${filename}": upload an .xlsx or .csv file`);
}

/**
 * CSV exported by Excel on Windows is often Windows-1252, not UTF-8, and its "Unicode text" is
 * UTF-16 with a byte-order mark: read all three.
 */
function decodeCsv(data: Uint8Array): string {
  let text: string;
  const utf16 =
    data[0] === 0xff && data[1] === 0xfe
      ? "utf-16le"
      : data[0] === 0xfe && data[1] === 0xff
        ? "utf-16be"
        : "";
  try {
    text = new TextDecoder(utf16 || "utf-8", { fatal: true }).decode(data);
  } catch {
    if (utf16) throw new ImportError(400, "the CSV file is not valid UTF-16 text");
    text = new TextDecoder("windows-1252").decode(data);
  }
  if (text.includes("\u0000")) {
    throw new ImportError(400, "the CSV file contains binary data; save it as CSV (UTF-8)");
  }
  return text.replace(/^\uFEFF/, "");
}

function inflatedWorkbook(data: Uint8Array, limits: ImportLimits): Uint8Array {
  try {
    return repackWorkbook(data, limits);
  } catch (err) {
    if (err instanceof ArchiveRejected) throw new ImportError(err.status, err.message);
    throw err;
  }
}

/** A cell as the text a row holds; shared with the streaming XLSX reader (xlsxRows.ts). */
export function cellText(cell: unknown): string {
  if (cell === null || cell === undefined) return "";
  if (typeof cell === "number") {
    // Phone numbers typed into Excel become numbers; keep every digit, never "6.28E+12".
    return Number.isSafeInteger(cell)
      ? String(cell)
      : Number.isInteger(cell)
        ? BigInt(cell).toString()
        : String(cell);
  }
  if (cell instanceof Date) return cell.toISOString();
  return String(cell).trim();
}

export function readRecipientsFile(
  filename: string,
  data: Uint8Array,
  source: RowSource,
  overrides: Partial<ImportLimits> = {},
): InputRow[] {
  const limits: ImportLimits = { ...defaultImportLimits, ...overrides };
  if (data.length === 0) throw new ImportError(400, "the uploaded file is empty");
  const kind = fileKindOf(filename, data);
  let workbook: XLSX.WorkBook;
  try {
    workbook =
      kind === "csv"
        ? XLSX.read(decodeCsv(data), {
            type: "string",
            raw: true,
            dense: true,
            sheetRows: limits.maxRows + 2,
          })
        : XLSX.read(inflatedWorkbook(data, limits), {
            type: "buffer",
            dense: true,
            sheetRows: limits.maxRows + 2,
            cellHTML: false,
          });
  } catch (err) {
    if (err instanceof ImportError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ImportError(400, `could not read the ${kind} file: ${reason}`);
  }
  const sheetName = workbook.SheetNames[0];
  const sheet = sheetName === undefined ? undefined : workbook.Sheets[sheetName];
  if (!sheet) throw new ImportError(400, "the workbook has no sheet");
  // Blank rows are kept (and skipped below) so every row keeps the line number people see.
  const table = XLSX.utils.sheet_to_json<unknown[]>(sheet, {
    header: 1,
    raw: true,
    defval: "",
    blankrows: true,
  });
  const headerLine = XLSX.utils.decode_range(sheet["!ref"] ?? "A1").s.r + 1;
  const [header, ...body] = table;
  if (!header || header.length === 0) throw new ImportError(400, "the file has no header row");
  if (header.length > limits.maxColumns) {
    throw new ImportError(
      413,
      `the file has ${header.length} columns; at most ${limits.maxColumns} are allowed`,
    );
  }
  if (body.length > limits.maxRows) {
    throw new ImportError(413, `the file has more than ${limits.maxRows} rows`);
  }
  const headerCells = header.map(cellText);
  const columns = headerColumns(headerCells)?.columns;
  if (!columns) {
    throw new ImportError(400, `the file has no "phone" column (found: ${foundColumns(headerCells)})`);
  }
  const rows: InputRow[] = [];
  body.forEach((cells, i) => {
    const values: Record<string, string> = {};
    columns.forEach((column, c) => {
      if (!column || FORBIDDEN_COLUMNS.has(column)) return;
      const text = cellText(cells[c]);
      if (text.length > limits.maxCellLength) {
        throw new ImportError(
          413,
          `line ${headerLine + 1 + i}, column "${column}" is longer than ${limits.maxCellLength} characters`,
        );
      }
      if (!Object.hasOwn(values, column) || values[column] === "") values[column] = text;
    });
    if (Object.values(values).every((v) => v === "")) return;
    rows.push({ source, row: headerLine + 1 + i, values });
  });
  return rows;
}

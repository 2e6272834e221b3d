// Workbooks for the streaming XLSX reader's tests, written part by part so that the tests choose
// what SheetJS would not: the order of the parts in the zip, how each is packed, sizes that lie,
// and sheets far larger than memory should hold.
import { Zip, ZipDeflate, ZipPassThrough, strToU8, zipSync, type Zippable } from "fflate";
import {
  ImportError,
  type ImportLimits,
  defaultImportLimits,
} from "../../../shared/import/recipientsFile.ts";
import { readXlsxRows } from "../../../shared/import/xlsxRows.ts";
import type { InputRow } from "../../../shared/domain/recipients.ts";

export type Packing = "stored" | "deflated" | "streamed";
/**
 * Where the parts sit in the zip: strings before the sheet; the sheet first, as Excel writes; or
 * the workbook and its relationships last, after the sheet and strings, as ExcelJS writes.
 */
export type PartOrder = "strings-first" | "sheet-first" | "workbook-last";

const MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships";

export const contentTypesXml =
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
  `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
  `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
  `<Default Extension="xml" ContentType="application/xml"/>` +
  `<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
  `<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
  `<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>` +
  `</Types>`;
export const packageRelsXml =
  `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${PACKAGE_RELS}">` +
  `<Relationship Id="rId1" Type="${RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`;

/** xl/workbook.xml listing sheets in this order, each `rId<n>` for its position n (from 1). */
export function workbookXml(sheetNames: string[] = ["list"]): string {
  const sheets = sheetNames.map((name, i) => `<sheet name="${name}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`);
  return (
    `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${MAIN}" xmlns:r="${RELS}">` +
    `<sheets>${sheets.join("")}</sheets></workbook>`
  );
}

/** xl/_rels/workbook.xml.rels: `rId<n>` to the given sheet targets, then the shared strings. */
export function workbookRelsXml(sheetTargets: string[] = ["worksheets/sheet1.xml"], strings = true): string {
  const sheets = sheetTargets.map(
    (target, i) => `<Relationship Id="rId${i + 1}" Type="${RELS}/worksheet" Target="${target}"/>`,
  );
  const shared = strings
    ? `<Relationship Id="rIdS" Type="${RELS}/sharedStrings" Target="sharedStrings.xml"/>`
    : "";
  return `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${PACKAGE_RELS}">${sheets.join("")}${shared}</Relationships>`;
}

export function sheetXml(sheetData: string, before = ""): string {
  return `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${MAIN}">${before}<sheetData>${sheetData}</sheetData></worksheet>`;
}

/** Each item is an <si>'s inner XML (`<t>…</t>`, or rich-text runs). */
export function stringsXml(items: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${MAIN}" count="${items.length}" uniqueCount="${items.length}">${items.map((item) => `<si>${item}</si>`).join("")}</sst>`;
}

export const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A cell reference: column index from 0 (A), row number from 1. */
export function cellRef(column: number, row: number): string {
  let name = "";
  for (let n = column + 1; n > 0; n = Math.floor((n - 1) / 26))
    name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return `${name}${row}`;
}

export const inline = (ref: string, text: string) =>
  `<c r="${ref}" t="inlineStr"><is><t xml:space="preserve">${escapeXml(text)}</t></is></c>`;
export const shared = (ref: string, index: number) => `<c r="${ref}" t="s"><v>${index}</v></c>`;
export const numeric = (ref: string, value: string | number) => `<c r="${ref}"><v>${value}</v></c>`;
export const row = (number: number, cells: string[]) => `<row r="${number}">${cells.join("")}</row>`;

/** The parts in zip order, packed as asked. */
export function zipParts(parts: [string, string | Uint8Array][], packing: Packing = "deflated"): Uint8Array {
  const bytes = (content: string | Uint8Array) => (typeof content === "string" ? strToU8(content) : content);
  if (packing !== "streamed") {
    const files: Zippable = {};
    for (const [name, content] of parts) files[name] = bytes(content);
    return zipSync(files, { level: packing === "stored" ? 0 : 6 });
  }
  // A zip written as a stream has no sizes in its local headers, only in descriptors after each part.
  const out: Uint8Array[] = [];
  const zip = new Zip((err, data) => {
    if (err) throw err;
    out.push(data);
  });
  for (const [name, content] of parts) {
    const file = new ZipDeflate(name, { level: 6 });
    zip.add(file);
    file.push(bytes(content), true);
  }
  zip.end();
  return concat(out);
}

export interface WorkbookSpec {
  /** The first sheet's <sheetData> content. */
  readonly sheet: string;
  /** Shared strings (inner XML of each <si>); none means the workbook has no strings part. */
  readonly strings?: string[];
  readonly order?: PartOrder;
  readonly packing?: Packing;
}

/** A one-sheet workbook; with `order: "sheet-first"` the strings come after the sheet, as Excel writes. */
export function workbook({
  sheet,
  strings,
  order = "strings-first",
  packing = "deflated",
}: WorkbookSpec): Uint8Array {
  const types: [string, string] = ["[Content_Types].xml", contentTypesXml];
  const packageRels: [string, string] = ["_rels/.rels", packageRelsXml];
  const book: [string, string] = ["xl/workbook.xml", workbookXml()];
  const bookRels: [string, string] = [
    "xl/_rels/workbook.xml.rels",
    workbookRelsXml(undefined, strings !== undefined),
  ];
  const sheetPart: [string, string] = ["xl/worksheets/sheet1.xml", sheetXml(sheet)];
  const stringsPart: [string, string][] = strings ? [["xl/sharedStrings.xml", stringsXml(strings)]] : [];
  const styles: [string, string] = ["xl/styles.xml", `<styleSheet xmlns="${MAIN}"/>`];
  if (order === "workbook-last") {
    return zipParts([types, packageRels, sheetPart, ...stringsPart, styles, bookRels, book], packing);
  }
  const body = order === "sheet-first" ? [sheetPart, ...stringsPart] : [...stringsPart, sheetPart];
  return zipParts([types, packageRels, book, bookRels, ...body, styles], packing);
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** The bytes cut at the given offsets, as an upload arriving in those chunks. */
export async function* chunked(data: Uint8Array, cuts: number[] = []): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => Math.max(0, Math.min(data.length, c))))].sort(
    (a, b) => a - b,
  )) {
    if (cut > from) yield data.subarray(from, cut);
    from = Math.max(from, cut);
  }
  if (from < data.length || data.length === 0) yield data.subarray(from);
}

export interface Read {
  readonly header: string[];
  readonly rows: InputRow[];
  readonly batches: number;
}

export type Outcome = Read | { readonly status: number; readonly message: string };

/** Every batch of an upload, or the ImportError that refused it; any other error is thrown. */
export async function readAll(
  chunks: AsyncIterable<Uint8Array> | Uint8Array,
  limits: Partial<ImportLimits> = {},
  batchSize?: number,
): Promise<Outcome> {
  const input = chunks instanceof Uint8Array ? chunked(chunks) : chunks;
  const rows: InputRow[] = [];
  let header: string[] = [];
  let batches = 0;
  try {
    for await (const batch of readXlsxRows(input, "file", { ...defaultImportLimits, ...limits }, batchSize)) {
      header = batch.header;
      rows.push(...batch.rows);
      batches++;
    }
    return { header, rows, batches };
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    return { status: err.status, message: err.message };
  }
}

export function readRows(outcome: Outcome): Read {
  if ("status" in outcome) throw new Error(`refused: ${outcome.status} ${outcome.message}`);
  return outcome;
}

/**
 * A workbook of `rows` recipients written as it is read, so the test never holds it either: a
 * numeric phone, a name from the shared strings (each one different) and a city from four.
 */
export async function* generatedWorkbook(rows: number, order: PartOrder): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const zip = new Zip((err, data) => {
    if (err) throw err;
    out.push(data);
  });
  const whole = (name: string, text: string) => {
    const file = new ZipPassThrough(name);
    zip.add(file);
    file.push(strToU8(text), true);
  };
  whole("[Content_Types].xml", contentTypesXml);
  whole("_rels/.rels", packageRelsXml);
  whole("xl/workbook.xml", workbookXml());
  whole("xl/_rels/workbook.xml.rels", workbookRelsXml());
  const cities = ["Jakarta", "Bandung", "Surabaya", "Medan"];
  const fixed = ["Phone Number", "Name", "City", ...cities];
  function* stringsBlocks(): Generator<string> {
    yield `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${MAIN}">`;
    yield fixed.map((text) => `<si><t>${text}</t></si>`).join("");
    for (let from = 1; from <= rows; from += 5000) {
      const block: string[] = [];
      for (let i = from; i < Math.min(from + 5000, rows + 1); i++)
        block.push(`<si><t>Customer ${i}</t></si>`);
      yield block.join("");
    }
    yield "</sst>";
  }
  function* sheetBlocks(): Generator<string> {
    yield `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${MAIN}"><sheetData>`;
    yield row(1, [shared("A1", 0), shared("B1", 1), shared("C1", 2)]);
    for (let from = 1; from <= rows; from += 5000) {
      const block: string[] = [];
      for (let i = from; i < Math.min(from + 5000, rows + 1); i++) {
        const line = i + 1;
        block.push(
          row(line, [
            numeric(`A${line}`, 6281200000000 + i),
            shared(`B${line}`, fixed.length - 1 + i),
            shared(`C${line}`, 3 + (i % 4)),
          ]),
        );
      }
      yield block.join("");
    }
    yield "</sheetData></worksheet>";
  }
  const parts: [string, () => Generator<string>][] = [
    ["xl/sharedStrings.xml", stringsBlocks],
    ["xl/worksheets/sheet1.xml", sheetBlocks],
  ];
  if (order !== "strings-first") parts.reverse();
  for (const [name, blocks] of parts) {
    const file = new ZipDeflate(name, { level: 1 });
    zip.add(file);
    for (const block of blocks()) {
      file.push(strToU8(block));
      yield* out.splice(0);
    }
    file.push(new Uint8Array(0), true);
    yield* out.splice(0);
  }
  zip.end();
  yield* out.splice(0);
}

// Reads the rows of an uploaded .xlsx as it arrives, in batches, so that a workbook of any size is
// never held in memory, neither as bytes nor as rows, and never holds the event loop for long. It
// gives the rows readRecipientsFile gives for the same workbook and refuses what it refuses, with
// the same statuses; where it cannot, or where today's answer is an accident of SheetJS, the
// difference is said where it is made. Parsing only, like recipientsFile.ts.
//
// An .xlsx is a zip of XML parts. fflate's streaming Unzip reads the zip front to back and saxes
// parses each part as it inflates. Not SheetJS in a worker thread: it holds the whole workbook
// (1.6 GB for a million rows), thread or not. Not ExcelJS's WorkbookReader: it streams, but
// brings some 190 packages, has no defence against zip bombs, and was no faster on a million rows.
// Four parts matter: xl/workbook.xml (which sheet is first),
// xl/_rels/workbook.xml.rels (where that sheet and the shared strings are), the shared strings, and
// the first sheet. Excel writes the shared strings after the sheets while the sheet's cells refer
// to them by number, so a sheet that arrives before the strings it needs is kept, still compressed,
// in a temporary file and read once the strings are in. The strings table itself is kept in memory:
// it grows with the distinct texts of the workbook, not with its rows, and is bounded by
// maxExpandedBytes like every inflated byte.
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Inflate, Unzip, type UnzipDecoder, type UnzipFile } from "fflate";
import { SaxesParser } from "saxes";
import type { InputRow, RowSource } from "../domain/recipients.ts";
import { foundColumns, headerColumns, namesPhone, type HeaderColumns } from "./headerColumns.ts";
import { ImportError, cellText, type ImportLimits } from "./recipientsFile.ts";
import { EXPANSION_RATIO_FLOOR, MAX_PARTS, sizeText } from "./xlsxArchive.ts";

export interface XlsxBatch {
  /**
   * The columns every row's `values` has, in sheet order: normalized names, the phone column
   * renamed `phone`, blank and prototype-polluting names left out, a repeated name once. The same
   * array in every batch.
   */
  readonly header: string[];
  readonly rows: InputRow[];
}

/**
 * Compressed bytes inflated at a time. Deflate expands at most ~1032 times, so one step makes at
 * most ~16 MB of XML (and the rows in it) whatever the upload's chunks, and a bomb is caught by the
 * byte budget within one step.
 */
const STEP_BYTES = 16 * 1024;
/** XML is handed to the parser in pieces this long, so the guard on markup-free text runs often. */
const XML_PIECE_CHARS = 64 * 1024;
/** A sheet nests a handful deep; far deeper is a parser stack grown to fill memory. */
const MAX_XML_DEPTH = 64;
/** Rows read past a first row without a phone column, looking for the header the user meant. */
const HEADER_SEARCH_ROWS = 10;
/** The event loop gets a turn at least this often, however the upload is cut. */
const TURN_MS = 10;
/** Excel's own limit on a cell is 32,767 characters, at most ten bytes each once escaped in XML. */
const MIN_MARKUP_FREE_CHARS = 1024 * 1024;
const WORKBOOK = "xl/workbook.xml";
const WORKBOOK_RELS = "xl/_rels/workbook.xml.rels";
const EMPTY = new Uint8Array(0);
const DEFLATE = 8;
const STORED = 0;

/**
 * The rows of the first sheet of an .xlsx arriving as chunks of bytes, `batchSize` rows at a time.
 * Throws ImportError (400 or 413) for a workbook it refuses, as soon as it knows: the rows already
 * given stay given. Errors of `chunks` itself pass through untouched. Always gives at least one
 * batch, so a sheet with a header and no rows still tells its header.
 */
export async function* readXlsxRows(
  chunks: AsyncIterable<Uint8Array>,
  source: RowSource,
  limits: ImportLimits,
  batchSize = 1000,
): AsyncGenerator<XlsxBatch> {
  const workbook = new StreamedWorkbook(source, limits, Math.max(1, Math.floor(batchSize) || 1));
  const input = chunks[Symbol.asyncIterator]();
  let lastTurn = performance.now();
  let yielded = false;
  // Batches ready so far, then every replay of a spooled part, a step at a time.
  async function* drain(): AsyncGenerator<XlsxBatch> {
    do {
      for (const batch of workbook.takeBatches()) {
        yielded = true;
        yield batch;
      }
      if (performance.now() - lastTurn > TURN_MS) {
        await nextTurn();
        lastTurn = performance.now();
      }
    } while (await workbook.replayStep());
  }
  try {
    for (let next = await input.next(); !next.done; next = await input.next()) {
      const chunk = next.value;
      for (let at = 0; at < chunk.length; at += STEP_BYTES) {
        workbook.push(chunk.subarray(at, at + STEP_BYTES));
        await workbook.flushSpool();
        yield* drain();
      }
    }
    workbook.end();
    yield* drain();
    const header = workbook.finish();
    const last = workbook.takeLast();
    if (last.length > 0 || !yielded) yield { header, rows: last };
  } finally {
    // Leaving early (a refusal, or the caller stopping) stops reading the upload. Not awaited: a
    // stalled upload must not keep the refusal from its caller.
    input.return?.().catch(() => undefined);
    await workbook.close();
  }
}

function damaged(reason: string): ImportError {
  return new ImportError(400, `the .xlsx file is damaged: ${reason}`);
}

/** fflate's errors (a broken zip or deflate stream) carry a numeric code; nothing else here does. */
function isFlateError(err: unknown): err is Error {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number";
}

function guarded<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (isFlateError(err)) throw damaged(err.message);
    throw err;
  }
}

/** A zip entry's name as a part name: parts are matched without regard to case, as OPC says. */
function entryKey(name: string): string {
  return name.replace(/\\/g, "/").replace(/^\/+/, "").toLowerCase();
}

/** A relationship's target (a URI relative to the workbook's folder) as a part name. */
function targetKey(target: string): string {
  let path = target.replace(/\\/g, "/");
  try {
    path = decodeURIComponent(path);
  } catch {
    // A target that is not valid percent-encoding is taken as written.
  }
  const segments: string[] = [];
  for (const segment of (path.startsWith("/") ? path : `xl/${path}`).split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return segments.join("/").toLowerCase();
}

function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(colon + 1);
}

/**
 * Text as SheetJS reads it: Excel's `_xHHHH_` escapes for characters XML cannot hold, CRLF as LF,
 * and trimmed as cellText trims.
 */
function cleanText(text: string): string {
  let clean = text;
  if (clean.includes("_x")) {
    clean = clean.replace(/_x([\da-fA-F]{4})_/g, (_, code: string) =>
      String.fromCharCode(parseInt(code, 16)),
    );
  }
  if (clean.includes("\r")) clean = clean.replace(/\r\n/g, "\n");
  return clean.trim();
}

/** Column index (A = 0) of a cell reference such as "AB12"; -1 when it is not one. */
function columnOf(ref: string): number {
  let column = 0;
  let letters = 0;
  for (; letters < ref.length; letters++) {
    const code = ref.charCodeAt(letters);
    if (code < 65 || code > 90) break;
    column = column * 26 + (code - 64);
  }
  if (letters === 0 || letters > 3) return -1;
  for (let i = letters; i < ref.length; i++) {
    const code = ref.charCodeAt(i);
    if (code < 48 || code > 57) return -1;
  }
  return column - 1;
}

function columnName(column: number): string {
  let name = "";
  for (let n = column + 1; n > 0; n = Math.floor((n - 1) / 26)) {
    name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  }
  return name;
}

interface XmlHandler {
  open(name: string, attributes: Record<string, string>): void;
  close(name: string): void;
  text(text: string): void;
  /** After the part's XML has closed, well-formed. */
  end(): void;
  /** The refusal for text running on too long without markup, in the terms of this part. */
  overflow(limit: number): ImportError;
}

/**
 * One XML part, parsed as its bytes arrive. saxes keeps text, comments and attributes whole until
 * the markup that ends them, and keeps a stack of open elements: both are bounded here, so a hostile
 * part cannot grow either to the size of the upload.
 */
class XmlPart {
  private readonly parser = new SaxesParser<{ xmlns: false; position: false }>({
    xmlns: false,
    position: false,
  });
  private readonly decoder = new TextDecoder("utf-8");
  private depth = 0;
  private sawMarkup = false;
  private markupFree = 0;

  constructor(
    name: string,
    private readonly handler: XmlHandler,
    private readonly maxMarkupFree: number,
  ) {
    this.parser.on("opentag", (tag) => {
      this.sawMarkup = true;
      if (++this.depth > MAX_XML_DEPTH) {
        throw damaged(`${name} nests elements more than ${MAX_XML_DEPTH} deep`);
      }
      handler.open(localName(tag.name), tag.attributes);
    });
    this.parser.on("closetag", (tag) => {
      this.sawMarkup = true;
      this.depth--;
      handler.close(localName(tag.name));
    });
    this.parser.on("text", (text) => handler.text(text));
    this.parser.on("cdata", (text) => handler.text(text));
    this.parser.on("error", (err) => {
      throw damaged(`${name} is not well-formed XML (${err.message})`);
    });
  }

  write(bytes: Uint8Array): void {
    this.feed(this.decoder.decode(bytes, { stream: true }));
  }

  end(): void {
    this.feed(this.decoder.decode());
    this.parser.close();
    this.handler.end();
  }

  private feed(text: string): void {
    for (let at = 0; at < text.length; at += XML_PIECE_CHARS) {
      const piece = text.length <= XML_PIECE_CHARS ? text : text.slice(at, at + XML_PIECE_CHARS);
      this.sawMarkup = false;
      this.parser.write(piece);
      // Markup inside the piece resets the count, wherever it was: the bound is loose by a piece.
      this.markupFree = this.sawMarkup ? 0 : this.markupFree + piece.length;
      if (this.markupFree > this.maxMarkupFree) throw this.handler.overflow(this.maxMarkupFree);
    }
  }
}

/** The first <sheet> of xl/workbook.xml: the sheet SheetJS lists first. */
class WorkbookHandler implements XmlHandler {
  first: { name: string; id: string | undefined } | undefined;
  done = false;

  open(name: string, attributes: Record<string, string>): void {
    if (name !== "sheet" || this.first) return;
    // The relationship id is r:id, whatever prefix the file binds to the relationships namespace.
    const idKey = Object.keys(attributes).find((key) => key.endsWith(":id"));
    this.first = { name: attributes.name ?? "", id: idKey === undefined ? undefined : attributes[idKey] };
  }
  close(): void {}
  text(): void {}
  end(): void {
    this.done = true;
  }
  overflow(limit: number): ImportError {
    return damaged(`${WORKBOOK} has a text of more than ${limit} characters`);
  }
}

interface Relationship {
  readonly type: string;
  readonly target: string;
  readonly external: boolean;
}

class RelationshipsHandler implements XmlHandler {
  readonly byId = new Map<string, Relationship>();
  done = false;

  open(name: string, attributes: Record<string, string>): void {
    if (name !== "Relationship") return;
    const { Id: id, Type: type = "", Target: target = "", TargetMode: mode } = attributes;
    if (id === undefined || this.byId.has(id)) return;
    if (this.byId.size >= MAX_PARTS) throw damaged(`${WORKBOOK_RELS} lists more than ${MAX_PARTS} parts`);
    this.byId.set(id, { type, target, external: mode === "External" });
  }
  close(): void {}
  text(): void {}
  end(): void {
    this.done = true;
  }
  overflow(limit: number): ImportError {
    return damaged(`${WORKBOOK_RELS} has a text of more than ${limit} characters`);
  }
}

/**
 * The shared strings, compactly: a page's strings are joined into one string with their ends in a
 * typed array, about 4 bytes a string over their text instead of ~40 for an array of strings.
 */
class SharedStrings {
  private static readonly PAGE_STRINGS = 4096;
  private static readonly PAGE_CHARS = 1 << 22;
  private readonly pages: { first: number; text: string; ends: Uint32Array }[] = [];
  private pending: string[] = [];
  private pendingChars = 0;
  size = 0;

  add(text: string): void {
    this.pending.push(text);
    this.pendingChars += text.length;
    this.size++;
    if (this.pending.length >= SharedStrings.PAGE_STRINGS || this.pendingChars >= SharedStrings.PAGE_CHARS) {
      this.seal();
    }
  }

  seal(): void {
    if (this.pending.length === 0) return;
    const ends = new Uint32Array(this.pending.length);
    let end = 0;
    this.pending.forEach((text, i) => (ends[i] = end += text.length));
    this.pages.push({ first: this.size - this.pending.length, text: this.pending.join(""), ends });
    this.pending = [];
    this.pendingChars = 0;
  }

  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.size)) return undefined;
    let low = 0;
    let high = this.pages.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((this.pages[middle]?.first ?? Infinity) <= index) low = middle;
      else high = middle - 1;
    }
    const page = this.pages[low];
    if (!page) return undefined;
    const i = index - page.first;
    return page.text.slice(i === 0 ? 0 : page.ends[i - 1], page.ends[i]);
  }
}

/** xl/sharedStrings.xml: each <si>'s text, its rich-text runs joined and phonetic hints left out. */
class SharedStringsHandler implements XmlHandler {
  private inItem = false;
  private phonetic = 0;
  private collecting = false;
  private collected = "";
  done = false;

  constructor(private readonly strings: SharedStrings) {}

  open(name: string): void {
    if (name === "si") {
      this.inItem = true;
      this.phonetic = 0;
      this.collected = "";
    } else if (name === "t") {
      this.collecting = this.inItem && this.phonetic === 0;
    } else if (name === "rPh" && this.inItem) {
      this.phonetic++;
    }
  }
  close(name: string): void {
    if (name === "t") this.collecting = false;
    else if (name === "rPh" && this.inItem) this.phonetic--;
    else if (name === "si" && this.inItem) {
      this.strings.add(cleanText(this.collected));
      this.inItem = false;
      this.collected = "";
    }
  }
  text(text: string): void {
    if (this.collecting) this.collected += text;
  }
  end(): void {
    this.strings.seal();
    this.done = true;
  }
  overflow(limit: number): ImportError {
    return new ImportError(
      413,
      `shared string ${this.strings.size} of the workbook is longer than ${limit} characters`,
    );
  }
}

const enum Collect {
  Nothing,
  Value,
  InlineText,
}

/**
 * The first sheet's rows, as readRecipientsFile makes them: the first non-empty row is the header,
 * and every row keeps the line number the user sees in Excel.
 */
class SheetHandler implements XmlHandler {
  header: string[] | undefined;
  private headerLine = 0;
  /** Column index to its name ("" for none), from the header row. */
  private columns: string[] = [];
  private named: HeaderColumns["named"] = [];
  private titleRows: { found: string; searched: number } | undefined;
  private minColumn = Infinity;
  private maxColumn = -Infinity;
  private byColumn: (string | undefined)[] = [];

  private inSheetData = false;
  private inRow = false;
  private rowNumber = 0;
  private cellColumns: number[] = [];
  private cellTexts: string[] = [];
  private inCell = false;
  private column = -1;
  private type = "n";
  private value: string | undefined;
  private inline: string | undefined;
  private inInline = false;
  private phonetic = 0;
  private collect = Collect.Nothing;
  private buffer = "";
  done = false;

  constructor(
    private readonly source: RowSource,
    private readonly limits: ImportLimits,
    private readonly strings: SharedStrings,
    private readonly emit: (row: InputRow) => void,
  ) {}

  open(name: string, attributes: Record<string, string>): void {
    switch (name) {
      case "sheetData":
        this.inSheetData = true;
        break;
      case "row": {
        if (!this.inSheetData) break;
        const ref = attributes.r;
        const number = ref === undefined ? this.rowNumber + 1 : /^\d{1,9}$/.test(ref) ? Number(ref) : NaN;
        if (!(number > this.rowNumber)) {
          throw damaged(
            Number.isNaN(number)
              ? `row number "${ref}" is not valid`
              : `row ${number} comes after row ${this.rowNumber}`,
          );
        }
        this.rowNumber = number;
        this.inRow = true;
        this.column = -1;
        this.cellColumns.length = 0;
        this.cellTexts.length = 0;
        break;
      }
      case "c": {
        if (!this.inRow) break;
        const ref = attributes.r;
        const column = ref === undefined ? this.column + 1 : columnOf(ref);
        if (column < 0) throw damaged(`cell reference "${ref}" is not valid`);
        this.inCell = true;
        this.column = column;
        this.type = attributes.t ?? "n";
        this.value = undefined;
        this.inline = undefined;
        break;
      }
      case "v":
        if (this.inCell && !this.inInline) {
          this.collect = Collect.Value;
          this.buffer = "";
        }
        break;
      case "is":
        if (this.inCell) {
          this.inInline = true;
          this.inline = "";
          this.phonetic = 0;
        }
        break;
      case "t":
        if (this.inInline && this.phonetic === 0) {
          this.collect = Collect.InlineText;
          this.buffer = "";
        }
        break;
      case "rPh":
        if (this.inInline) this.phonetic++;
        break;
    }
  }

  close(name: string): void {
    switch (name) {
      case "v":
        if (this.collect === Collect.Value) {
          // SheetJS reads an empty <v></v> as no value at all.
          this.value = this.buffer === "" ? undefined : this.buffer;
          this.collect = Collect.Nothing;
        }
        break;
      case "t":
        if (this.collect === Collect.InlineText) {
          this.inline += this.buffer;
          this.collect = Collect.Nothing;
        }
        break;
      case "rPh":
        if (this.inInline) this.phonetic--;
        break;
      case "is":
        this.inInline = false;
        break;
      case "c":
        if (!this.inCell) break;
        this.inCell = false;
        this.endCell();
        break;
      case "row":
        if (!this.inRow) break;
        this.inRow = false;
        this.endRow();
        break;
      case "sheetData":
        this.inSheetData = false;
        break;
    }
  }

  text(text: string): void {
    if (this.collect !== Collect.Nothing) this.buffer += text;
  }

  end(): void {
    if (!this.header) {
      if (this.titleRows) throw noPhoneColumn(this.titleRows.found);
      throw new ImportError(400, "the file has no header row");
    }
    this.done = true;
  }

  overflow(limit: number): ImportError {
    const name = this.inCell ? this.columns[this.column] : undefined;
    if (this.header && name) {
      return new ImportError(
        413,
        `line ${this.rowNumber}, column "${name}" is longer than ${this.limits.maxCellLength} characters`,
      );
    }
    return new ImportError(413, `line ${this.rowNumber} has a text of more than ${limit} characters`);
  }

  /** The cell's text, as cellText makes it of the value SheetJS reads. */
  private endCell(): void {
    const value = this.value;
    let text: string;
    switch (this.type) {
      case "n":
        // parseFloat, as SheetJS: "12abc" is 12, and a huge integer keeps every digit (cellText).
        text =
          value === undefined ? "" : cellText(parseFloat(value.includes("_x") ? cleanText(value) : value));
        break;
      case "s": {
        if (value === undefined) {
          text = "";
          break;
        }
        const found = this.strings.get(parseInt(value, 10));
        // SheetJS fails on this too, with "the workbook has no sheet"; this says what is wrong.
        if (found === undefined) {
          throw damaged(
            `cell ${columnName(this.column)}${this.rowNumber} refers to shared string "${value}", ` +
              `which the workbook does not have`,
          );
        }
        text = found;
        break;
      }
      case "str":
        text = value === undefined ? "" : cleanText(value);
        break;
      case "inlineStr":
        text = this.inline === undefined ? "" : cleanText(this.inline);
        break;
      case "b":
        text = value === "1" || value === "true" ? "true" : "false";
        break;
      case "e":
        text = "";
        break;
      case "d":
        // An ISO 8601 date Excel never writes but other tools do. Differs from today: SheetJS turns
        // it into an Excel serial number ("45293.127…"); this keeps it as ISO text.
        text = value === undefined ? "" : isoDate(value);
        break;
      default:
        throw damaged(`cell ${columnName(this.column)}${this.rowNumber} has an unknown type "${this.type}"`);
    }
    if (text === "") return;
    this.cellColumns.push(this.column);
    this.cellTexts.push(text);
  }

  private endRow(): void {
    const count = this.cellColumns.length;
    // Empty rows are skipped, and still counted: the next row keeps its own line number.
    if (count === 0) return;
    for (let i = 0; i < count; i++) {
      const column = this.cellColumns[i] ?? 0;
      if (column < this.minColumn) this.minColumn = column;
      if (column > this.maxColumn) this.maxColumn = column;
    }
    // As today, the count spans the columns any row uses, from the leftmost to the rightmost.
    const width = this.maxColumn - this.minColumn + 1;
    if (width > this.limits.maxColumns) {
      throw new ImportError(
        413,
        `the file has ${width} columns; at most ${this.limits.maxColumns} are allowed`,
      );
    }
    if (this.header) this.dataRow();
    else if (this.titleRows) this.searchHeader();
    else this.headerRow();
  }

  private headerRow(): void {
    // The row's cells at their sheet positions: a gap between cells is a blank header cell.
    const cells: string[] = [];
    for (let i = 0; i < this.cellColumns.length; i++)
      cells[this.cellColumns[i] ?? 0] = this.cellTexts[i] ?? "";
    for (let c = 0; c < cells.length; c++) cells[c] ??= "";
    const found = headerColumns(cells);
    if (!found) {
      // Most often a title above the real header: a few rows are read on to say so.
      this.titleRows = { found: foundColumns(cells), searched: 0 };
      return;
    }
    this.columns = found.columns;
    this.named = found.named;
    this.header = found.header;
    this.headerLine = this.rowNumber;
    this.byColumn = new Array<string | undefined>(found.columns.length);
  }

  private searchHeader(): void {
    const search = this.titleRows;
    if (!search) return;
    if (namesPhone(this.cellTexts)) {
      throw new ImportError(
        400,
        `the header row must be the sheet's first row, but the "phone" column is named on line ` +
          `${this.rowNumber}: delete the rows above it`,
      );
    }
    if (++search.searched >= HEADER_SEARCH_ROWS) throw noPhoneColumn(search.found);
  }

  private dataRow(): void {
    // Lines count from the header, blank ones between included, as today. Blank lines after the
    // last value do not count here; SheetJS counts them when the sheet's declared dimension
    // (its <dimension ref>, which formatting alone can stretch) includes them.
    if (this.rowNumber - this.headerLine > this.limits.maxRows) {
      throw new ImportError(413, `the file has more than ${this.limits.maxRows} rows`);
    }
    const byColumn = this.byColumn;
    for (let i = 0; i < this.cellColumns.length; i++) {
      const column = this.cellColumns[i] ?? 0;
      if (column < byColumn.length) byColumn[column] = this.cellTexts[i];
    }
    const values: Record<string, string> = {};
    let blank = true;
    for (const { name, column } of this.named) {
      const text = byColumn[column] ?? "";
      if (text.length > this.limits.maxCellLength) {
        throw new ImportError(
          413,
          `line ${this.rowNumber}, column "${name}" is longer than ${this.limits.maxCellLength} characters`,
        );
      }
      // A repeated column: its first non-empty cell wins.
      if (!Object.hasOwn(values, name) || values[name] === "") values[name] = text;
      if (text !== "") blank = false;
    }
    for (let i = 0; i < this.cellColumns.length; i++) {
      const column = this.cellColumns[i] ?? 0;
      if (column < byColumn.length) byColumn[column] = undefined;
    }
    if (blank) return;
    this.emit({ source: this.source, row: this.rowNumber, values });
  }
}

/** At the end of the upload, a part still arriving was cut off. */
function checkWhole(part: Part): void {
  if (part.state === "spooling" || part.state === "reading") throw damaged(`${part.key} is cut short`);
}

function notAWorkbook(): ImportError {
  return new ImportError(400, "the .xlsx file is damaged or not really an Excel workbook");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}

function noPhoneColumn(found: string): ImportError {
  return new ImportError(400, `the file has no "phone" column (found: ${found})`);
}

function isoDate(value: string): string {
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? cleanText(value) : date.toISOString();
}

/**
 * Compressed parts kept for later in one temporary file, created on first use. Bytes are queued
 * while fflate runs (it cannot wait) and written before the next step.
 */
class Spool {
  private dir: string | undefined;
  private file: FileHandle | undefined;
  private pending: Uint8Array[] = [];
  private written = 0;
  size = 0;

  append(bytes: Uint8Array): void {
    // A copy: fflate hands out views of buffers that the upload may reuse before the write.
    this.pending.push(bytes.slice());
    this.size += bytes.length;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const file = await this.handle();
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    for (let done = 0; done < bytes.length;) {
      const { bytesWritten } = await file.write(bytes, done, bytes.length - done, this.written);
      done += bytesWritten;
      this.written += bytesWritten;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    await this.flush();
    const file = await this.handle();
    const buffer = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await file.read(buffer, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error("the import spool file is shorter than what was written to it");
      done += bytesRead;
    }
    return buffer;
  }

  async close(): Promise<void> {
    this.pending = [];
    const { file, dir } = this;
    this.file = undefined;
    this.dir = undefined;
    await file?.close().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private async handle(): Promise<FileHandle> {
    if (!this.file) {
      this.dir = await mkdtemp(join(tmpdir(), "wa-blast-xlsx-"));
      this.file = await open(join(this.dir, "parts"), "w+", 0o600);
    }
    return this.file;
  }
}

type PartState = "unseen" | "spooling" | "spooled" | "queued" | "reading" | "done";

/** A part the workbook needs, or may need before its relationships are known. */
interface Part {
  readonly key: string;
  state: PartState;
  compression: number;
  /** The inflated size the zip declares, when it does (streamed zips do not). */
  declaredSize: number | undefined;
  spoolOffset: number;
  spoolLength: number;
}

/** Where one part's compressed bytes go as fflate hands them over. */
interface Sink {
  write(compressed: Uint8Array, final: boolean): void;
}

const SKIP: Sink = { write() {} };

/** The archive, the parts that matter in it, and the rows read so far. */
class StreamedWorkbook {
  private readonly unzip: Unzip;
  private readonly spool = new Spool();
  private readonly strings = new SharedStrings();
  private readonly maxMarkupFree: number;
  private consumed = 0;
  private inflated = 0;
  private entries = 0;
  private readonly methods = new Set<number>();
  /** The first bytes, until there are enough to tell a zip. */
  private head: Uint8Array | undefined = EMPTY;

  private readonly workbook = new WorkbookHandler();
  private readonly relationships = new RelationshipsHandler();
  private workbookSeen = false;
  private relationshipsSeen = false;
  /** Parts kept before the relationships said which part is which. */
  private readonly candidates = new Map<string, Part>();
  private sheetPart: Part | undefined;
  private stringsPart: Part | undefined;
  private sheet: SheetHandler | undefined;
  private readonly replays: { part: Part; sink: Sink; at: number }[] = [];

  private batch: InputRow[] = [];
  private ready: InputRow[][] = [];
  /** The sink fflate's next decoder feeds: fflate builds the decoder inside UnzipFile.start(). */
  private nextSink: Sink = SKIP;

  constructor(
    private readonly source: RowSource,
    private readonly limits: ImportLimits,
    private readonly batchSize: number,
  ) {
    this.maxMarkupFree = Math.max(MIN_MARKUP_FREE_CHARS, 10 * limits.maxCellLength);
    this.unzip = new Unzip((file) => this.onEntry(file));
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    let data = bytes;
    if (this.head) {
      // An .xlsx starts with a zip entry's signature; anything else is refused before unzipping.
      data = this.head = concat(this.head, bytes);
      if (data.length < 4) return;
      this.head = undefined;
      if (!(data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04)) {
        throw notAWorkbook();
      }
    }
    this.consumed += bytes.length;
    guarded(() => this.unzip.push(data, false));
  }

  /** The upload has ended: every part that was waiting for others is now read or missing. */
  end(): void {
    if (this.head?.length === 0) throw new ImportError(400, "the uploaded file is empty");
    if (this.head) throw notAWorkbook();
    guarded(() => this.unzip.push(EMPTY, true));
    if (!this.workbookSeen) {
      throw new ImportError(400, `could not read the xlsx file: it has no workbook (${WORKBOOK})`);
    }
    if (!this.relationshipsSeen) throw damaged(`its workbook has no ${WORKBOOK_RELS}`);
    // A zip cut inside a part's header ends without an error from fflate: the part is left open.
    if (!this.workbook.done) throw damaged(`${WORKBOOK} is cut short`);
    if (!this.relationships.done) throw damaged(`${WORKBOOK_RELS} is cut short`);
    const strings = this.stringsPart;
    // Strings the relationships name but the zip lacks: as SheetJS, a sheet that uses none reads.
    if (strings?.state === "unseen") strings.state = "done";
    if (strings) checkWhole(strings);
    if (this.sheetPart) checkWhole(this.sheetPart);
    this.advance();
  }

  /** Checks after the last replay; gives the header. */
  finish(): string[] {
    const part = this.sheetPart;
    if (!part || part.state === "unseen") {
      throw damaged(`the first sheet ("${this.workbook.first?.name ?? ""}") is missing from it`);
    }
    checkWhole(part);
    if (part.state !== "done" || !this.sheet?.done || !this.sheet.header) {
      throw damaged(`${part.key} is cut short`);
    }
    return this.sheet.header;
  }

  takeBatches(): XlsxBatch[] {
    const header = this.sheet?.header;
    if (!header || this.ready.length === 0) return [];
    const batches = this.ready.map((rows) => ({ header, rows }));
    this.ready = [];
    return batches;
  }

  takeLast(): InputRow[] {
    const last = this.batch;
    this.batch = [];
    return last;
  }

  async flushSpool(): Promise<void> {
    await this.spool.flush();
  }

  /** Inflates the next step of a spooled part; false when none waits. */
  async replayStep(): Promise<boolean> {
    const replay = this.replays[0];
    if (!replay) return false;
    const { part } = replay;
    const length = Math.min(STEP_BYTES, part.spoolLength - replay.at);
    const bytes = length > 0 ? await this.spool.read(part.spoolOffset + replay.at, length) : EMPTY;
    replay.at += length;
    const final = replay.at >= part.spoolLength;
    // Finishing a part may queue the next (the sheet after its strings): this one leaves first.
    if (final) this.replays.shift();
    guarded(() => replay.sink.write(bytes, final));
    return true;
  }

  async close(): Promise<void> {
    this.replays.length = 0;
    await this.spool.close();
  }

  private decoderFor(compression: number) {
    const nextSink = () => this.nextSink;
    return class RoutedDecoder implements UnzipDecoder {
      static readonly compression = compression;
      private readonly sink = nextSink();
      ondata(): void {}
      push(chunk: Uint8Array, final: boolean): void {
        this.sink.write(chunk, final);
      }
    };
  }

  private onEntry(file: UnzipFile): void {
    if (++this.entries > MAX_PARTS) {
      throw new ImportError(413, `the workbook has more than ${MAX_PARTS} parts`);
    }
    const sink = this.sinkFor(file);
    // Every method gets a decoder, even one nothing can inflate: without one, fflate would keep
    // the part's bytes in memory, or fail with a TypeError, even for a part nobody needs.
    if (!this.methods.has(file.compression)) {
      this.methods.add(file.compression);
      this.unzip.register(this.decoderFor(file.compression));
    }
    // fflate calls ondata itself only for an empty part, for which it makes no decoder.
    file.ondata = (err, _data, final) => {
      if (err) throw damaged(`${file.name} cannot be read (${err.message})`);
      if (final) sink.write(EMPTY, true);
    };
    this.nextSink = sink;
    try {
      file.start();
    } finally {
      this.nextSink = SKIP;
    }
  }

  private sinkFor(file: UnzipFile): Sink {
    const key = entryKey(file.name);
    if (file.name.endsWith("/")) return SKIP;
    const declared = file.originalSize;
    if (key === WORKBOOK) {
      if (this.workbookSeen) return SKIP;
      this.workbookSeen = true;
      return this.reader(this.newPart(key, file), this.workbook, () => this.resolve());
    }
    if (key === WORKBOOK_RELS) {
      if (this.relationshipsSeen) return SKIP;
      this.relationshipsSeen = true;
      return this.reader(this.newPart(key, file), this.relationships, () => this.resolve());
    }
    const strings = this.stringsPart;
    const sheet = this.sheetPart;
    if (sheet) {
      // The relationships are known: only the strings and the first sheet matter.
      if (strings?.key === key && strings.state === "unseen") {
        Object.assign(strings, { compression: file.compression, declaredSize: declared });
        return this.stringsReader(strings);
      }
      if (sheet.key === key && sheet.state === "unseen") {
        Object.assign(sheet, { compression: file.compression, declaredSize: declared });
        return this.stringsSettled() ? this.sheetReader(sheet) : this.spooler(sheet);
      }
      return SKIP;
    }
    // Which part is the sheet is not known yet: keep any XML part that might be it, compressed.
    if (!key.endsWith(".xml") || key === "[content_types].xml" || key.startsWith("docprops/")) return SKIP;
    if (this.candidates.has(key)) return SKIP;
    const part = this.newPart(key, file);
    this.candidates.set(key, part);
    return this.spooler(part);
  }

  private newPart(key: string, file: UnzipFile): Part {
    return {
      key,
      state: "unseen",
      compression: file.compression,
      declaredSize: file.originalSize,
      spoolOffset: 0,
      spoolLength: 0,
    };
  }

  private stringsSettled(): boolean {
    return !this.stringsPart || this.stringsPart.state === "done";
  }

  /** Once the workbook and its relationships are read: which parts are the first sheet and strings. */
  private resolve(): void {
    if (!this.workbook.done || !this.relationships.done || this.sheetPart) return;
    const first = this.workbook.first;
    if (!first) throw new ImportError(400, "the workbook has no sheet");
    const relationship = first.id === undefined ? undefined : this.relationships.byId.get(first.id);
    if (!relationship || relationship.external) {
      throw damaged(`the first sheet ("${first.name}") has no part in it`);
    }
    const sheetKey = targetKey(relationship.target);
    const stringsRelationship = [...this.relationships.byId.values()].find(
      (r) => !r.external && r.type.endsWith("/sharedStrings"),
    );
    const stringsKey = stringsRelationship ? targetKey(stringsRelationship.target) : undefined;
    const unseen = (key: string): Part => ({
      key,
      state: "unseen",
      compression: STORED,
      declaredSize: undefined,
      spoolOffset: 0,
      spoolLength: 0,
    });
    this.sheetPart = this.candidates.get(sheetKey) ?? unseen(sheetKey);
    if (stringsKey !== undefined && stringsKey !== sheetKey) {
      this.stringsPart = this.candidates.get(stringsKey) ?? unseen(stringsKey);
    }
    this.candidates.clear();
    this.advance();
  }

  /** Queues the replays that can run: the strings when spooled, the sheet once the strings are in. */
  private advance(): void {
    const strings = this.stringsPart;
    if (strings?.state === "spooled") this.queue(strings, this.stringsReader(strings));
    const sheet = this.sheetPart;
    if (sheet?.state === "spooled" && this.stringsSettled()) this.queue(sheet, this.sheetReader(sheet));
  }

  private queue(part: Part, sink: Sink): void {
    part.state = "queued";
    this.replays.push({ part, sink, at: 0 });
  }

  private stringsReader(part: Part): Sink {
    return this.reader(part, new SharedStringsHandler(this.strings), () => this.advance());
  }

  private sheetReader(part: Part): Sink {
    this.sheet = new SheetHandler(this.source, this.limits, this.strings, (row) => {
      this.batch.push(row);
      if (this.batch.length >= this.batchSize) {
        this.ready.push(this.batch);
        this.batch = [];
      }
    });
    return this.reader(part, this.sheet, () => undefined);
  }

  private spooler(part: Part): Sink {
    part.state = "spooling";
    part.spoolOffset = this.spool.size;
    return {
      write: (compressed, final) => {
        if (compressed.length > 0) this.spool.append(compressed);
        part.spoolLength += compressed.length;
        if (final) {
          part.state = "spooled";
          this.advance();
        }
      },
    };
  }

  /** Inflates a part, within the budget, into its XML handler. */
  private reader(part: Part, handler: XmlHandler, done: () => void): Sink {
    part.state = "reading";
    if (part.declaredSize !== undefined && this.inflated + part.declaredSize > this.limits.maxExpandedBytes) {
      throw this.tooLarge(this.inflated + part.declaredSize);
    }
    if (part.compression !== STORED && part.compression !== DEFLATE) {
      throw damaged(`${part.key} is compressed with method ${part.compression}, which is not supported`);
    }
    const xml = new XmlPart(part.key, handler, this.maxMarkupFree);
    const take = (data: Uint8Array) => {
      if (data.length === 0) return;
      this.expand(data.length);
      xml.write(data);
    };
    let inflater: Inflate | undefined;
    return {
      write: (compressed, final) => {
        if (part.compression === DEFLATE && (compressed.length > 0 || inflater)) {
          inflater ??= new Inflate((data) => take(data));
          inflater.push(compressed, final);
        } else {
          take(compressed);
        }
        if (final) {
          xml.end();
          part.state = "done";
          done();
        }
      },
    };
  }

  /**
   * Counts inflated bytes against the budget as they come, so a part whose header lies about its
   * size is stopped at the budget, not at its end. The ratio is to the upload read so far: a
   * workbook whose first parts compress far better than the rest may be refused where today's
   * reader, which knows the whole size first, reads it.
   */
  private expand(bytes: number): void {
    this.inflated += bytes;
    const budget = Math.min(
      this.limits.maxExpandedBytes,
      Math.max(EXPANSION_RATIO_FLOOR, this.consumed * this.limits.maxExpansionRatio),
    );
    if (this.inflated > budget) throw this.tooLarge(this.inflated);
  }

  private tooLarge(expanded: number): ImportError {
    return new ImportError(
      413,
      expanded > this.limits.maxExpandedBytes
        ? `the workbook expands to more than ${sizeText(this.limits.maxExpandedBytes)}`
        : `the workbook expands more than ${this.limits.maxExpansionRatio} times its size (a zip bomb?)`,
    );
  }
}

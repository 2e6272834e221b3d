// Reads an uploaded CSV of recipients as a stream, in batches, so that an import of any size never
// holds the file or its rows in memory. It gives the rows readRecipientsFile gives for the same CSV
// and refuses what it refuses, with the same statuses; where it cannot (it sees the file once, front
// to back), the difference is said where it is made. Parsing only, like recipientsFile.ts.
//
// The CSV grammar is csv-parse's, not a hand-written one: quoting, doubled quotes, cells across
// lines and all three line endings are its job. What is done here is what csv-parse has no notion
// of: the encodings Excel writes, the separator Excel chose, the header, and the import limits.
//
// Nothing is read ahead: a slice of the upload is decoded and parsed, and its rows checked, before
// the next is asked for. So a refusal comes from the first fault in the file (to within the few
// bytes csv-parse holds back to see how a line ends), whatever the chunks the upload arrived in,
// and a refused upload is read no further.
import { CsvError, parse, type Parser } from "csv-parse";
import type { InputRow, RowSource } from "../domain/recipients.ts";
import { foundColumns, headerColumns, namesPhone, type HeaderColumns } from "./headerColumns.ts";
import { ImportError, type ImportLimits } from "./recipientsFile.ts";

export interface CsvBatch {
  /**
   * The columns every row's `values` has: normalized names in file order, the phone column renamed
   * `phone`, blank and prototype-polluting names left out, a repeated name once. The same array in
   * every batch.
   */
  readonly header: string[];
  readonly rows: InputRow[];
}

/** Text is handed to the parser in slices no longer than this, so one slice makes few rows. */
const SLICE_BYTES = 64 * 1024;
/** How far the header line is looked for before choosing a separator from what has been read. */
const HEADER_SCAN_CHARS = 64 * 1024;
/** SheetJS guesses the separator from the first 1024 characters; so does this reader, as a fallback. */
const GUESS_CHARS = 1024;
/** Rows read past a header without a phone column, looking for the header the user meant. */
const HEADER_SEARCH_ROWS = 10;
/** Candidate separators, best first when counts tie: the weights SheetJS gives them. */
const SEPARATORS = [",", "\t", ";", "|"];

/**
 * The rows of a CSV file arriving as chunks of bytes, `batchSize` rows at a time. Throws
 * ImportError (400, 413 or 415) for a file it refuses, as soon as it meets the fault: the rows
 * already given stay given. Errors of `chunks` itself pass through untouched. Always gives at least
 * one batch, so a file with a header and no rows still tells its header.
 */
export async function* readCsvRows(
  chunks: AsyncIterable<Uint8Array>,
  source: RowSource,
  limits: ImportLimits,
  batchSize = 1000,
): AsyncGenerator<CsvBatch> {
  // A batch that never fills would hold the whole file.
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size ${batchSize}`);
  const text = decodedText(chunks)[Symbol.asyncIterator]();
  let parser: RecordParser | undefined;
  try {
    const { separator, start, fault } = await readSeparator(text);
    parser = new RecordParser(separator, limits);
    const records = parsedRecords(parser, start, fault ?? text);
    const { named: kept, header, rest } = await readHeader(records, limits);
    let line = 1;
    let batch: InputRow[] = [];
    let yielded = false;
    for (let held: string[][] | undefined = rest; held; held = (await records.next()).value) {
      for (const cells of held) {
        line++;
        // Blank rows count, as they do today: the limit bounds the work, not only the recipients.
        if (line - 1 > limits.maxRows) {
          throw new ImportError(413, `the file has more than ${limits.maxRows} rows`);
        }
        checkColumnCount(cells, line, limits);
        const values: Record<string, string> = {};
        let blank = true;
        for (const { name, column: index } of kept) {
          const cell = (cells[index] ?? "").trim();
          if (cell.length > limits.maxCellLength) {
            throw new ImportError(
              413,
              `line ${line}, column "${name}" is longer than ${limits.maxCellLength} characters`,
            );
          }
          // A repeated column: its first non-empty cell wins.
          if (!Object.hasOwn(values, name) || values[name] === "") values[name] = cell;
          if (cell !== "") blank = false;
        }
        if (blank) continue;
        batch.push({ source, row: line, values });
        if (batch.length >= batchSize) {
          yield { header, rows: batch };
          yielded = true;
          batch = [];
        }
      }
    }
    if (batch.length > 0 || !yielded) yield { header, rows: batch };
  } catch (err) {
    throw refusal(err, limits);
  } finally {
    parser?.close();
    // Not awaited: a stalled upload must not hold back the refusal, nor the caller who stopped.
    text.return(undefined).catch(() => undefined);
  }
}

/** csv-parse's complaints as the 400 or 413 a client can act on; any other error passes untouched. */
function refusal(err: unknown, limits: ImportLimits): unknown {
  if (!(err instanceof CsvError)) return err;
  // csv-parse counts the records it has given, header included: the failing one is the next.
  const line = typeof err.records === "number" ? `line ${err.records + 1}` : "a line";
  switch (err.code) {
    case "CSV_MAX_RECORD_SIZE":
      return new ImportError(
        413,
        `${line} is longer than ${recordLimit(limits)} characters; is a quote (") left open?`,
      );
    case "CSV_QUOTE_NOT_CLOSED":
      return new ImportError(400, `${line} opens a quote (") that is never closed`);
    default:
      return new ImportError(400, `could not read the csv file: ${err.message}`);
  }
}

// --- Bytes to text --------------------------------------------------------------------------------

/** Decoded text, and the fault that stopped the decoding right after it, if one did. */
interface Decoded {
  readonly text: string;
  readonly fault?: ImportError;
}
type Decode = (bytes: Uint8Array, end: boolean) => Decoded;

/**
 * The bytes as text, decoded as decodeCsv does for a whole file (recipientsFile.ts), which stays
 * the reference: UTF-16 when a byte-order mark says so, else UTF-8, else Windows-1252. A fault (a
 * NUL, broken UTF-16) ends the text where it is, and is thrown when the text before it is used up.
 */
async function* decodedText(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  // The first four bytes decide the encoding, and may come in more than one chunk.
  let head: Uint8Array = new Uint8Array(0);
  let decode: Decode | undefined;
  let boms = 2;
  const checked = ({ text, fault }: Decoded): Decoded => {
    const nul = text.indexOf("\u0000");
    if (nul !== -1) {
      text = text.slice(0, nul);
      fault = new ImportError(400, "the CSV file contains binary data; save it as CSV (UTF-8)");
    }
    // decodeCsv strips a byte-order mark twice over (TextDecoder, then its own replace): so here.
    while (boms > 0 && text.startsWith("\uFEFF")) {
      text = text.slice(1);
      boms--;
    }
    if (text !== "") boms = 0;
    return { text, fault };
  };
  for await (const chunk of chunks) {
    let bytes = chunk;
    if (!decode) {
      head = concat(head, chunk);
      if (head.length < 4) continue;
      decode = decoderFor(head);
      bytes = head;
    }
    const { text, fault } = checked(decode(bytes, false));
    if (text) yield text;
    if (fault) throw fault;
  }
  // A file shorter than four bytes has not been decoded yet.
  let last: Uint8Array = new Uint8Array(0);
  if (!decode) {
    if (head.length === 0) throw new ImportError(400, "the uploaded file is empty");
    decode = decoderFor(head);
    last = head;
  }
  const { text, fault } = checked(decode(last, true));
  if (text) yield text;
  if (fault) throw fault;
}

function decoderFor(head: Uint8Array): Decode {
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    throw new ImportError(415, "the .csv file is a zip archive; upload a plain-text CSV or an .xlsx");
  }
  if (head[0] === 0xff && head[1] === 0xfe) return utf16(false);
  if (head[0] === 0xfe && head[1] === 0xff) return utf16(true);
  return utf8OrWindows1252();
}

/**
 * decodeCsv reads the whole file as Windows-1252 when any byte of it is not UTF-8. A stream cannot
 * look ahead, so this reads UTF-8 up to the first byte that is not, and Windows-1252 from that byte
 * on. For a Windows-1252 export that is the same text: everything before its first accented letter
 * is ASCII, which both encodings read alike. Only a file that mixes encodings reads differently, its
 * UTF-8 part now right where decodeCsv garbled it. The switch is at a byte, not at a chunk, so the
 * text does not depend on how the upload was cut.
 */
function utf8OrWindows1252(): Decode {
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let windows1252: TextDecoder | undefined;
  // The last bytes given to `utf8`, to recover the incomplete character it holds back when it throws.
  let tail: Uint8Array = new Uint8Array(0);
  return (bytes, end) => {
    if (windows1252) return { text: windows1252.decode(bytes, { stream: !end }) };
    try {
      const text = utf8.decode(bytes, { stream: !end });
      tail = concat(tail, bytes.subarray(Math.max(0, bytes.length - 3))).slice(-3);
      return { text };
    } catch {
      const rest = concat(heldBack(tail), bytes);
      const bad = firstInvalidUtf8(rest);
      windows1252 = new TextDecoder("windows-1252");
      const valid = new TextDecoder("utf-8", { ignoreBOM: true }).decode(rest.subarray(0, bad));
      return { text: valid + windows1252.decode(rest.subarray(bad), { stream: !end }) };
    }
  };
}

/** The incomplete character at the end of valid UTF-8, which a streaming TextDecoder holds back. */
function heldBack(tail: Uint8Array): Uint8Array {
  for (let i = tail.length - 1; i >= 0; i--) {
    const byte = tail[i] ?? 0;
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return tail.length - i < length ? tail.subarray(i) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

/** Where UTF-8 stops being valid (an incomplete last character counts), per Unicode's table 3-7. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] ?? 0;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) more = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= more; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i;
    }
    i += more + 1;
  }
  return bytes.length;
}

/**
 * UTF-16 as decodeCsv reads it, refusing it when broken (an unpaired surrogate, an odd last byte).
 * The fault is placed at its code unit rather than at its chunk, so that the rows before it are
 * read, and refused for their own faults first, however the upload was cut.
 */
function utf16(bigEndian: boolean): Decode {
  const decoder = new TextDecoder(bigEndian ? "utf-16be" : "utf-16le", { ignoreBOM: true });
  const unit = (bytes: Uint8Array, at: number) =>
    bigEndian
      ? ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0)
      : ((bytes[at + 1] ?? 0) << 8) | (bytes[at] ?? 0);
  const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
  const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;
  // An odd byte, or a high surrogate waiting for its pair, carried to the next chunk.
  let held: Uint8Array = new Uint8Array(0);
  return (bytes, end) => {
    const all = concat(held, bytes);
    let usable = all.length - (all.length % 2);
    if (!end && usable >= 2 && isHigh(unit(all, usable - 2))) usable -= 2;
    held = all.slice(usable);
    let bad = 0;
    while (bad < usable) {
      const code = unit(all, bad);
      if (isLow(code) || (isHigh(code) && (bad + 2 >= usable || !isLow(unit(all, bad + 2))))) break;
      bad += isHigh(code) ? 4 : 2;
    }
    const text = decoder.decode(all.subarray(0, bad));
    if (bad < usable || (end && held.length > 0)) {
      return { text, fault: new ImportError(400, "the CSV file is not valid UTF-16 text") };
    }
    return { text };
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}

// --- Text to records ------------------------------------------------------------------------------

/**
 * Excel writes `;` where the decimal mark is a comma, and tabs for "Unicode text": the separator is
 * the candidate the header line uses most (outside quotes; ties as SheetJS breaks them). A header
 * line with none (one column) falls back to SheetJS's guess from the first 1024 characters. Excel's
 * own `sep=;` first line is obeyed and dropped, as SheetJS does. Enough text is read first for the
 * answer not to depend on how the upload was cut.
 */
async function readSeparator(
  text: AsyncIterator<string>,
): Promise<{ separator: string; start: string; fault?: Fault }> {
  const pieces: string[] = [];
  let length = 0;
  let headerEnd = -1;
  let quoted = false;
  let fault: Fault | undefined;
  while (length < GUESS_CHARS || (headerEnd === -1 && length < HEADER_SCAN_CHARS)) {
    let next: IteratorResult<string>;
    try {
      next = await text.next();
    } catch (error) {
      // Kept for after the rows before it, which may hold an earlier fault.
      fault = { error };
      break;
    }
    if (next.done) break;
    const piece = next.value;
    for (let i = 0; headerEnd === -1 && i < piece.length; i++) {
      const char = piece[i];
      if (char === '"') quoted = !quoted;
      else if (!quoted && (char === "\n" || char === "\r")) headerEnd = length + i;
    }
    pieces.push(piece);
    length += piece.length;
  }
  const start = pieces.join("");
  const directive = /^sep=([^"\r\n])(\r\n|\r|\n)/.exec(start);
  if (directive?.[1]) return { separator: directive[1], start: start.slice(directive[0].length), fault };
  const headerLine = headerEnd === -1 ? start : start.slice(0, headerEnd);
  const separator = mostUsedSeparator(headerLine) ?? mostUsedSeparator(start.slice(0, GUESS_CHARS)) ?? ",";
  return { separator, start, fault };
}

/** An error met while reading ahead, to be thrown in its place in the file. */
interface Fault {
  readonly error: unknown;
}

function mostUsedSeparator(text: string): string | undefined {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && SEPARATORS.includes(char)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const separator of SEPARATORS) {
    if ((counts.get(separator) ?? 0) > (best === undefined ? 0 : (counts.get(best) ?? 0))) best = separator;
  }
  return best;
}

/**
 * csv-parse, fed one slice at a time and emptied after each, so it holds one slice's records at
 * most. Its options carry the defences: a record never grows past `recordLimit` characters, however
 * its quotes are (un)closed, and never has more than maxColumns + 1 cells, whatever its separators
 * (past that, csv-parse stops splitting, and the extra cell marks the row as too wide): memory stays
 * bounded by the limits, not by the file.
 */
class RecordParser {
  private readonly parser: Parser;
  /** Records read from the parser and not yet handed on: one slice's worth at most. */
  private records: string[][] = [];

  constructor(separator: string, limits: ImportLimits) {
    this.parser = parse({
      delimiter: separator,
      record_delimiter: ["\r\n", "\n", "\r"],
      // SheetJS keeps a stray quote as text instead of refusing the file: so does this.
      relax_quotes: true,
      relax_column_count: true,
      ignore_last_delimiters: limits.maxColumns + 1,
      max_record_size: recordLimit(limits),
    });
    // Errors are taken from the write and end callbacks below; this only keeps them from crashing.
    this.parser.on("error", () => undefined);
    // Records are read whenever they come: a Transform holding more than its high-water mark of
    // them would not finish the write that made them.
    this.parser.on("readable", () => this.drain());
  }

  /** The records that `bytes` completes, then the error csv-parse met after them, if any. */
  write(bytes: Uint8Array): Promise<{ records: string[][]; error: unknown }> {
    return this.settle((done) => this.parser.write(bytes, done));
  }

  /** The last records, once the file is all written. */
  end(): Promise<{ records: string[][]; error: unknown }> {
    return this.settle((done) => this.parser.end(done));
  }

  close(): void {
    this.parser.destroy();
  }

  private async settle(
    start: (done: (error?: unknown) => void) => void,
  ): Promise<{ records: string[][]; error: unknown }> {
    let done: (error?: unknown) => void = () => undefined;
    const finished = new Promise<unknown>((resolve) => (done = resolve));
    start(done);
    this.drain();
    const error = await finished;
    this.drain();
    const records = this.records;
    this.records = [];
    return { records, error };
  }

  private drain(): void {
    for (let record: unknown = this.parser.read(); record !== null; record = this.parser.read()) {
      this.records.push(record as string[]);
    }
  }
}

/**
 * Every record, a slice's worth at a time (one await per slice rather than per row: a promise a
 * row tripled the time of a million rows). The next text is asked for only when the records before
 * it have been used, which is what keeps faults in file order.
 */
async function* parsedRecords(
  parser: RecordParser,
  start: string,
  rest: AsyncIterator<string> | Fault,
): AsyncGenerator<string[][], undefined> {
  let piece: string | undefined = start;
  while (piece !== undefined) {
    const bytes = Buffer.from(piece, "utf8");
    for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
      const { records, error } = await parser.write(bytes.subarray(at, at + SLICE_BYTES));
      if (records.length > 0) yield records;
      if (error) throw error;
    }
    if ("error" in rest) throw rest.error;
    const next = await rest.next();
    piece = next.done ? undefined : next.value;
  }
  const { records, error } = await parser.end();
  if (records.length > 0) yield records;
  if (error) throw error;
  return undefined;
}

/** Room for every column at its longest, twice over for padding and unnamed columns. */
function recordLimit(limits: ImportLimits): number {
  return Math.max(64 * 1024, 2 * limits.maxColumns * limits.maxCellLength);
}

function checkColumnCount(cells: string[], line: number, limits: ImportLimits): void {
  if (cells.length > limits.maxColumns) {
    throw new ImportError(
      413,
      `line ${line} has more than ${limits.maxColumns} columns; at most ${limits.maxColumns} are allowed`,
    );
  }
}

// --- Records to rows ------------------------------------------------------------------------------

/**
 * The header, which must be line 1 as today. A first line without a phone column is most often a
 * title above the real header: a few rows are read on to say so, instead of today's bare "no phone
 * column". Gives back the records read past the header.
 */
async function readHeader(
  records: AsyncIterator<string[][], undefined>,
  limits: ImportLimits,
): Promise<HeaderColumns & { rest: string[][] }> {
  let held: string[][] = [];
  let at = 0;
  const next = async (): Promise<string[] | undefined> => {
    while (at === held.length) {
      const more = await records.next();
      if (more.done) return undefined;
      [held, at] = [more.value, 0];
    }
    return held[at++];
  };
  const first = await next();
  if (!first) throw new ImportError(400, "the file has no header row");
  checkColumnCount(first, 1, limits);
  const found = headerColumns(first);
  if (found) return { ...found, rest: held.slice(at) };
  for (let line = 2; line <= 1 + HEADER_SEARCH_ROWS; line++) {
    const cells = await next();
    if (!cells) break;
    if (namesPhone(cells)) {
      throw new ImportError(
        400,
        `the header row must be on line 1, but the "phone" column is named on line ${line}: ` +
          `delete the ${line === 2 ? "line" : `${line - 1} lines`} above it`,
      );
    }
  }
  const names = foundColumns(first);
  if (names === "none") {
    throw new ImportError(400, `line 1 is empty: the header row, with a "phone" column, must be on line 1`);
  }
  throw new ImportError(400, `the file has no "phone" column (found: ${names})`);
}

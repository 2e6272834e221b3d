// Where a blast's rows come from, as batches in the order they are planned: a saved campaign,
// the request's own recipients, then the uploaded file read back from its spool a batch at a
// time. Every source's header is known before the first row is planned, so a template that names
// a column nobody has is refused before anything is queued.
import type { InputRow } from "../../../shared/domain/recipients.ts";
import { rowsFromRecords } from "../../../shared/import/recipientRecords.ts";
import { open } from "node:fs/promises";
import { readCsvRows } from "../../../shared/import/csvRows.ts";
import { fileKindOf, ImportError, type ImportLimits } from "../../../shared/import/recipientsFile.ts";
import { readXlsxRows } from "../../../shared/import/xlsxRows.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { uploadChunks, type UploadedFile } from "../http/uploads.ts";

export interface RowBatch {
  /** The source's columns (normalized), whether or not these rows fill them. */
  readonly header: readonly string[];
  readonly rows: InputRow[];
}

export interface SourcesInput {
  readonly campaignId?: string;
  readonly recipients?: ReadonlyArray<Record<string, unknown>>;
  readonly file?: UploadedFile;
}

export interface OpenedSources {
  /** Every column some source has. */
  readonly columns: ReadonlySet<string>;
  readonly batches: AsyncIterable<InputRow[]>;
}

const BATCH = 1000;

function columnsOf(rows: readonly InputRow[], into: Set<string>): void {
  for (const row of rows) for (const column of Object.keys(row.values)) into.add(column);
}

function* inBatches(rows: readonly InputRow[]): Generator<InputRow[]> {
  for (let start = 0; start < rows.length; start += BATCH) yield rows.slice(start, start + BATCH);
}

/** The first bytes of the upload, which say what kind of file it really is. */
async function leadingBytes(file: UploadedFile): Promise<Uint8Array> {
  const handle = await open(file.path, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The uploaded file's rows, a batch at a time, parsed as the file is read back from its spool. */
export async function* fileRows(file: UploadedFile, limits: ImportLimits): AsyncGenerator<RowBatch> {
  if (file.size === 0) throw new ImportError(400, "the uploaded file is empty");
  const kind = fileKindOf(file.filename, await leadingBytes(file));
  const read = kind === "csv" ? readCsvRows : readXlsxRows;
  yield* read(uploadChunks(file), "file", limits, BATCH);
}

export async function openSources(
  deps: GatewayDeps,
  input: SourcesInput,
  limits: ImportLimits,
): Promise<OpenedSources> {
  if (input.campaignId === undefined && !input.recipients && !input.file) {
    throw new HttpError(400, "give the recipients: a campaignId, a recipientsFile, or both");
  }
  const columns = new Set<string>();
  const known: InputRow[][] = [];
  if (input.campaignId !== undefined) {
    if (!(await deps.campaigns.get(input.campaignId))) {
      throw new HttpError(404, `campaign ${input.campaignId} not found`);
    }
    const rows = await deps.campaigns.rows(input.campaignId);
    columnsOf(rows, columns);
    known.push(...inBatches(rows));
  }
  if (input.recipients) {
    const rows = rowsFromRecords(input.recipients, "body");
    columnsOf(rows, columns);
    known.push(...inBatches(rows));
  }
  let file: AsyncIterator<RowBatch> | undefined;
  let firstFileBatch: InputRow[] | undefined;
  if (input.file) {
    file = fileRows(input.file, limits)[Symbol.asyncIterator]();
    const first = await file.next();
    if (!first.done) {
      for (const column of first.value.header) columns.add(column);
      firstFileBatch = first.value.rows;
    }
  }
  async function* batches(): AsyncGenerator<InputRow[]> {
    yield* known;
    if (firstFileBatch) yield firstFileBatch;
    if (!file) return;
    for (;;) {
      const next = await file.next();
      if (next.done) return;
      yield next.value.rows;
    }
  }
  return { columns, batches: batches() };
}

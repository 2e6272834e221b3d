// Where a blast's (or a new campaign's) rows come from, as batches in the order they are planned:
// a saved campaign read back from Redis a page at a time, the request's own recipients, then the
// uploaded file read back from its spool a batch at a time. Every source's header is known before
// the first row is planned, so a template that names a column nobody has is refused before
// anything is queued.
import type { InputRow } from "../../../shared/domain/recipients.ts";
import { rowsFromRecords } from "../../../shared/import/recipientRecords.ts";
import { open } from "node:fs/promises";
import { readCsvRows } from "../../../shared/import/csvRows.ts";
import type { Config } from "../../../shared/config/config.ts";
import {
  defaultImportLimits,
  fileKindOf,
  ImportError,
  type ImportLimits,
} from "../../../shared/import/recipientsFile.ts";
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

// Small enough that planning one batch (phone rules, rendering) holds the event loop a few ms.
const BATCH = 250;

/** The limits an upload is read under, as configured. */
export function importLimits(config: Config): ImportLimits {
  return {
    ...defaultImportLimits,
    maxRows: config.MAX_ROWS,
    maxExpandedBytes: config.MAX_XLSX_EXPANDED_BYTES,
  };
}

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
  let campaignId: string | undefined;
  if (input.campaignId !== undefined) {
    const campaign = await deps.campaigns.get(input.campaignId);
    if (!campaign) throw new HttpError(404, `campaign ${input.campaignId} not found`);
    for (const column of campaign.columns) columns.add(column);
    campaignId = campaign.campaignId;
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
    try {
      // A campaign may hold a million rows: read a page at a time, as they are planned.
      if (campaignId !== undefined) yield* deps.campaigns.rowBatches(campaignId, BATCH);
      yield* known;
      if (firstFileBatch) yield firstFileBatch;
      if (!file) return;
      for (;;) {
        const next = await file.next();
        if (next.done) return;
        yield next.value.rows;
      }
    } finally {
      // A reader that stops early (a refused row, a failed write) lets go of the spooled file.
      await file?.return?.(undefined);
    }
  }
  return { columns, batches: batches() };
}

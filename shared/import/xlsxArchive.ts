// An .xlsx is a zip, and a zip can declare a few kilobytes that inflate to gigabytes (a zip bomb).
// The archive is unpacked here under a budget before SheetJS sees it, and SheetJS gets the parts
// re-packed uncompressed: it then never inflates anything itself, so an entry whose header lies
// about its size cannot grow past what was checked (fflate writes into a buffer of the declared
// size and never beyond it).
import { unzipSync, zipSync, type Unzipped } from "fflate";

export interface ExpansionLimits {
  /** Most bytes all parts of the workbook may hold once inflated. */
  readonly maxExpandedBytes: number;
  /** Most inflated bytes per byte of the upload, for archives larger than EXPANSION_RATIO_FLOOR. */
  readonly maxExpansionRatio: number;
}

export class ArchiveRejected extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

// Small workbooks are mostly repeated XML boilerplate and can compress past any ratio while
// being harmless; the ratio only matters once the inflated size is worth defending.
export const EXPANSION_RATIO_FLOOR = 8 * 1024 * 1024;
// A workbook has a few dozen parts; a central directory claiming millions is hostile, and walking
// it would spin for minutes even though every entry is empty.
export const MAX_PARTS = 10_000;
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MB` : `${Math.round(bytes / 1024)} KB`;

/** The workbook's parts, checked against the limits, as a zip SheetJS reads without inflating. */
export function repackWorkbook(data: Uint8Array, limits: ExpansionLimits): Uint8Array {
  const budget = Math.min(
    limits.maxExpandedBytes,
    Math.max(EXPANSION_RATIO_FLOOR, data.length * limits.maxExpansionRatio),
  );
  let expanded = 0;
  let parts = 0;
  let entries: Unzipped;
  try {
    entries = unzipSync(data, {
      filter: (entry) => {
        parts++;
        expanded += entry.originalSize;
        if (parts > MAX_PARTS) {
          throw new ArchiveRejected(413, `the workbook has more than ${MAX_PARTS} parts`);
        }
        // The declared sizes are summed before any part is inflated past them, so a bomb is
        // refused after reading its directory, not after filling memory.
        if (expanded > budget) {
          throw new ArchiveRejected(
            413,
            expanded > limits.maxExpandedBytes
              ? `the workbook expands to more than ${sizeText(limits.maxExpandedBytes)}`
              : `the workbook expands more than ${limits.maxExpansionRatio} times its size (a zip bomb?)`,
          );
        }
        // Entries become keys of a plain object: a part named "__proto__" would replace its prototype.
        return !entry.name.endsWith("/") && !PROTOTYPE_KEYS.has(entry.name);
      },
    });
  } catch (err) {
    if (err instanceof ArchiveRejected) throw err;
    throw new ArchiveRejected(400, `the .xlsx file is damaged: ${(err as Error).message}`);
  }
  return zipSync(entries, { level: 0 });
}

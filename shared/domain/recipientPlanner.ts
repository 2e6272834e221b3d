// The recipients of one blast planned as rows arrive, so an upload of any size is checked,
// deduplicated and rendered a batch at a time instead of all at once: the same rules as
// normalizeRows + planRecipients (shared/domain/recipients.ts), which a test holds them to. The
// suppression list is the caller's to read: a batch's numbers are looked up between its two steps.
import type { CountryCode } from "libphonenumber-js";
import type { InputRow, PlannedRecipient, Recipient, RejectedRow } from "./recipients.ts";
import { RowNormalizer, type NormalizedBatch } from "./rowNormalizer.ts";
import { unknownFields, type Template } from "./templates.ts";
import { plainMessage, renderVariant, type MessageVariants } from "./variants.ts";

/**
 * Why the template (every variant of it) cannot be sent to rows with these columns (every
 * source's header, known before the first row is read), or undefined when it can.
 */
export function templateProblem(
  template: Template | MessageVariants,
  columns: Iterable<string>,
): string | undefined {
  const known = [...columns];
  const missing = unknownFields(template, known.length > 0 ? known : ["phone", "name"]);
  if (missing.length === 0) return undefined;
  return `template uses ${missing.map((f) => `{${f}}`).join(", ")}, which no recipient has`;
}

export interface PlannedBatch {
  readonly recipients: PlannedRecipient[];
  /** The normalized row each planned recipient came from, in the same order: what a blast that waits keeps. */
  readonly rows: Recipient[];
  readonly rejected: RejectedRow[];
}

/**
 * One recipient's message rendered from its row, at its index: as a blast is planned, and again
 * for a blast that waited (scheduled, a draft) with its message as it stands at the start.
 */
export function renderRecipient(
  message: MessageVariants,
  idx: number,
  values: Readonly<Record<string, string>>,
): { ok: true; recipient: PlannedRecipient } | { ok: false; phone: string; reason: string } {
  const phone = values.phone ?? "";
  const rendered = renderVariant(message, values);
  if (!rendered.ok) return { ok: false, phone, reason: rendered.reason };
  const name = values.name?.trim();
  const { text, variant } = rendered;
  return {
    ok: true,
    recipient: {
      idx,
      phone,
      ...(name ? { name } : {}),
      text,
      ...(variant !== undefined ? { variant } : {}),
    },
  };
}

/** Why a row whose number is on the suppression list is not planned. */
export const SUPPRESSED = "suppressed";

const NONE_SUPPRESSED: ReadonlySet<string> = new Set();

/**
 * Plans a blast in two steps per batch, so the caller can look the batch's numbers up on the
 * suppression list in between (one lookup a batch, and no I/O in here): `normalize` the rows,
 * then `render` them, leaving out the suppressed ones as rejected rows without an index.
 */
export class RecipientPlanner {
  private readonly rows: RowNormalizer;
  private readonly message: MessageVariants;
  private planned = 0;
  private unplanned = 0;

  constructor(message: Template | MessageVariants, defaultCountry: CountryCode) {
    this.rows = new RowNormalizer(defaultCountry);
    this.message = "variants" in message ? message : plainMessage(message);
  }

  /** Recipients planned so far; the next one gets this index. */
  get total(): number {
    return this.planned;
  }

  get rejected(): number {
    return this.rows.rejected + this.unplanned;
  }

  /** Rows merged into an earlier row with the same number. */
  get duplicates(): number {
    return this.rows.duplicates;
  }

  /**
   * Normalizes the next rows, in order: a number seen in an earlier batch is a duplicate here,
   * even one that was suppressed or could not be rendered. Give the result to `render` before
   * normalizing another batch.
   */
  normalize(rows: readonly InputRow[]): NormalizedBatch {
    return this.rows.normalize(rows);
  }

  /**
   * Renders a normalized batch: indexes continue from the previous batch, and a recipient whose
   * number is in `suppressed` is a rejected row (`suppressed`) that takes no index.
   */
  render(batch: NormalizedBatch, suppressed: ReadonlySet<string> = NONE_SUPPRESSED): PlannedBatch {
    const recipients: PlannedRecipient[] = [];
    const rows: Recipient[] = [];
    const rejected = [...batch.rejected];
    for (const recipient of batch.recipients) {
      const { source, row, phone } = recipient;
      if (suppressed.has(phone)) {
        rejected.push({ source, row, phone, reason: SUPPRESSED });
        continue;
      }
      const rendered = renderRecipient(this.message, this.planned, recipient.values);
      if (!rendered.ok) {
        rejected.push({ source, row, phone, reason: rendered.reason });
        continue;
      }
      this.planned++;
      recipients.push(rendered.recipient);
      rows.push(recipient);
    }
    this.unplanned += rejected.length - batch.rejected.length;
    // In file order, so the sample a user sees starts at the top of their sheet.
    rejected.sort((a, b) => a.row - b.row);
    return { recipients, rows, rejected };
  }

  /** Plans the next rows with nothing suppressed: `normalize`, then `render`. */
  plan(rows: readonly InputRow[]): PlannedBatch {
    return this.render(this.normalize(rows));
  }
}

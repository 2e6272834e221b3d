// The recipients of one blast planned as rows arrive, so an upload of any size is checked,
// deduplicated and rendered a batch at a time instead of all at once: the same rules as
// normalizeRows + planRecipients (shared/domain/recipients.ts), which a test holds them to.
import type { CountryCode } from "libphonenumber-js";
import type { InputRow, PlannedRecipient, RejectedRow } from "./recipients.ts";
import { RowNormalizer } from "./rowNormalizer.ts";
import { renderTemplate, unknownFields, type Template } from "./templates.ts";

/**
 * Why the template cannot be sent to rows with these columns (every source's header, known before
 * the first row is read), or undefined when it can.
 */
export function templateProblem(template: Template, columns: Iterable<string>): string | undefined {
  const known = [...columns];
  const missing = unknownFields(template, known.length > 0 ? known : ["phone", "name"]);
  if (missing.length === 0) return undefined;
  return `template uses ${missing.map((f) => `{${f}}`).join(", ")}, which no recipient has`;
}

export interface PlannedBatch {
  readonly recipients: PlannedRecipient[];
  readonly rejected: RejectedRow[];
}

export class RecipientPlanner {
  private readonly rows: RowNormalizer;
  private planned = 0;
  private unrendered = 0;

  constructor(
    private readonly template: Template,
    defaultCountry: CountryCode,
  ) {
    this.rows = new RowNormalizer(defaultCountry);
  }

  /** Recipients planned so far; the next one gets this index. */
  get total(): number {
    return this.planned;
  }

  get rejected(): number {
    return this.rows.rejected + this.unrendered;
  }

  /** Rows merged into an earlier row with the same number. */
  get duplicates(): number {
    return this.rows.duplicates;
  }

  /** Plans the next rows, in order: indexes continue from the previous batch. */
  plan(rows: readonly InputRow[]): PlannedBatch {
    const normalized = this.rows.normalize(rows);
    const recipients: PlannedRecipient[] = [];
    const rejected = normalized.rejected;
    const unnormalized = rejected.length;
    for (const recipient of normalized.recipients) {
      const rendered = renderTemplate(this.template, recipient.values);
      if (!rendered.ok) {
        rejected.push({
          source: recipient.source,
          row: recipient.row,
          phone: recipient.phone,
          reason: rendered.reason,
        });
        continue;
      }
      const name = recipient.values.name?.trim();
      recipients.push({
        idx: this.planned++,
        phone: recipient.phone,
        ...(name ? { name } : {}),
        text: rendered.text,
      });
    }
    this.unrendered += rejected.length - unnormalized;
    // In file order, so the sample a user sees starts at the top of their sheet.
    rejected.sort((a, b) => a.row - b.row);
    return { recipients, rejected };
  }
}

// The recipients of one blast planned as rows arrive, so an upload of any size is checked,
// deduplicated and rendered a batch at a time instead of all at once: the same rules as
// normalizeRows + planRecipients (shared/domain/recipients.ts), which a test holds them to.
import type { CountryCode } from "libphonenumber-js";
import { PhoneSet } from "./phoneSet.ts";
import { normalizePhone } from "./phones.ts";
import type { InputRow, PlannedRecipient, RejectedRow } from "./recipients.ts";
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
  private readonly seen = new PhoneSet();
  private planned = 0;
  private rejectedRows = 0;
  private duplicateRows = 0;

  constructor(
    private readonly template: Template,
    private readonly defaultCountry: CountryCode,
  ) {}

  /** Recipients planned so far; the next one gets this index. */
  get total(): number {
    return this.planned;
  }

  get rejected(): number {
    return this.rejectedRows;
  }

  /** Rows merged into an earlier row with the same number. */
  get duplicates(): number {
    return this.duplicateRows;
  }

  /** Plans the next rows, in order: indexes continue from the previous batch. */
  plan(rows: readonly InputRow[]): PlannedBatch {
    const recipients: PlannedRecipient[] = [];
    const rejected: RejectedRow[] = [];
    for (const input of rows) {
      const rawPhone = input.values.phone ?? "";
      const phone = normalizePhone(rawPhone, this.defaultCountry);
      if (!phone.ok) {
        rejected.push({ source: input.source, row: input.row, phone: rawPhone, reason: phone.reason });
        continue;
      }
      if (!this.seen.add(phone.e164)) {
        this.duplicateRows++;
        continue;
      }
      const rendered = renderTemplate(this.template, { ...input.values, phone: phone.e164 });
      if (!rendered.ok) {
        rejected.push({ source: input.source, row: input.row, phone: phone.e164, reason: rendered.reason });
        continue;
      }
      const name = input.values.name?.trim();
      recipients.push({
        idx: this.planned++,
        phone: phone.e164,
        ...(name ? { name } : {}),
        text: rendered.text,
      });
    }
    this.rejectedRows += rejected.length;
    return { recipients, rejected };
  }
}

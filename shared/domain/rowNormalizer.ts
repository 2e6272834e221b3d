// Rows normalized as they arrive (a campaign being saved, a blast being planned), so an upload of
// any size is checked and deduplicated a batch at a time instead of all at once: the same rules
// as normalizeRows (shared/domain/recipients.ts), which a test holds it to.
import type { CountryCode } from "libphonenumber-js";
import { PhoneSet } from "./phoneSet.ts";
import { normalizePhone } from "./phones.ts";
import type { InputRow, Recipient, RejectedRow } from "./recipients.ts";

export interface NormalizedBatch {
  readonly recipients: Recipient[];
  readonly rejected: RejectedRow[];
}

export class RowNormalizer {
  private readonly seen = new PhoneSet();
  private kept = 0;
  private rejectedRows = 0;
  private duplicateRows = 0;

  constructor(private readonly defaultCountry: CountryCode) {}

  /** Recipients kept so far. */
  get total(): number {
    return this.kept;
  }

  get rejected(): number {
    return this.rejectedRows;
  }

  /** Rows dropped because an earlier row had the same number. */
  get duplicates(): number {
    return this.duplicateRows;
  }

  /** Normalizes the next rows, in order: a number seen in an earlier batch is a duplicate here. */
  normalize(rows: readonly InputRow[]): NormalizedBatch {
    const recipients: Recipient[] = [];
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
      recipients.push({
        source: input.source,
        row: input.row,
        phone: phone.e164,
        values: { ...input.values, phone: phone.e164 },
      });
    }
    this.kept += recipients.length;
    this.rejectedRows += rejected.length;
    return { recipients, rejected };
  }
}

// Turns raw rows (from a campaign, an uploaded sheet or JSON) into the recipients of one blast:
// phones normalized to E.164, duplicates merged, every message rendered. Rows that cannot be sent
// are returned with the reason, never silently dropped.
import type { CountryCode } from "libphonenumber-js";
import { normalizePhone } from "./phones.ts";
import { renderTemplate, unknownFields, type Template } from "./templates.ts";

export type RowSource = "campaign" | "file" | "body";

export interface InputRow {
  readonly source: RowSource;
  /** 1-based position in its source (for a sheet: the data row under the header). */
  readonly row: number;
  /** Column name (normalized) to cell text; `phone` is required, `name` optional. */
  readonly values: Readonly<Record<string, string>>;
}

export interface Recipient {
  readonly source: RowSource;
  readonly row: number;
  readonly phone: string;
  readonly values: Readonly<Record<string, string>>;
}

export interface PlannedRecipient {
  /** Position in the blast, 0-based: the recipient's identity in idempotency records and events. */
  readonly idx: number;
  readonly phone: string;
  readonly name?: string;
  readonly text: string;
  /** Which variant of the message it got (shared/domain/variants.ts), when it has variants. */
  readonly variant?: string;
}

export interface RejectedRow {
  readonly source: RowSource;
  readonly row: number;
  readonly phone: string;
  readonly reason: string;
}

export interface NormalizedRows {
  readonly recipients: Recipient[];
  readonly rejected: RejectedRow[];
  readonly duplicates: number;
  readonly columns: Set<string>;
}

/** Normalizes phones and merges duplicates, keeping the first row seen for a number. */
export function normalizeRows(rows: Iterable<InputRow>, defaultCountry: CountryCode): NormalizedRows {
  const recipients: Recipient[] = [];
  const rejected: RejectedRow[] = [];
  const seen = new Set<string>();
  const columns = new Set<string>();
  let duplicates = 0;
  for (const input of rows) {
    const rawPhone = input.values.phone ?? "";
    const phone = normalizePhone(rawPhone, defaultCountry);
    if (!phone.ok) {
      rejected.push({ source: input.source, row: input.row, phone: rawPhone, reason: phone.reason });
      continue;
    }
    if (seen.has(phone.e164)) {
      duplicates++;
      continue;
    }
    seen.add(phone.e164);
    for (const column of Object.keys(input.values)) columns.add(column);
    recipients.push({
      source: input.source,
      row: input.row,
      phone: phone.e164,
      values: { ...input.values, phone: phone.e164 },
    });
  }
  return { recipients, rejected, duplicates, columns };
}

export type PlanResult =
  | { ok: true; recipients: PlannedRecipient[]; rejected: RejectedRow[]; duplicates: number }
  | { ok: false; error: string };

/** Renders the template for every recipient; a placeholder no recipient can fill fails the whole plan. */
export function planRecipients(template: Template, rows: NormalizedRows): PlanResult {
  const missing = unknownFields(template, rows.columns.size > 0 ? rows.columns : ["phone", "name"]);
  if (missing.length > 0) {
    return {
      ok: false,
      error: `template uses ${missing.map((f) => `{${f}}`).join(", ")}, which no recipient has`,
    };
  }
  const recipients: PlannedRecipient[] = [];
  const rejected = [...rows.rejected];
  for (const recipient of rows.recipients) {
    const rendered = renderTemplate(template, recipient.values);
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
      idx: recipients.length,
      phone: recipient.phone,
      ...(name ? { name } : {}),
      text: rendered.text,
    });
  }
  // In file order, so the sample a user sees starts at the top of their sheet.
  const order: Record<RowSource, number> = { campaign: 0, body: 1, file: 2 };
  rejected.sort((a, b) => order[a.source] - order[b.source] || a.row - b.row);
  return { ok: true, recipients, rejected, duplicates: rows.duplicates };
}

// Changes to the suppression list made through the API and the console: numbers added by hand or
// from an uploaded list, and removed. Every change is first a consent event (CONSENT_EVENTS), then
// an entry: so the list never holds an opt-out the log does not show, and a failure between the
// two only leaves the event, which a retry of the same request makes true.
import type { CountryCode } from "libphonenumber-js";
import type { RejectedRow } from "../../../shared/domain/recipients.ts";
import { RowNormalizer } from "../../../shared/domain/rowNormalizer.ts";
import type { ConsentEvent, ConsentSource } from "../../../shared/messages/consentEvents.ts";
import { appendConsentEvents } from "../../../shared/nats/consentLog.ts";
import type { SuppressionEntry } from "../../../shared/redis/suppression.ts";
import { fileRows, importLimits } from "../blasts/recipientSources.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import type { UploadedFile } from "../http/uploads.ts";

export interface SuppressionChange {
  /** Numbers the list did not hold, now on it. */
  readonly added: number;
  /** Numbers already on it, whose entries were left as they were. */
  readonly alreadyListed: number;
  /** Rows whose number an earlier row of the same request or file had. */
  readonly duplicates: number;
  /** Rows whose phone is not a number. */
  readonly rejected: { count: number; sample: RejectedRow[] };
}

/** Rejected rows shown in an answer, the first ones; the count says how many in all. */
export const REJECTED_SAMPLE = 20;
/** Longest reason kept with an entry (an import's is its file name, which the client chose). */
export const MAX_REASON_LENGTH = 500;
/**
 * Consent events appended at once, each lane in order: a batch of numbers is logged in a few
 * round trips' time instead of one per number (the order between different numbers means nothing).
 */
const CONSENT_LANES = 16;

function countryOf(deps: GatewayDeps): CountryCode {
  return deps.config.DEFAULT_COUNTRY as CountryCode;
}

async function appendInLanes(deps: GatewayDeps, events: readonly ConsentEvent[]): Promise<void> {
  const laneSize = Math.ceil(events.length / CONSENT_LANES);
  const lanes: ConsentEvent[][] = [];
  for (let start = 0; start < events.length; start += laneSize)
    lanes.push(events.slice(start, start + laneSize));
  await Promise.all(lanes.map((lane) => appendConsentEvents(deps.nats.js, lane)));
}

/**
 * Lists the numbers (normalized, each once) that are not listed yet: their opt-outs are logged,
 * then their entries written; a number already listed keeps its entry and logs nothing.
 */
async function listNumbers(
  deps: GatewayDeps,
  phones: readonly string[],
  source: ConsentSource,
  reason: string | undefined,
): Promise<{ added: number; alreadyListed: number }> {
  if (phones.length === 0) return { added: 0, alreadyListed: 0 };
  const listed = await deps.suppression.suppressedAmong(phones);
  const unlisted = phones.filter((phone) => !listed.has(phone));
  const at = new Date().toISOString();
  const details = { source, ...(reason !== undefined ? { reason } : {}), at };
  await appendInLanes(
    deps,
    unlisted.map((phone): ConsentEvent => ({ type: "consent.optout", data: { phone, ...details } })),
  );
  // Another request may have listed some of them since the lookup: they count as already listed.
  const added = await deps.suppression.addUnlisted(
    unlisted.map((phone): SuppressionEntry => ({ phone, ...details })),
  );
  return { added: added.length, alreadyListed: phones.length - added.length };
}

/** Adds numbers given as text (any format a person types); invalid ones are rejected rows. */
export async function suppressNumbers(
  deps: GatewayDeps,
  phones: readonly string[],
  reason: string | undefined,
): Promise<SuppressionChange> {
  const normalizer = new RowNormalizer(countryOf(deps));
  const batch = normalizer.normalize(
    phones.map((phone, i) => ({ source: "body" as const, row: i + 1, values: { phone } })),
  );
  const rejected = { count: batch.rejected.length, sample: batch.rejected.slice(0, REJECTED_SAMPLE) };
  if (batch.recipients.length === 0) throw new HttpError(400, "no valid phone number given", { rejected });
  const listed = await listNumbers(
    deps,
    batch.recipients.map((r) => r.phone),
    "api",
    reason,
  );
  return { ...listed, duplicates: normalizer.duplicates, rejected };
}

/** Takes a number off the list, logging the opt-in; false when it was not listed. */
export async function unsuppressNumber(
  deps: GatewayDeps,
  phone: string,
  reason: string | undefined,
): Promise<boolean> {
  if (!(await deps.suppression.get(phone))) return false;
  const at = new Date().toISOString();
  await appendConsentEvents(deps.nats.js, [
    {
      type: "consent.optin",
      data: { phone, source: "api", ...(reason !== undefined ? { reason } : {}), at },
    },
  ]);
  return (await deps.suppression.remove([phone])).length > 0;
}

/**
 * Adds every number of an uploaded list, or none: the spooled file is read twice, first to check
 * all of it (a file past a limit or malformed halfway is refused before anything is written; a
 * row whose phone is not a number is only a rejected row), then to add it a batch at a time.
 */
export async function importSuppressionFile(
  deps: GatewayDeps,
  file: UploadedFile,
): Promise<SuppressionChange> {
  const limits = importLimits(deps.config);
  const checked = new RowNormalizer(countryOf(deps));
  const sample: RejectedRow[] = [];
  for await (const { rows } of fileRows(file, limits)) {
    for (const row of checked.normalize(rows).rejected) if (sample.length < REJECTED_SAMPLE) sample.push(row);
  }
  const rejected = { count: checked.rejected, sample };
  if (checked.total === 0) throw new HttpError(400, "the file has no valid phone number", { rejected });

  const reason = file.filename.slice(0, MAX_REASON_LENGTH);
  const normalizer = new RowNormalizer(countryOf(deps));
  let added = 0;
  let alreadyListed = 0;
  for await (const { rows } of fileRows(file, limits)) {
    const batch = normalizer.normalize(rows);
    const listed = await listNumbers(
      deps,
      batch.recipients.map((r) => r.phone),
      "import",
      reason,
    );
    added += listed.added;
    alreadyListed += listed.alreadyListed;
  }
  return { added, alreadyListed, duplicates: normalizer.duplicates, rejected };
}

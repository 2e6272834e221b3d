// When a scheduled blast starts, from what a person types: an ISO 8601 time with its offset
// ("2026-12-07T09:00:00+07:00", "…Z"), or a wall-clock time and the IANA zone it is read in
// ("2026-12-07T09:00" in "Asia/Jakarta") — the way a marketer thinks of "Monday 9:00 for our
// customers". A wall-clock time that a zone skips (clocks going forward) is refused rather than
// moved; one that happens twice (clocks going back) is the first of the two.

export type SendAtResult = { ok: true; at: Date } | { ok: false; reason: string };

const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** The latest a blast may be scheduled, from now. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 3600 * 1000;

/** The zone's wall-clock fields at an instant. */
function wallClockAt(at: number, timeZone: string): number[] {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(at));
  const field = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return [field("year"), field("month"), field("day"), field("hour"), field("minute"), field("second")];
}

/** The zone's offset from UTC at an instant, in ms. */
function offsetAt(at: number, timeZone: string): number {
  const [y, mo, d, h, mi, s] = wallClockAt(at, timeZone) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(at / 1000) * 1000;
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The instant a wall-clock time in a zone names, if it names one. */
export function instantOfWallClock(local: string, timeZone: string): SendAtResult {
  const m = WALL_CLOCK.exec(local);
  if (!m) return { ok: false, reason: `"${local}" is not a time like 2026-12-07T09:00` };
  if (!isTimeZone(timeZone)) return { ok: false, reason: `"${timeZone}" is not an IANA time zone` };
  const fields = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const [y, mo, d, h, mi, s] = fields;
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(asUtc).getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return { ok: false, reason: `"${local}" is not a date and time that exist` };
  }
  // The offset a day either side covers both sides of any transition; the earlier match wins.
  const offsets = [
    ...new Set([offsetAt(asUtc - 86_400_000, timeZone), offsetAt(asUtc + 86_400_000, timeZone)]),
  ];
  const candidates = offsets
    .map((offset) => asUtc - offset)
    .filter((at) => wallClockAt(at, timeZone).every((v, i) => v === fields[i]))
    .sort((a, b) => a - b);
  const at = candidates[0];
  if (at === undefined) {
    return { ok: false, reason: `${local} does not happen in ${timeZone} (the clocks skip it)` };
  }
  return { ok: true, at: new Date(at) };
}

/**
 * When to start: `sendAt` with an offset, or a wall-clock `sendAt` with `timeZone`. Refuses a
 * time that has passed, or more than a year ahead.
 */
export function parseSendAt(sendAt: string, timeZone: string | undefined, now: Date): SendAtResult {
  let at: Date;
  if (WITH_OFFSET.test(sendAt)) {
    if (timeZone !== undefined) {
      return { ok: false, reason: "give either a time with its offset or a time zone, not both" };
    }
    at = new Date(sendAt);
    if (Number.isNaN(at.getTime())) return { ok: false, reason: `"${sendAt}" is not a valid time` };
  } else {
    if (timeZone === undefined) {
      return { ok: false, reason: `"${sendAt}" has no offset: add one (…+07:00, …Z) or give timeZone` };
    }
    const local = instantOfWallClock(sendAt, timeZone);
    if (!local.ok) return local;
    at = local.at;
  }
  if (at.getTime() <= now.getTime()) return { ok: false, reason: `${at.toISOString()} has already passed` };
  if (at.getTime() - now.getTime() > MAX_SCHEDULE_AHEAD_MS) {
    return { ok: false, reason: "a blast can be scheduled at most a year ahead" };
  }
  return { ok: true, at };
}

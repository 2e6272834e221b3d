/// <reference lib="dom" />
// Times of scheduled blasts. A start is given as a wall clock in a named zone, as people plan
// ("9:00 in Jakarta"), and shown as wall clocks too, "YYYY-MM-DD HH:mm" with the zone's name: the
// same text whatever the browser's language, and never read as being in some other zone.
import { el } from "./elements.ts";

export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** `iso` as the wall clock of `timeZone`: "YYYY-MM-DDTHH:mm", what a datetime-local input holds. */
export function wallClock(iso: string | Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(typeof iso === "string" ? new Date(iso) : iso);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}T${part("hour")}:${part("minute")}`;
}

/** `iso` as people read it in `timeZone`: "2026-12-07 09:00 Asia/Jakarta". */
export function zoneTimeText(iso: string, timeZone: string): string {
  return `${wallClock(iso, timeZone).replace("T", " ")} ${timeZone}`;
}

/** "2 h 03 min 05 s": hours and minutes only once there are some, the lower units padded after them. */
export function countdownText(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (hours > 0) return `${hours} h ${pad(minutes)} min ${pad(seconds)} s`;
  if (minutes > 0) return `${minutes} min ${pad(seconds)} s`;
  return `${seconds} s`;
}

/** The zones the browser knows, the viewer's first among them whatever the list omits. */
function zoneNames(): string[] {
  const known = Intl.supportedValuesOf("timeZone");
  const wanted = [viewerZone(), "UTC"];
  return [...wanted.filter((z) => !known.includes(z)), ...known];
}

/** A select of time zones, set to `chosen` (the viewer's zone when left out). */
export function zoneSelect(name: string, chosen = viewerZone()): HTMLSelectElement {
  const names = zoneNames();
  if (!names.includes(chosen)) names.unshift(chosen);
  const select = el("select", { name }, ...names.map((z) => el("option", { value: z }, z)));
  select.value = chosen;
  return select;
}

// Session, campaign and blast ids end up inside NATS subjects and Redis keys, where `.`, `*`, `>`,
// `:` or whitespace would change what a subject matches or which key is touched.
import { randomBytes } from "node:crypto";

export const ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$";
const idRegex = new RegExp(ID_PATTERN);

export function isValidId(value: unknown): value is string {
  return typeof value === "string" && idRegex.test(value);
}

/** Time-ordered, so ids sort by creation in listings and logs. */
export function newId(prefix: string): string {
  const time = Date.now().toString(36).padStart(9, "0");
  return `${prefix}_${time}${randomBytes(6).toString("hex")}`;
}

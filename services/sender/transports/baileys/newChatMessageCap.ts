// WhatsApp's signal about its monthly cap on messages to people who have not replied ("new chat"
// messages), as Baileys 7.0.0-rc14 hands it over: a `mex` notification with the operation
// `MessageCappingInfoNotification`, emitted as `message-capping.update` with WhatsApp's own fields
// (`capping_status` NONE / FIRST_WARNING / SECOND_WARNING / CAPPED, `used_quota`, `total_quota`,
// `cycle_end_timestamp`). Baileys passes the payload on untyped at runtime, so every field is checked.
import type { NewChatMessageCapInfo } from "@whiskeysockets/baileys";
import type { NewChatMessageCap } from "../transport.ts";

const STATUS: Record<string, NewChatMessageCap["status"]> = {
  NONE: "none",
  FIRST_WARNING: "first_warning",
  SECOND_WARNING: "second_warning",
  CAPPED: "capped",
};

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;

/** A Unix time in seconds (WhatsApp's mex payloads carry them as strings), as a Date. */
function secondsAt(value: unknown): Date | undefined {
  const seconds = typeof value === "string" && /^\d{1,12}$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
}

/** The account's standing, or undefined when the payload does not say which it is. */
export function newChatMessageCapOf(info: NewChatMessageCapInfo | undefined): NewChatMessageCap | undefined {
  const status = typeof info?.capping_status === "string" ? STATUS[info.capping_status] : undefined;
  if (!info || !status) return undefined;
  const used = count(info.used_quota);
  const quota = count(info.total_quota);
  const cycleEndsAt = secondsAt(info.cycle_end_timestamp);
  return {
    status,
    ...(used !== undefined ? { used } : {}),
    ...(quota !== undefined ? { quota } : {}),
    ...(cycleEndsAt ? { cycleEndsAt } : {}),
  };
}

// WhatsApp names a person by phone number (`<digits>@s.whatsapp.net`) or, since the LID rollout,
// by a LID (`<id>@lid`) that says nothing about the number. Campaign rows are phone numbers, so
// every JID that comes back (receipts, replies) is turned into E.164 here, through the LID↔PN
// mapping Baileys learns from usync answers and message envelopes and keeps in the auth state.
import { isLidUser, isPnUser, jidDecode } from "@whiskeysockets/baileys";

/** What the client knows of LIDs: Baileys 7's `signalRepository.lidMapping`. */
export interface LidDirectory {
  getPNForLID(lid: string): Promise<string | null>;
}

export function toJid(e164: string): string {
  return `${e164.replace(/^\+/, "")}@s.whatsapp.net`;
}

/** `+<digits>` for a phone-number JID (any device), undefined for anything else. */
export function phoneOfPnJid(jid: string | null | undefined): string | undefined {
  if (!jid || !isPnUser(jid)) return undefined;
  const user = jidDecode(jid)?.user;
  return user && /^\d{5,20}$/.test(user) ? `+${user}` : undefined;
}

/**
 * The E.164 number behind `jid`: directly for a number, through `alt` (the other form the stanza
 * carried) or the client's mapping for a LID; undefined for a LID nobody ever paired with a number.
 */
export async function phoneOfJid(
  jid: string,
  directory: LidDirectory,
  alt?: string | null,
): Promise<string | undefined> {
  const direct = phoneOfPnJid(jid);
  if (direct) return direct;
  if (!isLidUser(jid)) return undefined;
  const fromAlt = phoneOfPnJid(alt);
  if (fromAlt) return fromAlt;
  return phoneOfPnJid(await directory.getPNForLID(jid));
}

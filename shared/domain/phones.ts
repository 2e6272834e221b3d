import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";

/** "+" and at most 15 digits (ITU-T E.164). */
const E164_MAX_LENGTH = 16;

export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

/**
 * Normalizes what people type into spreadsheets ("0812-345 678", "+62 812...", 6281234...) to E.164.
 * A number without a leading + or 00 is read in the default country first, then as an international
 * number without its +, because exported contact lists often drop the plus sign.
 */
export function normalizePhone(raw: string, defaultCountry: CountryCode): PhoneResult {
  const text = raw.trim();
  if (text === "") return { ok: false, reason: "empty phone" };
  if (text.length > 32) return { ok: false, reason: "phone too long" };
  if (/[^0-9+()\-.\s/]/.test(text)) return { ok: false, reason: "phone has invalid characters" };
  const compact = text.replace(/[()\-.\s/]/g, "");
  const international = compact.startsWith("+") || compact.startsWith("00");
  const candidates = international
    ? [parsePhoneNumberFromString(compact.replace(/^00/, "+"))]
    : [parsePhoneNumberFromString(compact, defaultCountry), parsePhoneNumberFromString(`+${compact}`)];
  for (const parsed of candidates) {
    // libphonenumber accepts some 14-digit German national numbers, 16 digits with the country
    // code: longer than E.164 allows, and no WhatsApp account has one.
    if (parsed?.isValid() && parsed.number.length <= E164_MAX_LENGTH)
      return { ok: true, e164: parsed.number };
  }
  return { ok: false, reason: "invalid phone number" };
}

export function isCountryCode(value: string): value is CountryCode {
  return isSupportedCountry(value);
}

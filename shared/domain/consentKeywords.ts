// Whether a person's message is an opt-out (or opt-in) request. The whole message must be the
// keyword: "STOP", "stop!", " Stop. " and "ARRÊT" are, "don't stop" and "stop sending me this"
// are not, because a campaign's replies are full of ordinary sentences and a wrong opt-out costs
// a customer while a missed one costs the account. Case, accents, surrounding spaces, punctuation
// and emoji are ignored.

export type ConsentIntent = "optout" | "optin";

export interface ConsentKeywords {
  readonly optOut: readonly string[];
  readonly optIn: readonly string[];
}

/** Opt-out words WhatsApp users write in the languages our users send in. */
export const DEFAULT_OPT_OUT_KEYWORDS = [
  "STOP",
  "STOP ALL",
  "STOPALL",
  "UNSUBSCRIBE",
  "OPT OUT",
  "OPTOUT",
  "CANCEL",
  "END",
  "QUIT",
  // Indonesian / Malay
  "BERHENTI",
  "STOP LANGGANAN",
  // Portuguese
  "PARAR",
  "SAIR",
  "CANCELAR",
  // Spanish
  "ALTO",
  "BAJA",
  "DETENER",
  // French
  "ARRÊT",
  "ARRET",
  "DÉSABONNER",
  "DESABONNER",
  // German
  "STOPP",
  "ABMELDEN",
  // Italian
  "BASTA",
] as const;

export const DEFAULT_OPT_IN_KEYWORDS = [
  "START",
  "UNSTOP",
  "SUBSCRIBE",
  "MULAI",
  "INICIAR",
  "COMENZAR",
] as const;

/** The message reduced to what a keyword is compared on. */
export function keywordForm(text: string): string {
  return text
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toUpperCase()
    .replace(/^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu, "")
    .replace(/\s+/g, " ");
}

/** Keywords from a comma-separated setting; the defaults when it is empty. */
export function keywordsFrom(setting: string, defaults: readonly string[]): string[] {
  const given = setting
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  return given.length > 0 ? given : [...defaults];
}

export class ConsentKeywordMatcher {
  private readonly optOut: ReadonlySet<string>;
  private readonly optIn: ReadonlySet<string>;

  constructor(keywords: ConsentKeywords) {
    this.optOut = new Set(keywords.optOut.map(keywordForm).filter(Boolean));
    this.optIn = new Set(keywords.optIn.map(keywordForm).filter(Boolean));
    const both = [...this.optOut].filter((k) => this.optIn.has(k));
    if (both.length > 0) throw new Error(`keywords both opt out and opt in: ${both.join(", ")}`);
  }

  /** What the message asks for, or undefined for anything else. */
  intentOf(text: string): ConsentIntent | undefined {
    // A keyword is a word or two: a long message is never one, whatever it ends with.
    if (text.length > 64) return undefined;
    const form = keywordForm(text);
    if (this.optOut.has(form)) return "optout";
    if (this.optIn.has(form)) return "optin";
    return undefined;
  }
}

// Message variants: a blast may rotate several texts, given as a list (each with an optional
// weight) or as spintax inside one template: `[[Hi|Hello|Hey]] {name}`. Spin groups use double
// square brackets so they cannot be read as `{column}` placeholders, and `\[[`, `\]]` write them
// literally (`\|` writes a literal "|" inside a group). Options are templates themselves; a group
// inside a group, an empty option or a group of one option is refused, as a typo is likelier
// than a message meant that way.
//
// Each recipient's choice hashes the phone with the blast's variant definition, so it is the same
// every time it is made: in the preview and in the blast, and for the same person in another blast
// of the same texts (a follow-up or a re-send keeps their wording, A/B cohorts stay put), while
// different texts draw anew. The rendered text then travels in the durable send work, so a
// redelivery after a crash sends those very bytes.
import {
  MAX_TEMPLATE_LENGTH,
  parseTemplatePiece,
  renderTemplate,
  TemplateError,
  type Template,
} from "./templates.ts";

export const MAX_VARIANTS = 20;

/** A variant as a request gives it: a template, weighted 1 unless said otherwise. */
export interface VariantInput {
  readonly text: string;
  readonly weight?: number;
}

/** A piece of a spun template: text with placeholders, or a group of which one option is sent. */
type SpunPiece = { readonly template: Template } | { readonly options: readonly Template[] };

export interface SpunTemplate {
  readonly source: string;
  readonly pieces: readonly SpunPiece[];
  /** How many spin groups it has. */
  readonly groups: number;
  readonly fields: readonly string[];
}

export interface MessageVariant {
  readonly text: string;
  readonly weight: number;
  readonly spun: SpunTemplate;
}

export interface MessageVariants {
  readonly variants: readonly MessageVariant[];
  /** Given as a list, so each recipient's variant is recorded by its number in the list. */
  readonly listed: boolean;
  /** The columns any variant or option uses: every one must exist, whichever is chosen. */
  readonly fields: readonly string[];
  /** A hash of the definition, mixed into every choice. */
  readonly seed: string;
}

/** Which variant (0-based, in the list) and which option of each spin group (0-based). */
export interface VariantChoice {
  readonly variant: number;
  readonly options: readonly number[];
}

const OPEN = "[[";
const CLOSE = "]]";

/** One template that may hold spin groups. */
export function parseSpunTemplate(source: string): SpunTemplate {
  if (source.trim() === "") throw new TemplateError("message template is empty");
  if (source.length > MAX_TEMPLATE_LENGTH) {
    throw new TemplateError(`message template is longer than ${MAX_TEMPLATE_LENGTH} characters`);
  }
  const pieces: SpunPiece[] = [];
  let literal = "";
  let literalAt = 0;
  let groups = 0;
  let i = 0;
  const endLiteral = (next: number) => {
    if (literal !== "") pieces.push({ template: parseTemplatePiece(literal, literalAt) });
    literal = "";
    literalAt = next;
  };
  while (i < source.length) {
    if (source[i] === "\\" && (source.startsWith(OPEN, i + 1) || source.startsWith(CLOSE, i + 1))) {
      literal += source.slice(i + 1, i + 3);
      i += 3;
    } else if (source.startsWith(OPEN, i)) {
      endLiteral(i);
      const group = readSpinGroup(source, i);
      pieces.push({ options: group.options });
      groups++;
      i = group.end;
      literalAt = i;
    } else if (source.startsWith(CLOSE, i)) {
      throw new TemplateError(`unmatched "]]" at position ${i} (write \\]] for literal brackets)`);
    } else {
      literal += source[i];
      i++;
    }
  }
  endLiteral(i);
  const fields = [
    ...new Set(
      pieces.flatMap((piece) =>
        "template" in piece ? piece.template.fields : piece.options.flatMap((o) => o.fields),
      ),
    ),
  ];
  return { source, pieces, groups, fields };
}

/** The group opening at `start`: its options, parsed, and where the text after it starts. */
function readSpinGroup(source: string, start: number): { options: Template[]; end: number } {
  const options: Template[] = [];
  let option = "";
  let optionAt = start + OPEN.length;
  const endOption = (next: number) => {
    if (option.trim() === "") {
      throw new TemplateError(`empty option in the spin group at position ${start}`);
    }
    options.push(parseTemplatePiece(option, optionAt));
    option = "";
    optionAt = next;
  };
  let j = start + OPEN.length;
  while (j < source.length) {
    const escaped =
      source[j] === "\\" ? [OPEN, CLOSE, "|"].find((s) => source.startsWith(s, j + 1)) : undefined;
    if (escaped !== undefined) {
      option += escaped;
      j += 1 + escaped.length;
    } else if (source.startsWith(OPEN, j)) {
      throw new TemplateError(`spin group inside a spin group at position ${j}: groups cannot nest`);
    } else if (source.startsWith(CLOSE, j)) {
      endOption(j + CLOSE.length);
      if (options.length < 2) {
        throw new TemplateError(
          `the spin group at position ${start} has one option; separate options with "|" ` +
            `(write \\[[ for literal brackets)`,
        );
      }
      return { options, end: j + CLOSE.length };
    } else if (source[j] === "|") {
      endOption(j + 1);
      j++;
    } else {
      option += source[j];
      j++;
    }
  }
  throw new TemplateError(`unclosed "[[" at position ${start} (write \\[[ for literal brackets)`);
}

/** One message, with or without spin groups. */
export function parseMessage(source: string): MessageVariants {
  const spun = parseSpunTemplate(source);
  return {
    variants: [{ text: source, weight: 1, spun }],
    listed: false,
    fields: spun.fields,
    seed: seedOf([source]),
  };
}

/** A template already parsed, as one message without spin groups. */
export function plainMessage(template: Template): MessageVariants {
  const spun = { source: template.source, pieces: [{ template }], groups: 0, fields: template.fields };
  return {
    variants: [{ text: template.source, weight: 1, spun }],
    listed: false,
    fields: template.fields,
    seed: seedOf([template.source]),
  };
}

/** A list of 1 to MAX_VARIANTS variants; each may hold spin groups too. */
export function parseVariants(list: readonly VariantInput[]): MessageVariants {
  if (list.length === 0) throw new TemplateError("variants is empty: give at least one");
  if (list.length > MAX_VARIANTS) throw new TemplateError(`at most ${MAX_VARIANTS} variants`);
  const variants = list.map(({ text, weight = 1 }, i): MessageVariant => {
    if (!Number.isFinite(weight) || weight <= 0) {
      throw new TemplateError(`variant ${i + 1}: weight must be a positive number`);
    }
    try {
      return { text, weight, spun: parseSpunTemplate(text) };
    } catch (err) {
      if (err instanceof TemplateError) throw new TemplateError(`variant ${i + 1}: ${err.message}`);
      throw err;
    }
  });
  const fields = [...new Set(variants.flatMap((v) => v.spun.fields))];
  const seed = seedOf(variants.map((v) => [v.text, v.weight]));
  return { variants, listed: true, fields, seed };
}

/**
 * The recipient's variant and options, from `phone` alone (with the definition): the weights are
 * the odds of each variant, each group's options equally likely.
 */
export function chooseVariant(message: MessageVariants, phone: string): VariantChoice {
  const { variants } = message;
  let variant = 0;
  if (variants.length > 1) {
    const total = variants.reduce((sum, v) => sum + v.weight, 0);
    let point = uniform(message.seed, phone, "variant") * total;
    while (variant < variants.length - 1 && point >= (variants[variant]?.weight ?? 0)) {
      point -= variants[variant]?.weight ?? 0;
      variant++;
    }
  }
  const groups = variants[variant]?.spun.pieces.filter((p) => "options" in p) ?? [];
  const options = groups.map((group, g) =>
    "options" in group ? Math.floor(uniform(message.seed, phone, `group${g}`) * group.options.length) : 0,
  );
  return { variant, options };
}

/**
 * How a choice is recorded per recipient: the variant's number in the list ("2"), the options of
 * the spin groups by number ("1.3": first option of the first group, third of the second), or both
 * ("2:1.3"); undefined for one message without groups, where there is nothing to tell apart.
 */
export function variantLabel(message: MessageVariants, choice: VariantChoice): string | undefined {
  const spins = choice.options.map((o) => o + 1).join(".");
  if (message.listed) return spins === "" ? String(choice.variant + 1) : `${choice.variant + 1}:${spins}`;
  return spins === "" ? undefined : spins;
}

export type VariantRender = { ok: true; text: string; variant?: string } | { ok: false; reason: string };

/** The recipient's chosen variant, rendered; `values.phone` (E.164) is what the choice hashes. */
export function renderVariant(
  message: MessageVariants,
  values: Readonly<Record<string, string>>,
): VariantRender {
  const choice = chooseVariant(message, values.phone ?? "");
  const spun = message.variants[choice.variant]?.spun;
  if (!spun) return { ok: false, reason: "no variant to send" };
  let text = "";
  let group = 0;
  for (const piece of spun.pieces) {
    const template = "template" in piece ? piece.template : piece.options[choice.options[group++] ?? 0];
    if (!template) continue;
    const rendered = renderTemplate(template, values);
    if (!rendered.ok) return rendered;
    text += rendered.text;
  }
  const variant = variantLabel(message, choice);
  return variant === undefined ? { ok: true, text } : { ok: true, text, variant };
}

/** How many recipients got each variant, with the first one's message as a sample. */
export interface VariantShare {
  readonly variant: string;
  readonly count: number;
  readonly sample?: string;
}

/** Counts recipients per variant for a preview; a listed variant nobody got shows with 0. */
export class VariantTally {
  private readonly shares = new Map<string, { count: number; sample?: string }>();

  constructor(message: MessageVariants) {
    if (message.listed && message.variants.every((v) => v.spun.groups === 0)) {
      message.variants.forEach((_, i) => this.shares.set(String(i + 1), { count: 0 }));
    }
  }

  add(variant: string | undefined, text: string): void {
    if (variant === undefined) return;
    const share = this.shares.get(variant);
    if (!share) this.shares.set(variant, { count: 1, sample: text });
    else {
      share.count++;
      share.sample ??= text;
    }
  }

  /**
   * The `limit` largest shares (spintax can make more combinations than a preview can show), in
   * variant order.
   */
  entries(limit: number): VariantShare[] {
    const all = [...this.shares].map(([variant, { count, sample }]) =>
      sample === undefined ? { variant, count } : { variant, count, sample },
    );
    const kept = all.length <= limit ? all : [...all].sort((a, b) => b.count - a.count).slice(0, limit);
    return kept.sort((a, b) => a.variant.localeCompare(b.variant, "en", { numeric: true }));
  }
}

function seedOf(definition: unknown): string {
  return cyrb53(JSON.stringify(definition)).toString(36);
}

/** A number in [0, 1) fixed by its inputs. */
function uniform(seed: string, phone: string, salt: string): number {
  return cyrb53(`${seed}\u0000${phone}\u0000${salt}`) / 2 ** 53;
}

// cyrb53 (public domain, bryc): a fast 53-bit string hash with good spread, in plain JS so the
// domain needs no crypto module. Not for secrets; only for an even, repeatable draw.
function cyrb53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

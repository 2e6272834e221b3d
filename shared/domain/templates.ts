// A message template names recipient columns in braces: "Hi {name}, your code is {code}".
// `{{` and `}}` write literal braces. Column names match case-insensitively, as spreadsheet
// headers are typed by people ("Name", "name ", "NAME").

export const MAX_TEMPLATE_LENGTH = 4096;

type Part = { text: string } | { field: string };

export interface Template {
  readonly source: string;
  readonly parts: readonly Part[];
  /** The normalized column names the template uses, in first-use order. */
  readonly fields: readonly string[];
}

export class TemplateError extends Error {}

export function normalizeColumn(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, "_");
}

export function parseTemplate(source: string): Template {
  if (source.trim() === "") throw new TemplateError("message template is empty");
  if (source.length > MAX_TEMPLATE_LENGTH) {
    throw new TemplateError(`message template is longer than ${MAX_TEMPLATE_LENGTH} characters`);
  }
  return parseTemplatePiece(source, 0);
}

/**
 * A piece of a template (text between spin groups, one option of a group): the same syntax as a
 * whole template, but it may be empty. Its length is the whole template's to check; `offset` is
 * where it starts in the whole, for the positions errors report.
 */
export function parseTemplatePiece(source: string, offset: number): Template {
  const parts: Part[] = [];
  const fields: string[] = [];
  let text = "";
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    const next = source[i + 1];
    if ((char === "{" && next === "{") || (char === "}" && next === "}")) {
      text += char;
      i++;
    } else if (char === "{") {
      const end = source.indexOf("}", i + 1);
      if (end === -1) throw new TemplateError(`unclosed "{" at position ${offset + i}`);
      const field = normalizeColumn(source.slice(i + 1, end));
      if (!/^[a-z0-9_]{1,64}$/.test(field)) {
        throw new TemplateError(
          `invalid placeholder "${source.slice(i, end + 1)}" at position ${offset + i}`,
        );
      }
      if (text) parts.push({ text });
      text = "";
      parts.push({ field });
      if (!fields.includes(field)) fields.push(field);
      i = end;
    } else if (char === "}") {
      throw new TemplateError(`unmatched "}" at position ${offset + i}`);
    } else {
      text += char;
    }
  }
  if (text) parts.push({ text });
  return { source, parts, fields };
}

export type RenderResult = { ok: true; text: string } | { ok: false; reason: string };

/** Renders for one recipient; a used column that is blank for this recipient is a rejection, not "Hi ,". */
export function renderTemplate(template: Template, values: Readonly<Record<string, string>>): RenderResult {
  let out = "";
  for (const part of template.parts) {
    if ("text" in part) {
      out += part.text;
      continue;
    }
    // Own keys only: a "{constructor}" placeholder must not find Object.prototype.constructor.
    const value = Object.hasOwn(values, part.field) ? values[part.field] : undefined;
    if (value === undefined || value.trim() === "")
      return { ok: false, reason: `missing value for {${part.field}}` };
    out += value;
  }
  return { ok: true, text: out };
}

/** Columns the template uses that no recipient has: a 400 at creation, before anything is queued. */
export function unknownFields(template: Pick<Template, "fields">, columns: Iterable<string>): string[] {
  const known = new Set(columns);
  return template.fields.filter((field) => !known.has(field));
}

// Any text a user types as a message and any recipient row: the renderer answers with a message,
// a rejected row, or a TemplateError (a 400), never another exception. Fixed seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  MAX_TEMPLATE_LENGTH,
  TemplateError,
  parseTemplate,
  renderTemplate,
  type Template,
} from "../../../shared/domain/templates.ts";

const SEED = 42;

const fieldName = fc.oneof(
  fc.constantFrom("name", "city", "constructor", "__proto__", "tostring", "valueof", "hasownproperty"),
  fc.stringMatching(/^[a-z0-9_]{1,10}$/),
);
const templateText = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc
    .array(
      fc.oneof(
        fc.string({ maxLength: 10 }),
        fc.constantFrom("{", "}", "{{", "}}", "{ Name }", "{}", "{na-me}", "\u0000", "\uD800"),
        fieldName.map((f) => `{${f}}`),
      ),
      { maxLength: 20 },
    )
    .map((parts) => parts.join("")),
  fc.string({ minLength: MAX_TEMPLATE_LENGTH - 2, maxLength: MAX_TEMPLATE_LENGTH + 2 }),
);
const row = fc.dictionary(fieldName, fc.string({ maxLength: 20 }), { maxKeys: 6 });

function parsed(source: string): Template | TemplateError {
  try {
    return parseTemplate(source);
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
}

/** Text that renders to itself: every brace doubled. */
const escapeBraces = (text: string) => text.replace(/\{/g, "{{").replace(/\}/g, "}}");

describe("message templates under fuzzing", () => {
  let cases = 0;

  it("parses any text to a template or a TemplateError, and renders any row to text or a reason", () => {
    fc.assert(
      fc.property(templateText, row, (source, values) => {
        cases++;
        const template = parsed(source);
        if (template instanceof TemplateError) {
          assert.ok(template.message.length > 0);
          return;
        }
        assert.ok(source.length <= MAX_TEMPLATE_LENGTH);
        const rendered = renderTemplate(template, values);
        if (rendered.ok) assert.equal(typeof rendered.text, "string");
        else assert.match(rendered.reason, /^missing value for \{[a-z0-9_]+\}$/);
        // Every placeholder the template uses is filled by a row that has them all.
        const full = Object.fromEntries(template.fields.map((f) => [f, `<${f}>`]));
        const filled = renderTemplate(template, full);
        assert.ok(filled.ok);
        for (const field of template.fields) assert.ok(filled.text.includes(`<${field}>`));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it("round-trips literal braces: any text with {{ and }} doubled renders to itself", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (text) => {
        cases++;
        fc.pre(text.trim() !== "" && escapeBraces(text).length <= MAX_TEMPLATE_LENGTH);
        const template = parseTemplate(escapeBraces(text));
        assert.deepEqual(template.fields, []);
        assert.deepEqual(renderTemplate(template, {}), { ok: true, text });
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("keeps {constructor} and {__proto__} to the row's own values (regression)", () => {
    for (const field of ["constructor", "__proto__"]) {
      const template = parseTemplate(`Hi {${field}}`);
      assert.deepEqual(renderTemplate(template, {}), { ok: false, reason: `missing value for {${field}}` });
    }
  });

  it("ran its cases", (t) => {
    t.diagnostic(`template fuzz cases: ${cases}`);
    console.log(`template fuzz cases: ${cases}`);
    assert.ok(cases >= 5000);
  });
});

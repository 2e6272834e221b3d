import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  TemplateError,
  normalizeColumn,
  parseTemplate,
  renderTemplate,
  unknownFields,
} from "../../../shared/domain/templates.ts";

describe("message templates", () => {
  it("renders columns by name, case- and space-insensitively", () => {
    const template = parseTemplate("Hi { Name }, your {Order Id} ships to {city}. Bye {name}!");
    assert.deepEqual(template.fields, ["name", "order_id", "city"]);
    const rendered = renderTemplate(template, { name: "Ana", order_id: "A-7", city: "Lima" });
    assert.deepEqual(rendered, { ok: true, text: "Hi Ana, your A-7 ships to Lima. Bye Ana!" });
  });

  it("writes literal braces with {{ and }}", () => {
    const template = parseTemplate("{{code}} is {code}}}");
    assert.deepEqual(template.fields, ["code"]);
    assert.deepEqual(renderTemplate(template, { code: "42" }), { ok: true, text: "{code} is 42}" });
  });

  it("refuses broken templates with the position", () => {
    assert.throws(() => parseTemplate("Hi {name"), /unclosed "\{" at position 3/);
    assert.throws(() => parseTemplate("Hi name}"), /unmatched "\}" at position 7/);
    assert.throws(() => parseTemplate("Hi {na-me}"), /invalid placeholder "\{na-me\}"/);
    assert.throws(() => parseTemplate("Hi {}"), TemplateError);
    assert.throws(() => parseTemplate("   "), /empty/);
    assert.throws(() => parseTemplate("x".repeat(4097)), /longer than 4096/);
  });

  it("rejects a recipient whose used column is blank instead of sending 'Hi ,'", () => {
    const template = parseTemplate("Hi {name}");
    assert.deepEqual(renderTemplate(template, { name: "  " }), {
      ok: false,
      reason: "missing value for {name}",
    });
    assert.deepEqual(renderTemplate(template, {}), { ok: false, reason: "missing value for {name}" });
  });

  it("lists the placeholders no recipient column can fill", () => {
    const template = parseTemplate("{name} {city} {zip}");
    assert.deepEqual(unknownFields(template, ["phone", "name", "city"]), ["zip"]);
    assert.deepEqual(unknownFields(template, ["phone", "name", "city", "zip"]), []);
  });

  it("normalizes spreadsheet headers", () => {
    assert.equal(normalizeColumn("  Phone   Number "), "phone_number");
    assert.equal(normalizeColumn("NAME"), "name");
  });
});

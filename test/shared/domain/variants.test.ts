// Message variants: the spintax syntax and its refusals, the weighted list, and the choice per
// recipient, which must be the same every time it is made (a retry, a redelivery, a re-plan) and
// follow the weights over many recipients.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decide, type BlastEvent } from "../../../shared/domain/blast.ts";
import { RecipientPlanner, templateProblem } from "../../../shared/domain/recipientPlanner.ts";
import type { InputRow, PlannedRecipient } from "../../../shared/domain/recipients.ts";
import { TemplateError } from "../../../shared/domain/templates.ts";
import {
  chooseVariant,
  MAX_VARIANTS,
  parseMessage,
  parseVariants,
  renderVariant,
  VariantTally,
  type MessageVariants,
} from "../../../shared/domain/variants.ts";

const phoneOf = (n: number) => `+1202${String(5550000 + n).padStart(7, "0")}`;

function render(message: MessageVariants, values: Record<string, string>) {
  const rendered = renderVariant(message, values);
  assert.ok(rendered.ok, rendered.ok ? "" : rendered.reason);
  return rendered;
}

describe("spintax", () => {
  it("sends one option of each group, placeholders inside options too", () => {
    const message = parseMessage("[[Hi|Hello {name}|Hey]] {name}, [[sale|deals]] today");
    assert.deepEqual(message.fields, ["name"]);
    const seen = new Set<string>();
    for (let n = 0; n < 200; n++) {
      const { text, variant } = render(message, { phone: phoneOf(n), name: "Ana" });
      assert.match(text, /^(Hi|Hello Ana|Hey) Ana, (sale|deals) today$/);
      assert.match(variant ?? "", /^[1-3]\.[12]$/);
      seen.add(text);
    }
    assert.equal(seen.size, 6, "every combination occurs");
  });

  it("writes brackets and bars literally when escaped, and leaves single brackets and {{ alone", () => {
    const message = parseMessage("\\[[x\\]] [a] {{b}} [[1\\|2|3\\]]]] |");
    const texts = new Set<string>();
    for (let n = 0; n < 50; n++) texts.add(render(message, { phone: phoneOf(n) }).text);
    assert.deepEqual([...texts].sort(), ["[[x]] [a] {b} 1|2 |", "[[x]] [a] {b} 3]] |"]);
  });

  it("without groups is one message: nothing to record as a variant", () => {
    const rendered = render(parseMessage("Hi {name} | [x]"), { phone: phoneOf(1), name: "Ana" });
    assert.deepEqual(rendered, { ok: true, text: "Hi Ana | [x]" });
  });

  it("parses any text or refuses it with a TemplateError, and renders what it parses", () => {
    const piece = fc.constantFrom("[[", "]]", "|", "\\", "{", "}", "{name}", "{{", "a", " ", "[", "]");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        let message: MessageVariants;
        try {
          message = parseMessage(pieces.join(""));
        } catch (err) {
          assert.ok(err instanceof TemplateError, String(err));
          return;
        }
        const values = Object.fromEntries(message.fields.map((f) => [f, "v"]));
        assert.equal(renderVariant(message, { ...values, phone: phoneOf(3) }).ok, true);
      }),
    );
  });

  it("refuses nested, empty, one-option, unclosed and unmatched groups with the position", () => {
    assert.throws(() => parseMessage("Hi [[a|[[b|c]]]]"), /spin group inside a spin group at position 7/);
    assert.throws(() => parseMessage("Hi [[a||b]]"), /empty option in the spin group at position 3/);
    assert.throws(() => parseMessage("Hi [[a| ]]"), /empty option/);
    assert.throws(() => parseMessage("[[SALE]] now"), /has one option.*\\\[\[/);
    assert.throws(() => parseMessage("Hi [[a|b"), /unclosed "\[\[" at position 3/);
    assert.throws(() => parseMessage("Hi a|b]]"), /unmatched "\]\]" at position 6/);
    assert.throws(() => parseMessage("Hi [[{na|b]]"), /unclosed "\{" at position 5/);
    assert.throws(() => parseMessage("{na[[a|b]]me}"), TemplateError);
    assert.throws(() => parseMessage("  "), /empty/);
  });
});

describe("a list of variants", () => {
  it("is 1 to 20 templates with positive weights, 1 by default", () => {
    assert.deepEqual(
      parseVariants([{ text: "a" }, { text: "b", weight: 2.5 }]).variants.map((v) => v.weight),
      [1, 2.5],
    );
    assert.throws(() => parseVariants([]), /at least one/);
    const many = Array.from({ length: MAX_VARIANTS + 1 }, (_, i) => ({ text: `t${i}` }));
    assert.throws(() => parseVariants(many), /at most 20 variants/);
    assert.throws(() => parseVariants([{ text: "a" }, { text: "b", weight: 0 }]), /variant 2: weight/);
    assert.throws(() => parseVariants([{ text: "a", weight: Number.NaN }]), /variant 1: weight/);
    assert.throws(() => parseVariants([{ text: "a" }, { text: "Hi {name" }]), /variant 2: unclosed "\{"/);
  });

  it("is checked against the columns in every variant, not only the first", () => {
    const message = parseVariants([{ text: "Hi {name}" }, { text: "Hey [[{name}|{nickname}]]" }]);
    assert.equal(
      templateProblem(message, ["phone", "name"]),
      "template uses {nickname}, which no recipient has",
    );
    assert.equal(templateProblem(message, ["phone", "name", "nickname"]), undefined);
  });

  it("records the variant by number, and with spin groups by number and options", () => {
    const listed = parseVariants([{ text: "A" }, { text: "B" }]);
    assert.match(render(listed, { phone: phoneOf(1) }).variant ?? "", /^[12]$/);
    const spun = parseVariants([{ text: "[[x|y]]" }, { text: "[[x|y]]!", weight: 1 }]);
    assert.match(render(spun, { phone: phoneOf(1) }).variant ?? "", /^[12]:[12]$/);
  });
});

describe("the choice per recipient", () => {
  const message = parseVariants([
    { text: "A {name}", weight: 1 },
    { text: "B [[x|y|z]] {name}", weight: 3 },
    { text: "C {name}", weight: 6 },
  ]);

  it("is the same for the same recipient, whatever else is planned and however often", () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.string(), (n, name) => {
        const values = { phone: phoneOf(n), name: name.trim() === "" ? "x" : name };
        // A fresh parse stands for another process (a gateway after a restart) making the choice again.
        const again = parseVariants(message.variants.map(({ text, weight }) => ({ text, weight })));
        assert.deepEqual(renderVariant(again, values), renderVariant(message, values));
        assert.deepEqual(chooseVariant(again, values.phone), chooseVariant(message, values.phone));
      }),
    );
  });

  it("follows the weights within 2% over 10,000 recipients", () => {
    const counts = [0, 0, 0];
    for (let n = 0; n < 10_000; n++) {
      const { variant } = chooseVariant(message, phoneOf(n * 7919));
      counts[variant] = (counts[variant] ?? 0) + 1;
    }
    const shares = counts.map((c) => c / 10_000);
    [0.1, 0.3, 0.6].forEach((weight, i) =>
      assert.ok(Math.abs((shares[i] ?? 0) - weight) <= 0.02, `variant ${i + 1}: ${shares[i]} vs ${weight}`),
    );
  });

  it("spreads a spin group's options evenly within 2% over 10,000 recipients", () => {
    const spun = parseMessage("[[a|b|c|d]]");
    const counts = new Map<string, number>();
    for (let n = 0; n < 10_000; n++) {
      const { variant = "" } = render(spun, { phone: phoneOf(n) });
      counts.set(variant, (counts.get(variant) ?? 0) + 1);
    }
    assert.equal(counts.size, 4);
    for (const [option, count] of counts) assert.ok(Math.abs(count / 10_000 - 0.25) <= 0.02, option);
  });

  it("draws anew for other texts: the same people split differently", () => {
    const other = parseVariants([{ text: "A2" }, { text: "B2" }]);
    const first = parseVariants([{ text: "A1" }, { text: "B1" }]);
    let same = 0;
    for (let n = 0; n < 1000; n++) {
      if (chooseVariant(other, phoneOf(n)).variant === chooseVariant(first, phoneOf(n)).variant) same++;
    }
    assert.ok(same > 400 && same < 600, `${same} of 1000 kept their variant number`);
  });
});

describe("planning with variants", () => {
  const message = parseVariants([{ text: "A {name}" }, { text: "B {name}", weight: 2 }]);
  const rows = (from: number, count: number): InputRow[] =>
    Array.from({ length: count }, (_, i) => ({
      source: "body",
      row: from + i,
      values: { phone: phoneOf(from + i), name: `N${from + i}` },
    }));

  it("renders each recipient's variant, the same however the rows are batched", () => {
    const whole = new RecipientPlanner(message, "US").plan(rows(0, 60)).recipients;
    const batched = new RecipientPlanner(message, "US");
    const inBatches = [...batched.plan(rows(0, 7)).recipients, ...batched.plan(rows(7, 53)).recipients];
    assert.deepEqual(inBatches, whole);
    for (const r of whole) {
      assert.equal(r.text, `${r.variant === "1" ? "A" : "B"} N${r.idx}`);
    }
    assert.deepEqual(new Set(whole.map((r) => r.variant)), new Set(["1", "2"]));
  });

  it("carries the variant into blast.recipients_added, and the list into blast.created", () => {
    const planned: PlannedRecipient[] = new RecipientPlanner(message, "US").plan(rows(0, 3)).recipients;
    const [added] = decide(
      { type: "add_recipients", blastId: "b1", recipients: planned },
      { status: "none" },
    );
    assert.ok(added?.type === "blast.recipients_added");
    assert.deepEqual(
      added.data.recipients.map((r) => r.variant),
      planned.map((r) => r.variant),
    );
    const [created] = decide(
      {
        type: "create",
        blastId: "b1",
        sessionIds: ["s1"],
        template: "A {name}",
        variants: [
          { text: "A {name}", weight: 1 },
          { text: "B {name}", weight: 2 },
        ],
        total: 3,
        rejected: 0,
        duplicates: 0,
        now: new Date("2026-11-30T10:00:00.000Z"),
      },
      { status: "none" },
    );
    assert.deepEqual((created as Extract<BlastEvent, { type: "blast.created" }>).data.variants, [
      { text: "A {name}", weight: 1 },
      { text: "B {name}", weight: 2 },
    ]);
  });

  it("tallies a preview: every listed variant, its count and its first message", () => {
    const tally = new VariantTally(parseVariants([{ text: "A" }, { text: "B" }, { text: "C" }]));
    tally.add("2", "B one");
    tally.add("2", "B two");
    tally.add("10", "ten");
    tally.add(undefined, "none");
    assert.deepEqual(tally.entries(100), [
      { variant: "1", count: 0 },
      { variant: "2", count: 2, sample: "B one" },
      { variant: "3", count: 0 },
      { variant: "10", count: 1, sample: "ten" },
    ]);
    assert.deepEqual(
      tally.entries(1).map((e) => e.variant),
      ["2"],
    );
  });
});

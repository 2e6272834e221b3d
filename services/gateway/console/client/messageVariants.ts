/// <reference lib="dom" />
// The blast form's message variants: the message box is the first variant, "Add variant" adds
// more, each with a weight (its relative odds). With one variant the form sends `message` as
// before; with more it sends `variants`, and the preview shows how the recipients split.
import type { BlastPreview } from "./apiTypes.ts";
import { el } from "./elements.ts";

/** As the API refuses more (shared/domain/variants.ts MAX_VARIANTS). */
const MAX_VARIANTS = 20;

export function variantList(first: HTMLTextAreaElement, onChange: () => void) {
  const rows = el("ol", { class: "variant-list" });
  const weight = () =>
    el("input", {
      type: "number",
      name: "variantWeight",
      min: "0.01",
      step: "any",
      value: "1",
      title: "weight",
    });
  const firstWeight = weight();
  const firstWeightLabel = el(
    "label",
    { class: "inline variant-weight", hidden: true },
    "Weight",
    firstWeight,
  );
  const add = el("button", { type: "button", class: "add-variant secondary" }, "Add variant");
  const extras = () => Array.from(rows.querySelectorAll<HTMLElement>(".variant"));
  const refresh = () => {
    firstWeightLabel.hidden = extras().length === 0;
    add.disabled = extras().length + 1 >= MAX_VARIANTS;
    onChange();
  };
  const addRow = (text = "", weightValue = "1") => {
    const rowWeight = weight();
    rowWeight.value = weightValue;
    const row = el(
      "li",
      { class: "variant" },
      el("textarea", {
        name: "variantText",
        rows: 3,
        placeholder: "Another wording of the message, with the same {columns}.",
      }),
      el("label", { class: "inline variant-weight" }, "Weight", rowWeight),
      el(
        "button",
        { type: "button", class: "remove-variant secondary", onclick: () => row.remove() },
        "Remove",
      ),
    );
    const area = row.querySelector("textarea");
    if (area) area.value = text;
    row.querySelector(".remove-variant")?.addEventListener("click", refresh);
    rows.append(row);
  };
  add.addEventListener("click", () => {
    addRow();
    refresh();
  });
  rows.addEventListener("input", onChange);
  firstWeight.addEventListener("input", onChange);
  const node = el(
    "div",
    { class: "variants" },
    firstWeightLabel,
    rows,
    add,
    el(
      "p",
      { class: "meta" },
      "Each recipient gets one variant, picked by weight, the same one every time. Inside a message, " +
        "[[Hi|Hello|Hey]] sends one of the options; \\[[ and \\]] write the brackets themselves.",
    ),
  );
  const weightOf = (input: HTMLInputElement | null) => Number(input?.value || "1");
  /** Every variant, the message box first; one entry when there are no others. */
  const values = (): Array<{ text: string; weight: number }> => [
    { text: first.value, weight: weightOf(firstWeight) },
    ...extras().map((row) => ({
      text: row.querySelector("textarea")?.value ?? "",
      weight: weightOf(row.querySelector<HTMLInputElement>("input[name=variantWeight]")),
    })),
  ];
  return {
    node,
    values,
    /** Fills the message box and the extra rows from a blast's variants (an editor's start). */
    set(variants: ReadonlyArray<{ text: string; weight?: number }>): void {
      rows.replaceChildren();
      const [head, ...rest] = variants;
      first.value = head?.text ?? "";
      firstWeight.value = String(head?.weight ?? 1);
      for (const v of rest) addRow(v.text, String(v.weight ?? 1));
      refresh();
    },
    /** Sets `message` or, with more than one variant, `variants` (a JSON string) on the form. */
    fill(data: FormData): void {
      const all = values();
      if (all.length === 1) {
        data.set("message", first.value);
        return;
      }
      data.set("variants", JSON.stringify(all));
    },
  };
}

/** How the recipients split over the variants, with a sample of each; nothing for one message. */
export function variantShares(result: BlastPreview): HTMLElement | undefined {
  if (!result.variants || result.variants.length === 0) return undefined;
  const planned = result.variants.reduce((sum, v) => sum + v.count, 0);
  return el(
    "table",
    { class: "variant-shares" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}, "variant"),
        el("th", {}, "recipients"),
        el("th", {}, "share"),
        el("th", {}, "sample"),
      ),
    ),
    el(
      "tbody",
      {},
      ...result.variants.map((v) =>
        el(
          "tr",
          { "data-variant": v.variant },
          el("td", {}, v.variant),
          el("td", { class: "count" }, v.count),
          el("td", {}, planned === 0 ? "" : `${Math.round((v.count / planned) * 100)}%`),
          el("td", {}, v.sample === undefined ? "" : el("q", {}, v.sample)),
        ),
      ),
    ),
  );
}

/// <reference lib="dom" />
// Two settings of the blast form: a file of the media library to attach, and the blast's own
// frequency cap. Each writes its fields on the form's data the way the API reads multipart forms.
import type { FrequencyCap, MediaItem } from "./apiTypes.ts";
import { el, replaceChildren } from "./elements.ts";
import { mediaLabel } from "./mediaPanel.ts";

/** A select of the library's files; "" is none. */
export function mediaPicker(name: string, noneText: string) {
  const select = el("select", { name, class: "media-picker" });
  const show = (items: readonly MediaItem[], chosen = select.value) => {
    replaceChildren(
      select,
      el("option", { value: "" }, noneText),
      ...items.map((m) => el("option", { value: m.mediaId, "data-kind": m.kind }, mediaLabel(m))),
    );
    // A file deleted meanwhile is no choice any more: the select falls back to none.
    select.value = items.some((m) => m.mediaId === chosen) ? chosen : "";
  };
  return { node: select, show, chosen: () => select.value };
}

/**
 * The blast's frequency cap: the deployment's (the field left out), its own, or none (`null`,
 * which still counts its messages against later blasts' caps).
 */
export function frequencyCapControl(onChange: () => void) {
  const mode = el(
    "select",
    { name: "frequencyCapMode" },
    el("option", { value: "" }, "the deployment's cap"),
    el("option", { value: "custom" }, "this blast's own cap"),
    el("option", { value: "none" }, "no cap for this blast"),
  );
  const max = el("input", { type: "number", name: "frequencyCapMax", min: 1, step: 1, value: 1 });
  const hours = el("input", {
    type: "number",
    name: "frequencyCapHours",
    min: 1,
    step: 1,
    value: 24,
  });
  const custom = el(
    "span",
    { class: "frequency-cap-custom", hidden: true },
    el("label", { class: "inline" }, "at most", max, "message(s) to one number"),
    el("label", { class: "inline" }, "per", hours, "hour(s), over every blast"),
  );
  const node = el(
    "fieldset",
    { class: "frequency-cap" },
    el("legend", {}, "Frequency cap"),
    el("label", { class: "inline" }, mode),
    custom,
  );
  mode.addEventListener("change", () => {
    custom.hidden = mode.value !== "custom";
    onChange();
  });
  for (const input of [max, hours]) input.addEventListener("input", onChange);
  /** The cap chosen; undefined: the deployment's. A problem is thrown as its message. */
  const value = (): FrequencyCap | undefined => {
    if (mode.value === "none") return null;
    if (mode.value !== "custom") return undefined;
    const cap = { max: Number(max.value), periodHours: Number(hours.value) };
    if (
      !Number.isInteger(cap.max) ||
      cap.max < 1 ||
      !Number.isInteger(cap.periodHours) ||
      cap.periodHours < 1
    )
      throw new Error("The frequency cap needs whole numbers of at least 1.");
    return cap;
  };
  return {
    node,
    value,
    /** Sets `frequencyCap` as the JSON string a multipart form carries, or leaves it out. */
    fill(data: FormData): void {
      const cap = value();
      if (cap !== undefined) data.set("frequencyCap", JSON.stringify(cap));
    },
  };
}

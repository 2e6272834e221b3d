/// <reference lib="dom" />
// A drop zone for a recipients file (.xlsx or .csv) that also opens the file picker when clicked.
import { el } from "./elements.ts";

export interface FileDrop {
  readonly node: HTMLElement;
  file(): File | undefined;
  clear(): void;
  onChange(listener: () => void): void;
}

export function fileDrop(label: string): FileDrop {
  let chosen: File | undefined;
  const listeners: Array<() => void> = [];
  const input = el("input", {
    type: "file",
    accept: ".xlsx,.csv",
    class: "file-input",
    name: "recipientsFile",
  });
  const caption = el("span", { class: "file-caption" }, label);
  const zone = el("label", { class: "drop-zone", tabindex: 0 }, caption, input);
  const choose = (file: File | undefined) => {
    chosen = file;
    caption.textContent = file ? `${file.name} (${Math.ceil(file.size / 1024)} KB)` : label;
    zone.classList.toggle("has-file", file !== undefined);
    for (const listener of listeners) listener();
  };
  input.addEventListener("change", () => choose(input.files?.[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer?.files[0];
    if (file) choose(file);
  });
  return {
    node: zone,
    file: () => chosen,
    clear() {
      input.value = "";
      choose(undefined);
    },
    onChange: (listener) => listeners.push(listener),
  };
}

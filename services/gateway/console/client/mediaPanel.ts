/// <reference lib="dom" />
// The media library: files uploaded once and attached to any number of blasts by their id. The
// blast form lists the same files, so it is told whenever the library changes here.
import type { MediaItem } from "./apiTypes.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { api, messageOf } from "./gatewayApi.ts";

export const MEDIA_CHANGED = "wa-blast:media-changed";

export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** How a file is named in a list to pick from. */
export function mediaLabel(item: MediaItem): string {
  return `${item.fileName} (${item.kind}, ${sizeText(item.size)})`;
}

export function mediaPanel(): HTMLElement {
  const body = el("tbody");
  const table = el(
    "table",
    { class: "media-library" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}, "name"),
        el("th", {}, "kind"),
        el("th", {}, "size"),
        el("th", {}, "created"),
        el("th", {}),
      ),
    ),
    body,
  );
  const empty = el("p", { class: "empty", hidden: true }, "No files yet.");
  const message = notice();

  const changed = () => {
    document.dispatchEvent(new Event(MEDIA_CHANGED));
    void load();
  };
  const remove = (item: MediaItem) => {
    if (!confirm(`Delete ${item.fileName}? Blasts that already sent it are not affected.`)) return;
    message.clear();
    api(`/api/media/${encodeURIComponent(item.mediaId)}`, { method: "DELETE" })
      .then(changed)
      // A file a running or paused blast still sends is kept: the gateway's 409 says which.
      .catch((err: unknown) => message.show(messageOf(err)));
  };
  const row = (item: MediaItem) =>
    el(
      "tr",
      { "data-media": item.mediaId, "data-kind": item.kind },
      el("td", { class: "file-name" }, item.fileName),
      el("td", { class: "kind" }, item.kind),
      el("td", { class: "size", title: `${item.size} bytes` }, sizeText(item.size)),
      el("td", { class: "created" }, item.createdAt ? new Date(item.createdAt).toLocaleString() : ""),
      el(
        "td",
        {},
        el("button", { type: "button", class: "delete danger", onclick: () => remove(item) }, "Delete"),
      ),
    );
  const load = () =>
    api<{ items: MediaItem[] }>("/api/media")
      .then(({ items }) => {
        replaceChildren(body, ...items.map(row));
        empty.hidden = items.length > 0;
        table.hidden = items.length === 0;
      })
      .catch((err: unknown) => message.show(messageOf(err)));

  const file = el("input", { type: "file", name: "file", required: true });
  const send = el("button", { type: "submit" }, "Upload");
  const form = el(
    "form",
    { class: "card media-form" },
    el("h3", {}, "Add a file"),
    el(
      "label",
      {},
      "Image (JPEG, PNG, WebP), MP4 video, OGG/MP3 audio, PDF or any document, within WhatsApp's limits",
      file,
    ),
    el("div", { class: "actions" }, send),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return message.show("Choose a file first.");
    const data = new FormData();
    data.set("file", chosen, chosen.name);
    send.disabled = true;
    message.clear();
    api<MediaItem>("/api/media", { method: "POST", form: data })
      .then((added) => {
        message.show(`Added ${added.fileName} (${added.kind}, ${sizeText(added.size)}).`, "ok");
        file.value = "";
        changed();
      })
      .catch((err: unknown) => message.show(messageOf(err)))
      .finally(() => {
        send.disabled = false;
      });
  });
  void load();
  return el(
    "section",
    { id: "media", class: "panel" },
    el("h2", {}, "Media library"),
    el(
      "p",
      { class: "meta" },
      "Upload a file once and attach it to blasts from the blast form, by picking it from the library.",
    ),
    form,
    message.node,
    table,
    empty,
  );
}

/// <reference lib="dom" />
// Campaigns: saved recipient segments, created from a file, previewed a page at a time, deleted.
import type { Campaign, Page, RejectedRow } from "./apiTypes.ts";
import { CAMPAIGNS_CHANGED } from "./blastsPanel.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { fileDrop } from "./fileDrop.ts";
import { api, messageOf } from "./gatewayApi.ts";

const PREVIEW_ROWS = 10;

function campaignRow(campaign: Campaign, onDeleted: () => void): HTMLElement {
  const preview = el("div", { class: "campaign-preview" });
  const message = notice();
  const showPreview = () =>
    api<Page<Record<string, string>>>(
      `/api/campaigns/recipients?campaignId=${encodeURIComponent(campaign.campaignId)}&pageSize=${PREVIEW_ROWS}`,
    )
      .then(({ items, total }) => {
        const columns = ["phone", ...campaign.columns.filter((c) => c !== "phone")];
        replaceChildren(
          preview,
          el(
            "table",
            {},
            el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", {}, c)))),
            el(
              "tbody",
              {},
              ...items.map((r) => el("tr", {}, ...columns.map((c) => el("td", {}, r[c] ?? "")))),
            ),
          ),
          el("p", {}, `${items.length} of ${total} recipient(s)`),
        );
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  const remove = () => {
    if (!confirm(`Delete campaign "${campaign.name}"? Blasts already started keep their recipients.`)) return;
    api(`/api/campaigns/${encodeURIComponent(campaign.campaignId)}`, { method: "DELETE" })
      .then(onDeleted)
      .catch((err: unknown) => message.show(messageOf(err)));
  };
  return el(
    "article",
    { class: "card campaign", "data-campaign": campaign.campaignId },
    el(
      "header",
      {},
      el("h3", {}, campaign.name),
      el("span", { class: "status" }, `${campaign.total} recipients`),
    ),
    el("p", { class: "meta" }, `${campaign.campaignId} · columns: ${campaign.columns.join(", ")}`),
    el(
      "div",
      { class: "actions" },
      el(
        "button",
        { type: "button", class: "preview-campaign secondary", onclick: () => void showPreview() },
        "Preview",
      ),
      el("button", { type: "button", class: "delete danger", onclick: remove }, "Delete"),
    ),
    message.node,
    preview,
  );
}

export function campaignsPanel(): HTMLElement {
  const list = el("div", { class: "grid campaigns" });
  const message = notice();
  const load = () =>
    api<Page<Campaign>>("/api/campaigns?pageSize=200")
      .then(({ items }) => {
        replaceChildren(list, ...items.map((c) => campaignRow(c, changed)));
        if (items.length === 0) list.append(el("p", {}, "No campaigns yet."));
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  const changed = () => {
    document.dispatchEvent(new Event(CAMPAIGNS_CHANGED));
    void load();
  };

  const name = el("input", { name: "name", placeholder: "VIP customers", required: true, maxlength: 200 });
  const file = fileDrop("Drop the recipients .xlsx or .csv here, or click to choose");
  const form = el(
    "form",
    { class: "card campaign-form" },
    el("h3", {}, "New campaign"),
    el("label", {}, "Name", name),
    file.node,
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Create campaign")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = file.file();
    if (!chosen) return message.show("Choose a file first.");
    const data = new FormData();
    data.set("name", name.value);
    data.set("recipientsFile", chosen, chosen.name);
    api<Campaign & { duplicates: number; rejected: { count: number; sample: RejectedRow[] } }>(
      "/api/campaigns",
      {
        method: "POST",
        form: data,
      },
    )
      .then((created) => {
        message.show(
          `Saved ${created.total} recipient(s); ${created.duplicates} duplicate(s) merged, ${created.rejected.count} rejected.`,
          "ok",
        );
        name.value = "";
        file.clear();
        changed();
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  });
  void load();
  return el(
    "section",
    { id: "campaigns", class: "panel" },
    el("h2", {}, "Campaigns"),
    form,
    message.node,
    list,
  );
}

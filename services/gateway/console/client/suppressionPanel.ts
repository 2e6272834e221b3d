/// <reference lib="dom" />
// Suppression: the numbers no blast may send to, a page at a time, newest first; numbers added
// by hand with a reason or from an uploaded list, removed, and the whole list exported. Phones,
// reasons and the texts of keyword opt-outs come from people and files: shown as text.
import type { Page, RejectedRow, SuppressionChange, SuppressionEntry } from "./apiTypes.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { fileDrop } from "./fileDrop.ts";
import { api, messageOf, upload } from "./gatewayApi.ts";

const PAGE_SIZE = 50;
const SOURCE_LABELS: Record<SuppressionEntry["source"], string> = {
  keyword: "opt-out keyword",
  api: "added by hand",
  import: "imported list",
};

function rejectedRows(rejected: SuppressionChange["rejected"]): HTMLElement | undefined {
  if (rejected.count === 0) return undefined;
  const shown = rejected.sample;
  return el(
    "div",
    { class: "rejected" },
    el(
      "h4",
      {},
      `${rejected.count} rejected row(s)${shown.length < rejected.count ? `, the first ${shown.length}` : ""}`,
    ),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, el("th", {}, "row"), el("th", {}, "phone"), el("th", {}, "reason"))),
      el(
        "tbody",
        {},
        ...shown.map((r: RejectedRow) =>
          el("tr", {}, el("td", {}, `${r.source} ${r.row}`), el("td", {}, r.phone), el("td", {}, r.reason)),
        ),
      ),
    ),
  );
}

function changeSummary(change: SuppressionChange): string {
  return (
    `${change.added} number(s) added · ${change.alreadyListed} already listed · ` +
    `${change.duplicates} duplicate(s) · ${change.rejected.count} rejected`
  );
}

/** Why the entry is there, in a few words: the reason given, and the keyword's message. */
function whyListed(entry: SuppressionEntry): string {
  const parts = [entry.reason, entry.text !== undefined ? `“${entry.text}”` : undefined];
  if (entry.sessionId !== undefined) parts.push(`to ${entry.sessionId}`);
  return parts.filter((part) => part !== undefined && part !== "").join(" · ");
}

export function suppressionPanel(): HTMLElement {
  const message = notice();
  const outcome = el("div", { class: "suppression-outcome" });
  const list = el("div", { class: "suppression-list" });
  const pager = el("p", { class: "pager" });
  let page = 1;

  const showOutcome = (change: SuppressionChange) => {
    message.show(changeSummary(change), "ok");
    replaceChildren(outcome, rejectedRows(change.rejected));
  };
  const showError = (err: unknown) => {
    message.show(messageOf(err));
    replaceChildren(outcome);
  };

  const remove = (entry: SuppressionEntry) => {
    if (!confirm(`Take ${entry.phone} off the suppression list? Blasts may message it again.`)) return;
    api(`/api/suppression/${encodeURIComponent(entry.phone)}`, { method: "DELETE" })
      .then(() => {
        message.show(`${entry.phone} removed.`, "ok");
        replaceChildren(outcome);
        void load();
      })
      .catch(showError);
  };

  const entryRow = (entry: SuppressionEntry) =>
    el(
      "tr",
      { "data-phone": entry.phone },
      el("td", { class: "phone" }, entry.phone),
      el("td", { class: "source" }, SOURCE_LABELS[entry.source] ?? entry.source),
      el("td", { class: "reason" }, whyListed(entry)),
      el("td", { class: "when" }, new Date(entry.at).toLocaleString()),
      el(
        "td",
        {},
        el("button", { type: "button", class: "remove danger", onclick: () => remove(entry) }, "Remove"),
      ),
    );

  const load = (): Promise<void> =>
    api<Page<SuppressionEntry>>(`/api/suppression?page=${page}&pageSize=${PAGE_SIZE}`)
      .then(({ items, total }) => {
        const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
        // A removal can empty the last page: show the one before it.
        if (items.length === 0 && page > 1) {
          page = Math.min(page - 1, pages);
          return load();
        }
        replaceChildren(
          list,
          items.length === 0
            ? el("p", { class: "empty" }, "No number is on the list.")
            : el(
                "table",
                {},
                el(
                  "thead",
                  {},
                  el(
                    "tr",
                    {},
                    el("th", {}, "phone"),
                    el("th", {}, "source"),
                    el("th", {}, "reason"),
                    el("th", {}, "added"),
                    el("th", {}),
                  ),
                ),
                el("tbody", {}, ...items.map(entryRow)),
              ),
        );
        const turn = (to: number) => () => {
          page = to;
          void load();
        };
        replaceChildren(
          pager,
          el("span", { class: "total" }, `${total} number(s) · page ${page} of ${pages} `),
          el(
            "button",
            { type: "button", class: "secondary previous", disabled: page <= 1, onclick: turn(page - 1) },
            "Previous",
          ),
          " ",
          el(
            "button",
            { type: "button", class: "secondary next", disabled: page >= pages, onclick: turn(page + 1) },
            "Next",
          ),
        );
      })
      .catch(showError);

  const phones = el("textarea", {
    name: "phones",
    rows: 3,
    required: true,
    placeholder: "+1 202 555 0100, one or more numbers: a line or a comma between them",
  });
  const reason = el("input", { name: "reason", maxlength: 500, placeholder: "asked by phone" });
  const addForm = el(
    "form",
    { class: "card suppression-form" },
    el("h3", {}, "Add numbers"),
    el("label", {}, "Numbers", phones),
    el("label", {}, "Reason", reason),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Add to the list")),
  );
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const given = phones.value
      .split(/[\n,;]/)
      .map((phone) => phone.trim())
      .filter(Boolean);
    if (given.length === 0) return message.show("Type at least one number.");
    const reasonText = reason.value.trim();
    api<SuppressionChange>("/api/suppression", {
      method: "POST",
      json: { phones: given, ...(reasonText ? { reason: reasonText } : {}) },
    })
      .then((change) => {
        showOutcome(change);
        phones.value = "";
        reason.value = "";
        page = 1;
        void load();
      })
      .catch(showError);
  });

  const file = fileDrop(
    "Drop a list of numbers (.xlsx or .csv with a phone column) here, or click to choose",
  );
  const importForm = el(
    "form",
    { class: "card suppression-import" },
    el("h3", {}, "Import a list"),
    el(
      "p",
      { class: "meta" },
      "Every number of the file is added, or none when the file is refused; the file name is the reason.",
    ),
    file.node,
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Import")),
  );
  importForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = file.file();
    if (!chosen) return message.show("Choose a file first.");
    const data = new FormData();
    data.set("file", chosen, chosen.name);
    message.show(`Importing ${chosen.name}…`, "ok");
    upload<SuppressionChange>("/api/suppression/import", { form: data })
      .then((change) => {
        showOutcome(change);
        file.clear();
        page = 1;
        void load();
      })
      .catch(showError);
  });

  void load();
  return el(
    "section",
    { id: "suppression", class: "panel" },
    el("h2", {}, "Suppression"),
    el(
      "p",
      {},
      "Numbers on this list are never sent a blast: a blast being planned rejects them as suppressed, " +
        "and one already queued fails them as opted_out when their turn comes.",
    ),
    el("div", { class: "grid" }, addForm, importForm),
    el(
      "div",
      { class: "actions" },
      el(
        "a",
        { class: "button secondary export", href: "/api/suppression/export.csv", download: "" },
        "Export CSV",
      ),
    ),
    message.node,
    outcome,
    pager,
    list,
  );
}

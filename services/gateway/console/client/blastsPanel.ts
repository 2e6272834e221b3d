/// <reference lib="dom" />
// Blasts: a form that previews the first messages and the rejected rows before anything is sent,
// and the list of blasts with live progress, controls, failures and the results export.
import type {
  BlastPreview,
  BlastProgress,
  BlastProgressMessage,
  BlastSummary,
  Campaign,
  CreatedBlast,
  Page,
  RejectedRow,
  Session,
} from "./apiTypes.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { fileDrop } from "./fileDrop.ts";
import { api, messageOf } from "./gatewayApi.ts";
import { watchLive, type LiveSubscription } from "./liveSocket.ts";

export const CAMPAIGNS_CHANGED = "wa-blast:campaigns-changed";
const LIST_SIZE = 20;
const COUNTS = ["sent", "failed", "inDoubt", "delivered", "read", "pending"] as const;
const COUNT_LABELS: Record<(typeof COUNTS)[number], string> = {
  sent: "sent",
  failed: "failed",
  inDoubt: "in doubt",
  delivered: "delivered",
  read: "read",
  pending: "pending",
};

function rejectedTable(rows: RejectedRow[], count: number): HTMLElement {
  if (count === 0) return el("p", { class: "rejected-none" }, "No rejected rows.");
  return el(
    "div",
    { class: "rejected" },
    el("h4", {}, `${count} rejected row(s)${rows.length < count ? `, the first ${rows.length}` : ""}`),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, el("th", {}, "row"), el("th", {}, "phone"), el("th", {}, "reason"))),
      el(
        "tbody",
        {},
        ...rows.map((r) =>
          el("tr", {}, el("td", {}, `${r.source} ${r.row}`), el("td", {}, r.phone), el("td", {}, r.reason)),
        ),
      ),
    ),
  );
}

function blastForm(onCreated: (blastId: string) => void): HTMLElement {
  const session = el("select", { name: "sessionId", required: true });
  const campaign = el("select", { name: "campaignId" });
  const file = fileDrop("Drop an .xlsx or .csv here, or click to choose");
  const template = el("textarea", {
    name: "message",
    rows: 4,
    required: true,
    placeholder: "Hi {name}! Any column of the sheet in braces, {{ and }} for literal braces.",
  });
  const preview = el("div", { class: "preview" });
  const message = notice();
  const send = el("button", { type: "submit", class: "send", disabled: true }, "Send blast");
  // One key per previewed request: a double click or a retry after a timeout starts one blast.
  let idempotencyKey = "";

  const loadChoices = async () => {
    const [sessions, campaigns] = await Promise.all([
      api<Session[]>("/api/sessions"),
      api<Page<Campaign>>("/api/campaigns?pageSize=200"),
    ]);
    const chosenSession = session.value;
    const chosenCampaign = campaign.value;
    replaceChildren(
      session,
      ...sessions.map((s) => el("option", { value: s.sessionId }, `${s.sessionId} (${s.status})`)),
    );
    replaceChildren(
      campaign,
      el("option", { value: "" }, "no campaign: the uploaded file only"),
      ...campaigns.items.map((c) => el("option", { value: c.campaignId }, `${c.name} (${c.total})`)),
    );
    if (chosenSession) session.value = chosenSession;
    campaign.value = chosenCampaign;
  };
  document.addEventListener(CAMPAIGNS_CHANGED, () => void loadChoices());
  // Session states change while the page is open; show them as they are when the tab is picked.
  window.addEventListener("hashchange", () => {
    if (location.hash === "#blasts") void loadChoices();
  });

  const formData = () => {
    const data = new FormData();
    data.set("sessionId", session.value);
    data.set("message", template.value);
    if (campaign.value) data.set("campaignId", campaign.value);
    const chosen = file.file();
    if (chosen) data.set("recipientsFile", chosen, chosen.name);
    return data;
  };
  const invalidate = () => {
    send.disabled = true;
    idempotencyKey = "";
  };
  for (const input of [session, campaign, template]) input.addEventListener("input", invalidate);
  file.onChange(invalidate);

  const runPreview = () => {
    message.clear();
    api<BlastPreview>("/api/blasts/preview", { method: "POST", form: formData() })
      .then((result) => {
        replaceChildren(
          preview,
          el(
            "p",
            { class: "preview-summary" },
            `${result.total} message(s) will be sent · ${result.duplicates} duplicate(s) merged · ${result.rejected.count} rejected`,
          ),
          el(
            "ol",
            { class: "preview-messages" },
            ...result.messages.map((m) =>
              el("li", {}, el("span", { class: "phone" }, m.phone), el("q", {}, m.text)),
            ),
          ),
          rejectedTable(result.rejected.sample, result.rejected.count),
        );
        send.disabled = result.total === 0;
        idempotencyKey = crypto.randomUUID();
      })
      .catch((err: unknown) => {
        replaceChildren(preview);
        message.show(messageOf(err));
      });
  };

  const form = el(
    "form",
    { class: "card blast-form" },
    el("h3", {}, "New blast"),
    el("label", {}, "Session", session),
    el("label", {}, "Campaign", campaign),
    file.node,
    el("label", {}, "Message", template),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", class: "preview-button secondary", onclick: runPreview }, "Preview"),
      send,
    ),
    message.node,
    preview,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!idempotencyKey) return runPreview();
    send.disabled = true;
    api<CreatedBlast>("/api/blasts", {
      method: "POST",
      form: formData(),
      headers: { "idempotency-key": idempotencyKey },
    })
      .then((created) => {
        message.show(`Blast ${created.blastId} started: ${created.total} message(s) queued.`, "ok");
        replaceChildren(preview);
        file.clear();
        idempotencyKey = "";
        onCreated(created.blastId);
      })
      .catch((err: unknown) => {
        send.disabled = false;
        message.show(messageOf(err));
      });
  });
  void loadChoices().catch((err: unknown) => message.show(messageOf(err)));
  return form;
}

function blastCard(blast: BlastSummary): { node: HTMLElement; live?: LiveSubscription } {
  const card = el("article", { class: "card blast", "data-blast": blast.blastId });
  const bar = el("progress", { class: "progress", max: 1, value: 0 });
  const percent = el("span", { class: "percent" });
  const status = el("span", { class: "status" });
  const reason = el("p", { class: "reason" });
  const counts = el("dl", { class: "counts" });
  const countNodes = Object.fromEntries(
    COUNTS.map((c) => {
      const value = el("dd", { class: `count-${c}`, "data-count": c });
      counts.append(el("dt", {}, COUNT_LABELS[c]), value);
      return [c, value];
    }),
  ) as Record<(typeof COUNTS)[number], HTMLElement>;
  const controls = el("div", { class: "actions" });
  const failures = el("div", { class: "failures" });
  const message = notice();
  let live: LiveSubscription | undefined;

  const control = (change: "pause" | "resume" | "cancel") => () => {
    message.clear();
    api<BlastProgress>(`/api/blasts/${blast.blastId}/${change}`, { method: "POST" })
      .then(show)
      .catch((err: unknown) => message.show(messageOf(err)));
  };
  const loadFailures = () =>
    api<{ items: Array<{ idx: number; phone: string; reason: string }> }>(
      `/api/blasts/${blast.blastId}/failures`,
    )
      .then(({ items }) =>
        replaceChildren(
          failures,
          items.length === 0
            ? el("p", {}, "No failed recipients.")
            : el(
                "table",
                {},
                el(
                  "thead",
                  {},
                  el("tr", {}, el("th", {}, "#"), el("th", {}, "phone"), el("th", {}, "reason")),
                ),
                el(
                  "tbody",
                  {},
                  ...items.map((f) =>
                    el("tr", {}, el("td", {}, f.idx), el("td", {}, f.phone), el("td", {}, f.reason)),
                  ),
                ),
              ),
        ),
      )
      .catch((err: unknown) => message.show(messageOf(err)));

  function show(progress: BlastProgress & { reason?: string }) {
    const settled = progress.sent + progress.failed + progress.inDoubt;
    bar.max = Math.max(progress.total, 1);
    bar.value = settled;
    percent.textContent = `${progress.total ? Math.floor((settled / progress.total) * 100) : 0}%`;
    status.textContent = progress.status;
    card.dataset.status = progress.status;
    if (progress.reason !== undefined)
      reason.textContent = progress.status === "paused" ? progress.reason : "";
    for (const c of COUNTS) countNodes[c].textContent = String(progress[c]);
    const terminal = progress.status === "completed" || progress.status === "cancelled";
    replaceChildren(
      controls,
      progress.status === "running" &&
        el("button", { type: "button", class: "pause secondary", onclick: control("pause") }, "Pause"),
      progress.status === "paused" &&
        el("button", { type: "button", class: "resume", onclick: control("resume") }, "Resume"),
      !terminal &&
        el("button", { type: "button", class: "cancel danger", onclick: control("cancel") }, "Cancel"),
      el(
        "button",
        { type: "button", class: "show-failures secondary", onclick: () => void loadFailures() },
        "Failures",
      ),
      el(
        "a",
        { class: "button secondary export", href: `/api/blasts/${blast.blastId}/results.csv`, download: "" },
        "Export CSV",
      ),
    );
    if (terminal) live?.close();
  }

  replaceChildren(
    card,
    el("header", {}, el("h3", {}, blast.blastId), status),
    el(
      "p",
      { class: "meta" },
      `session ${blast.sessionId}${blast.campaignId ? ` · campaign ${blast.campaignId}` : ""} · ${new Date(blast.createdAt).toLocaleString()}`,
    ),
    el("blockquote", { class: "template" }, blast.template),
    el("div", { class: "bar" }, bar, percent),
    counts,
    reason,
    controls,
    message.node,
    failures,
  );
  show(blast);
  if (blast.status === "running" || blast.status === "paused") {
    live = watchLive(`blastId=${encodeURIComponent(blast.blastId)}`, (raw) => {
      const event = raw as BlastProgressMessage;
      if (event.type === "blast_progress") {
        show(event);
        // The socket carries counts, not the pause reason: read it when the status changes.
        if (event.status !== card.dataset.reasonFor) {
          card.dataset.reasonFor = event.status;
          void api<BlastSummary>(`/api/blasts/${blast.blastId}`).then((s) => {
            reason.textContent = s.status === "paused" ? s.reason : "";
          });
        }
      }
    });
  }
  return { node: card, ...(live ? { live } : {}) };
}

const LIST_RETRIES = 40;
const LIST_RETRY_MS = 250;

export function blastsPanel(): HTMLElement {
  const list = el("div", { class: "blast-list" });
  const message = notice();
  let live: LiveSubscription[] = [];
  const load = (expected?: string, attempt = 1): Promise<void> =>
    api<Page<BlastSummary>>(`/api/blasts?pageSize=${LIST_SIZE}`)
      .then(({ items }) => {
        // The list is the projection, which follows the event log a moment behind the 202: keep
        // asking until the blast just started is in it.
        if (expected && !items.some((b) => b.blastId === expected) && attempt < LIST_RETRIES) {
          setTimeout(() => void load(expected, attempt + 1), LIST_RETRY_MS);
        }
        for (const l of live) l.close();
        const cards = items.map(blastCard);
        live = cards.flatMap((c) => (c.live ? [c.live] : []));
        replaceChildren(list, ...cards.map((c) => c.node));
        if (items.length === 0) list.append(el("p", {}, "No blasts yet."));
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  void load();
  return el(
    "section",
    { id: "blasts", class: "panel" },
    el("h2", {}, "Blasts"),
    blastForm((blastId) => void load(blastId)),
    el("h3", {}, "Recent blasts"),
    message.node,
    list,
  );
}

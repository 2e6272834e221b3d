/// <reference lib="dom" />
// Blasts: a form that previews the first messages and the rejected rows before anything is sent,
// and the list of blasts with live progress, controls, failures and the results export. A blast is
// sent from a pool of accounts; each card shows every account's share and why one is paused, and
// the latest replies people sent (their text is shown as text, like every cell here). The preview
// can send its first message to a few numbers as a test, which is no blast and counts nowhere.
// A blast may also be scheduled or saved as a draft: its card counts down to its start, and until
// then it can be started at once, edited or cancelled.
import type {
  AccountProgress,
  BlastPreview,
  BlastProgress,
  BlastProgressMessage,
  BlastReply,
  BlastStatus,
  BlastSummary,
  Campaign,
  CreatedBlast,
  MediaItem,
  Page,
  RejectedRow,
  Session,
  TestSent,
} from "./apiTypes.ts";
import { frequencyCapControl, mediaPicker } from "./blastOptions.ts";
import { blastEditor, scheduleInfo, whenChooser } from "./blastSchedule.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { fileDrop } from "./fileDrop.ts";
import { api, messageOf, upload } from "./gatewayApi.ts";
import { importProgress } from "./importProgress.ts";
import { MEDIA_CHANGED, mediaLabel } from "./mediaPanel.ts";
import { variantList, variantShares } from "./messageVariants.ts";
import { watchLive, type LiveSubscription } from "./liveSocket.ts";
import { poolChooser } from "./poolChooser.ts";
import { viewerZone, zoneTimeText } from "./scheduleTime.ts";

export const CAMPAIGNS_CHANGED = "wa-blast:campaigns-changed";
const LIST_SIZE = 20;
/** Replies a card lists: the newest; every reply is in the results export. */
const REPLIES_SHOWN = 20;
const COUNTS = ["sent", "failed", "inDoubt", "delivered", "read", "replied", "pending"] as const;
const COUNT_LABELS: Record<(typeof COUNTS)[number], string> = {
  sent: "sent",
  failed: "failed",
  inDoubt: "in doubt",
  delivered: "delivered",
  read: "read",
  replied: "replied",
  pending: "pending",
};
const ACCOUNT_COUNTS = ["sent", "failed", "inDoubt"] as const;

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
  const campaign = el("select", { name: "campaignId" });
  const file = fileDrop("Drop an .xlsx or .csv here, or click to choose");
  const template = el("textarea", {
    name: "message",
    rows: 4,
    required: true,
    placeholder: "Hi {name}! Any column of the sheet in braces, {{ and }} for literal braces.",
  });
  // Told apart by the gateway from its bytes; the message becomes its caption (none for audio).
  const attachment = el("input", {
    type: "file",
    name: "media",
    accept: "image/jpeg,image/png,image/webp,video/mp4,audio/ogg,audio/mpeg,application/pdf,*/*",
  });
  const preview = el("div", { class: "preview" });
  const progress = importProgress();
  const message = notice();
  const send = el("button", { type: "submit", class: "send", disabled: true }, "Send blast");
  // One key per previewed request: a double click or a retry after a timeout starts one blast.
  let idempotencyKey = "";
  const invalidate = () => {
    send.disabled = true;
    idempotencyKey = "";
  };
  const pool = poolChooser(invalidate);
  const variants = variantList(template, invalidate);
  const library = mediaPicker("mediaId", "none: upload one below, or send text only");
  const cap = frequencyCapControl(invalidate);
  // When is not part of what a preview checks: a new choice needs a new key, not a new preview.
  const when = whenChooser(() => {
    if (idempotencyKey) idempotencyKey = crypto.randomUUID();
    send.textContent = { now: "Send blast", schedule: "Schedule blast", draft: "Save draft" }[when.mode()];
  });
  /** An attachment makes the message its caption, which may be left empty. */
  const captionOnly = () => {
    template.required = !attachment.files?.length && library.chosen() === "";
  };

  const loadChoices = async () => {
    const [sessions, campaigns, media] = await Promise.all([
      api<Session[]>("/api/sessions"),
      api<Page<Campaign>>("/api/campaigns?pageSize=200"),
      api<{ items: MediaItem[] }>("/api/media"),
    ]);
    const chosenCampaign = campaign.value;
    if (pool.show(sessions)) invalidate();
    const chosenMedia = library.chosen();
    library.show(media.items);
    if (library.chosen() !== chosenMedia) {
      invalidate();
      captionOnly();
    }
    replaceChildren(
      campaign,
      el("option", { value: "" }, "no campaign: the uploaded file only"),
      ...campaigns.items.map((c) => el("option", { value: c.campaignId }, `${c.name} (${c.total})`)),
    );
    campaign.value = chosenCampaign;
  };
  document.addEventListener(CAMPAIGNS_CHANGED, () => void loadChoices());
  document.addEventListener(MEDIA_CHANGED, () => void loadChoices());
  // Session states change while the page is open; show them as they are when the tab is picked.
  window.addEventListener("hashchange", () => {
    if (location.hash === "#blasts") void loadChoices();
  });

  const formData = () => {
    const data = new FormData();
    // One field with commas, not the field repeated: a form may carry 20 fields, a pool 100 ids.
    data.set("sessionIds", pool.chosen().join(","));
    variants.fill(data);
    if (campaign.value) data.set("campaignId", campaign.value);
    const chosen = file.file();
    if (chosen) data.set("recipientsFile", chosen, chosen.name);
    const media = attachment.files?.[0];
    if (media) data.set("media", media, media.name);
    else if (library.chosen()) data.set("mediaId", library.chosen());
    // An attachment may go without a caption (audio must).
    if ((media || library.chosen()) && data.get("message") === "") data.delete("message");
    cap.fill(data);
    return data;
  };
  for (const input of [campaign, template]) input.addEventListener("input", invalidate);
  // One attachment or the other: the gateway refuses both.
  attachment.addEventListener("change", () => {
    if (attachment.files?.length) library.node.value = "";
    captionOnly();
    invalidate();
  });
  library.node.addEventListener("change", () => {
    if (library.chosen()) attachment.value = "";
    captionOnly();
    invalidate();
  });
  file.onChange(() => {
    invalidate();
    progress.clear();
  });

  /** Posts the form; an uploaded file is named, so its progress shows while it is read. */
  const post = <T>(path: string, headers: Record<string, string> = {}, form = formData()): Promise<T> => {
    const chosen = file.file();
    if (!chosen) {
      progress.clear();
      return api<T>(path, { method: "POST", form, headers });
    }
    return progress.follow(chosen, (importId, onUpload) =>
      upload<T>(path, { form, headers: { ...headers, "import-id": importId }, onUpload }),
    );
  };

  const runPreview = () => {
    message.clear();
    if (pool.chosen().length === 0) {
      replaceChildren(preview);
      message.show("Choose at least one account to send from.");
      return;
    }
    Promise.resolve()
      .then(() => post<BlastPreview>("/api/blasts/preview"))
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
          variantShares(result),
          rejectedTable(result.rejected.sample, result.rejected.count),
          testSendForm(pool.chosen(), formData),
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
    pool.node,
    el("label", {}, "Campaign", campaign),
    file.node,
    el("label", {}, "Message", template),
    el("label", {}, "Attachment from the media library", library.node),
    el(
      "label",
      {},
      "Or upload an attachment (optional: image, MP4 video, PDF or any document, OGG/MP3 audio)",
      attachment,
    ),
    variants.node,
    cap.node,
    when.node,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", class: "preview-button secondary", onclick: runPreview }, "Preview"),
      send,
    ),
    progress.node,
    message.node,
    preview,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!idempotencyKey) return runPreview();
    message.clear();
    let data: FormData;
    try {
      data = formData();
      // Only the start takes the time: the preview and the test send are the same whatever it is.
      when.fill(data);
    } catch (err) {
      message.show(messageOf(err));
      return;
    }
    send.disabled = true;
    post<CreatedBlast>("/api/blasts", { "idempotency-key": idempotencyKey }, data)
      .then((created) => {
        message.show(createdText(created), "ok");
        replaceChildren(preview);
        file.clear();
        attachment.value = "";
        library.node.value = "";
        template.required = true;
        when.reset();
        send.textContent = "Send blast";
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

function createdText(created: CreatedBlast): string {
  if (created.status === "scheduled" && created.scheduledFor) {
    return `Blast ${created.blastId} scheduled for ${zoneTimeText(created.scheduledFor, viewerZone())}: ${created.total} message(s).`;
  }
  if (created.status === "draft")
    return `Blast ${created.blastId} saved as a draft: ${created.total} message(s).`;
  return `Blast ${created.blastId} started: ${created.total} message(s) queued.`;
}

/** Most numbers a test goes to, as the API allows (services/gateway/blasts/testSend.ts). */
const MAX_TEST_RECIPIENTS = 5;

/**
 * Under a preview: the first message, sent now to a few numbers from one of the pool's accounts,
 * so the team sees it on a phone before the blast starts. The form is read again when clicked.
 */
function testSendForm(accounts: readonly string[], formData: () => FormData): HTMLElement {
  const numbers = el("input", {
    type: "text",
    name: "testTo",
    placeholder: `up to ${MAX_TEST_RECIPIENTS} numbers, separated by commas`,
  });
  const account = el(
    "select",
    { name: "testSession" },
    ...accounts.map((id) => el("option", { value: id }, id)),
  );
  const result = notice();
  // Not a `.notice`: the form's own notice is the one that says a blast started.
  result.node.className = "test-send-result";
  const button = el("button", { type: "button", class: "test-send-button secondary" }, "Send a test");
  button.addEventListener("click", () => {
    result.clear();
    const to = numbers.value
      .split(/[,;\n]/)
      .map((n) => n.trim())
      .filter((n) => n !== "");
    if (to.length === 0 || to.length > MAX_TEST_RECIPIENTS) {
      result.show(`Give 1 to ${MAX_TEST_RECIPIENTS} numbers to send the test to.`);
      return;
    }
    const form = formData();
    form.set("to", to.join(","));
    form.set("sessionId", account.value);
    button.disabled = true;
    api<TestSent>("/api/blasts/test-send", { method: "POST", form })
      .then((sent) => {
        const variant = sent.variant !== undefined ? ` (variant ${sent.variant})` : "";
        result.show(
          `Test sent from ${sent.sessionId} to ${sent.sent.map((s) => s.to).join(", ")}${variant}: “${sent.text}”`,
          "ok",
        );
      })
      .catch((err: unknown) => result.show(messageOf(err)))
      .finally(() => {
        button.disabled = false;
      });
  });
  return el(
    "div",
    { class: "test-send" },
    el("label", {}, "Send a test to", numbers),
    accounts.length > 1 ? el("label", {}, "from", account) : null,
    button,
    result.node,
  );
}

/** What a card shows: an answer of the API, or a socket message (which may lack the pool's figures). */
type BlastUpdate = Omit<BlastProgressMessage, "type"> & { reason?: string };

const NO_OUTCOMES: AccountProgress = { sent: 0, failed: 0, inDoubt: 0 };

interface AccountRow {
  readonly row: HTMLElement;
  readonly cells: Record<(typeof ACCOUNT_COUNTS)[number], HTMLElement>;
  readonly state: HTMLElement;
  readonly action: HTMLElement;
  resumable: boolean;
}

/** The pool of one blast: each account's outcomes, and a paused account's reason and resume. */
function accountsTable(onResume: (sessionId: string) => void) {
  const body = el("tbody");
  const node = el(
    "table",
    { class: "accounts" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}, "account"),
        ...ACCOUNT_COUNTS.map((c) => el("th", {}, COUNT_LABELS[c])),
        el("th", {}, "state"),
        el("th", {}),
      ),
    ),
    body,
  );
  const rows = new Map<string, AccountRow>();
  const rowFor = (sessionId: string) => {
    const known = rows.get(sessionId);
    if (known) return known;
    const cell = (c: (typeof ACCOUNT_COUNTS)[number]) => el("td", { class: "count", "data-field": c });
    const cells = { sent: cell("sent"), failed: cell("failed"), inDoubt: cell("inDoubt") };
    const state = el("td", { class: "account-state", "data-field": "state" });
    const action = el("td", { class: "account-action" });
    const row = el(
      "tr",
      { "data-account": sessionId },
      el("th", { scope: "row" }, sessionId),
      ...ACCOUNT_COUNTS.map((c) => cells[c]),
      state,
      action,
    );
    body.append(row);
    const made: AccountRow = { row, cells, state, action, resumable: false };
    rows.set(sessionId, made);
    return made;
  };
  return {
    node,
    show(progress: Pick<BlastProgress, "sessionIds" | "bySession"> & { status: BlastStatus }) {
      const terminal = progress.status === "completed" || progress.status === "cancelled";
      for (const sessionId of progress.sessionIds) {
        const r = rowFor(sessionId);
        const figures = progress.bySession[sessionId] ?? NO_OUTCOMES;
        for (const c of ACCOUNT_COUNTS) r.cells[c].textContent = String(figures[c]);
        const { paused } = figures;
        if (paused !== undefined) r.row.dataset.paused = "";
        else delete r.row.dataset.paused;
        r.state.textContent =
          paused !== undefined
            ? `paused: ${paused}`
            : terminal
              ? "finished"
              : progress.status === "paused"
                ? "waiting for the blast to resume"
                : "taking work";
        // The button is replaced only when it appears or goes, so live updates never pull it
        // from under a click.
        const resumable = paused !== undefined && !terminal;
        if (resumable !== r.resumable) {
          r.resumable = resumable;
          replaceChildren(
            r.action,
            resumable &&
              el(
                "button",
                { type: "button", class: "resume-account secondary", onclick: () => onResume(sessionId) },
                "Resume account",
              ),
          );
        }
      }
    },
  };
}

function poolText(sessionIds: readonly string[]): string {
  return sessionIds.length === 1
    ? `session ${sessionIds[0] ?? ""}`
    : `pool of ${sessionIds.length}: ${sessionIds.join(", ")}`;
}

function isTerminal(status: string | undefined): boolean {
  return status === "completed" || status === "cancelled";
}

/** Scheduled or a draft: nothing queued yet, and it can still be edited or started at once. */
function notStarted(status: BlastStatus): boolean {
  return status === "scheduled" || status === "draft";
}

/** What the blast sends: its message or variants, and its attachment. */
function planOf(blast: BlastSummary): HTMLElement {
  const variants = blast.variants && blast.variants.length > 1 ? blast.variants : undefined;
  return el(
    "div",
    { class: "plan" },
    variants
      ? el(
          "ol",
          { class: "template-variants" },
          ...variants.map((v) =>
            el(
              "li",
              { class: "template-variant" },
              el("blockquote", { class: "template" }, v.text),
              el("span", { class: "meta" }, `weight ${v.weight ?? 1}`),
            ),
          ),
        )
      : el("blockquote", { class: "template" }, blast.template),
    blast.media
      ? el(
          "p",
          { class: "blast-media meta", "data-media": blast.media.mediaId },
          `Attachment: ${mediaLabel(blast.media)}`,
        )
      : null,
  );
}

function blastCard(blast: BlastSummary): { node: HTMLElement; live: LiveSubscription } {
  const card = el("article", { class: "card blast", "data-blast": blast.blastId });
  const bar = el("progress", { class: "progress", max: 1, value: 0 });
  const percent = el("span", { class: "percent" });
  const barNode = el("div", { class: "bar" }, bar, percent);
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
  const meta = el("p", { class: "meta" });
  const plan = el("div", { class: "plan-holder" });
  const schedule = el("div", { class: "schedule-holder" });
  const controls = el("div", { class: "actions" });
  const editor = el("div", { class: "editor-holder" });
  const failures = el("div", { class: "failures" });
  const replies = el("div", { class: "replies" });
  const message = notice();
  let socket: LiveSubscription | undefined;
  let countdown: number | undefined;
  let summary = blast;

  const control = (change: "pause" | "resume" | "cancel" | "start") => () => {
    message.clear();
    api<BlastUpdate>(`/api/blasts/${blast.blastId}/${change}`, { method: "POST" })
      .then((answer) => {
        show(answer);
        // A started blast's summary says when it was due; a cancelled one's no longer counts down.
        void refreshPlan();
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  };
  const accounts = accountsTable((sessionId) => {
    message.clear();
    api<BlastProgress>(`/api/blasts/${blast.blastId}/resume?sessionId=${encodeURIComponent(sessionId)}`, {
      method: "POST",
    })
      .then(show)
      .catch((err: unknown) => message.show(messageOf(err)));
  });
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

  const loadReplies = () =>
    api<Page<BlastReply>>(`/api/blasts/${blast.blastId}/replies?pageSize=${REPLIES_SHOWN}`)
      .then(({ items, total }) => {
        // Replies keep coming after a blast finished and its socket closed: the count follows the list.
        countNodes.replied.textContent = String(total);
        replaceChildren(
          replies,
          items.length === 0
            ? el("p", {}, "No replies yet.")
            : el(
                "table",
                {},
                el(
                  "caption",
                  {},
                  items.length < total ? `The latest ${items.length} of ${total} replies` : "Replies",
                ),
                el(
                  "thead",
                  {},
                  el("tr", {}, el("th", {}, "phone"), el("th", {}, "when"), el("th", {}, "reply")),
                ),
                el(
                  "tbody",
                  {},
                  ...items.map((r) =>
                    el(
                      "tr",
                      { "data-reply": r.idx },
                      el("td", { class: "phone" }, r.phone),
                      el("td", { class: "when" }, new Date(r.at).toLocaleString()),
                      el("td", { class: "reply-text" }, r.text),
                    ),
                  ),
                ),
              ),
        );
      })
      .catch((err: unknown) => message.show(messageOf(err)));

  const openEditor = () => {
    message.clear();
    replaceChildren(
      editor,
      blastEditor(
        summary,
        (saved) => {
          replaceChildren(editor);
          message.show("Saved.", "ok");
          drawPlan(saved);
          show(saved);
          // A new time keeps the status: the countdown is drawn again for it.
          drawSchedule(saved.status);
        },
        () => replaceChildren(editor),
      ),
    );
  };

  /** The blast's settings, which change only when it is edited or starts. */
  function drawPlan(next: BlastSummary) {
    summary = next;
    const pool = next.sessionIds.length > 0 ? next.sessionIds : [next.sessionId];
    meta.textContent = `${poolText(pool)}${next.campaignId ? ` · campaign ${next.campaignId}` : ""} · ${new Date(next.createdAt).toLocaleString()}`;
    replaceChildren(plan, planOf(next));
  }

  /** The countdown of a scheduled blast, ticking every second while it is one. */
  function drawSchedule(current: BlastStatus) {
    window.clearInterval(countdown);
    countdown = undefined;
    const info = scheduleInfo({ ...summary, status: current });
    replaceChildren(schedule, notStarted(current) ? info.node : null);
    if (current === "scheduled") countdown = window.setInterval(info.tick, 1000);
  }

  const refreshPlan = () =>
    api<BlastSummary>(`/api/blasts/${blast.blastId}`)
      .then((next) => {
        drawPlan(next);
        show(next);
        drawSchedule(card.dataset.status as BlastStatus);
        reason.textContent = next.status === "paused" ? next.reason : "";
      })
      .catch((err: unknown) => message.show(messageOf(err)));

  function show(progress: BlastUpdate) {
    // An answer can arrive after the socket told the end (a blast started now may finish before
    // its start's answer is read): a finished blast never shows as running again.
    if (isTerminal(card.dataset.status) && !isTerminal(progress.status)) return;
    const settled = progress.sent + progress.failed + progress.inDoubt;
    const waiting = notStarted(progress.status);
    const changed = card.dataset.status !== progress.status;
    bar.max = Math.max(progress.total, 1);
    bar.value = settled;
    percent.textContent = `${progress.total ? Math.floor((settled / progress.total) * 100) : 0}%`;
    status.textContent = progress.status;
    card.dataset.status = progress.status;
    // Before its start a blast has recipients and no outcomes: the countdown stands for the bar.
    barNode.hidden = waiting;
    counts.hidden = waiting;
    accounts.node.hidden = waiting;
    if (progress.reason !== undefined)
      reason.textContent = progress.status === "paused" ? progress.reason : "";
    for (const c of COUNTS) countNodes[c].textContent = String(progress[c]);
    const { sessionIds, bySession } = progress;
    if (sessionIds && bySession) accounts.show({ ...progress, sessionIds, bySession });
    const terminal = isTerminal(progress.status);
    if (changed) {
      drawSchedule(progress.status);
      // An edit in progress can no longer be saved (the gateway would refuse it): say why it went.
      if (!waiting && editor.hasChildNodes()) {
        replaceChildren(editor);
        message.show(`The blast is ${progress.status} now: it can no longer be edited.`);
      }
    }
    replaceChildren(
      controls,
      waiting && el("button", { type: "button", class: "start-now", onclick: control("start") }, "Start now"),
      waiting && el("button", { type: "button", class: "edit secondary", onclick: openEditor }, "Edit"),
      progress.status === "running" &&
        el("button", { type: "button", class: "pause secondary", onclick: control("pause") }, "Pause"),
      progress.status === "paused" &&
        el("button", { type: "button", class: "resume", onclick: control("resume") }, "Resume"),
      !terminal &&
        el("button", { type: "button", class: "cancel danger", onclick: control("cancel") }, "Cancel"),
      !waiting &&
        el(
          "button",
          { type: "button", class: "show-failures secondary", onclick: () => void loadFailures() },
          "Failures",
        ),
      !waiting &&
        el(
          "button",
          { type: "button", class: "show-replies secondary", onclick: () => void loadReplies() },
          "Replies",
        ),
      !waiting &&
        el(
          "a",
          {
            class: "button secondary export",
            href: `/api/blasts/${blast.blastId}/results.csv`,
            download: "",
          },
          "Export CSV",
        ),
    );
    if (terminal) socket?.close();
  }

  replaceChildren(
    card,
    el("header", {}, el("h3", {}, blast.blastId), status),
    meta,
    plan,
    schedule,
    barNode,
    counts,
    reason,
    accounts.node,
    controls,
    message.node,
    editor,
    failures,
    replies,
  );
  drawPlan(blast);
  show(blast);
  // A scheduled blast is followed too: the socket tells when it starts, and its progress after.
  if (!isTerminal(blast.status)) {
    card.dataset.reasonFor = blast.status;
    socket = watchLive(`blastId=${encodeURIComponent(blast.blastId)}`, (raw) => {
      const event = raw as BlastProgressMessage;
      if (event.type === "blast_progress") {
        show(event);
        // The socket carries counts, not the pause reason nor the plan: read them when the status changes.
        if (event.status !== card.dataset.reasonFor) {
          card.dataset.reasonFor = event.status;
          void refreshPlan();
        }
      }
    });
  }
  return {
    node: card,
    live: {
      close() {
        window.clearInterval(countdown);
        socket?.close();
      },
    },
  };
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
        live = cards.map((c) => c.live);
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

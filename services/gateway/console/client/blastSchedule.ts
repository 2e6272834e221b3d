/// <reference lib="dom" />
// Blasts that have not started: the form's choice of when a blast goes out (now, at a time in a
// zone, or saved as a draft), the countdown of a scheduled blast, and the editor of one not yet
// started. Times go to the API as a wall clock with its zone, as the person typed them, so the
// gateway (not the browser) works out the instant, daylight saving included.
import type { BlastSummary, MediaItem, MessageVariant, Session } from "./apiTypes.ts";
import { mediaPicker } from "./blastOptions.ts";
import { el, notice } from "./elements.ts";
import { api, messageOf } from "./gatewayApi.ts";
import { variantList } from "./messageVariants.ts";
import { poolChooser } from "./poolChooser.ts";
import { countdownText, viewerZone, wallClock, zoneSelect, zoneTimeText } from "./scheduleTime.ts";

export type When = "now" | "schedule" | "draft";

/** The next full hour, as a default start a person then adjusts. */
function nextHour(timeZone: string): string {
  const soon = new Date(Date.now() + 60 * 60 * 1000);
  return `${wallClock(soon, timeZone).slice(0, 13)}:00`;
}

/** A datetime-local input and a zone select: a start as the person means it. */
function startTime(name: string, zoneName: string, initial?: { sendAt: string; timeZone: string }) {
  const zone = zoneSelect(zoneName, initial?.timeZone);
  const at = el("input", { type: "datetime-local", name, step: 60 });
  if (initial) at.value = initial.sendAt;
  const node = el(
    "span",
    { class: "start-time" },
    el("label", { class: "inline" }, "at", at),
    el("label", { class: "inline" }, "in", zone),
  );
  return {
    node,
    at,
    zone,
    /** Fills an empty time with a default, when the choice to schedule is made. */
    prefill() {
      if (!at.value) at.value = nextHour(zone.value);
    },
  };
}

/** The form's "When": send now, schedule, or save as a draft. */
export function whenChooser(onChange: () => void) {
  const radio = (value: When, text: string) =>
    el(
      "label",
      { class: "inline" },
      el("input", { type: "radio", name: "when", value, checked: value === "now" }),
      text,
    );
  const time = startTime("sendAt", "timeZone");
  time.node.hidden = true;
  const node = el(
    "fieldset",
    { class: "when" },
    el("legend", {}, "When"),
    radio("now", "Send now"),
    radio("schedule", "Schedule"),
    time.node,
    radio("draft", "Save as draft"),
  );
  const mode = (): When =>
    (node.querySelector<HTMLInputElement>("input[name=when]:checked")?.value as When | undefined) ?? "now";
  node.addEventListener("change", (event) => {
    if ((event.target as HTMLInputElement).name === "when") {
      time.node.hidden = mode() !== "schedule";
      if (mode() === "schedule") time.prefill();
    }
    onChange();
  });
  return {
    node,
    mode,
    /** Adds the choice to a blast's form; a problem is thrown as its message. */
    fill(data: FormData): void {
      const when = mode();
      if (when === "draft") data.set("draft", "true");
      if (when !== "schedule") return;
      if (!time.at.value) throw new Error("Choose the date and time to send the blast at.");
      data.set("sendAt", time.at.value);
      data.set("timeZone", time.zone.value);
    },
    reset() {
      const now = node.querySelector<HTMLInputElement>("input[name=when][value=now]");
      if (now) now.checked = true;
      time.node.hidden = true;
      time.at.value = "";
    },
  };
}

/**
 * A scheduled blast's start: the countdown, the time in the viewer's zone, and in the blast's own
 * zone when that is another. `tick` redraws the countdown; a draft says it waits for someone.
 */
export function scheduleInfo(blast: Pick<BlastSummary, "status" | "scheduledFor" | "timeZone">): {
  node: HTMLElement;
  tick(): void;
} {
  if (blast.status === "draft") {
    return {
      node: el("p", { class: "schedule draft" }, "Draft: not scheduled; starts when you start it."),
      tick() {},
    };
  }
  const { scheduledFor } = blast;
  if (blast.status !== "scheduled" || !scheduledFor)
    return { node: el("p", { class: "schedule" }), tick() {} };
  const viewer = viewerZone();
  const countdown = el("span", { class: "countdown" });
  const own = blast.timeZone;
  const node = el(
    "p",
    { class: "schedule", "data-scheduled-for": scheduledFor },
    countdown,
    " · at ",
    el("time", { class: "local-time", datetime: scheduledFor }, zoneTimeText(scheduledFor, viewer)),
    own && own !== viewer
      ? el("span", { class: "blast-zone-time" }, ` (${zoneTimeText(scheduledFor, own)})`)
      : null,
  );
  const tick = () => {
    const left = new Date(scheduledFor).getTime() - Date.now();
    // Past its time the blast is being started: the socket says when it runs.
    countdown.textContent = left > 0 ? `starts in ${countdownText(left)}` : "starting…";
  };
  tick();
  return { node, tick };
}

/** The variants of a blast as the editor starts from them: its list, else its one message. */
function variantsOf(blast: BlastSummary): MessageVariant[] {
  return blast.variants && blast.variants.length > 0 ? blast.variants : [{ text: blast.template }];
}

/** The PATCH body of an edit: only what the editor shows, and a start only when it was changed. */
export interface BlastEdit {
  message?: string;
  variants?: Array<{ text: string; weight: number }>;
  mediaId?: string | null;
  sessionIds?: string[];
  sendAt?: string;
  timeZone?: string;
  draft?: true;
}

/** Whether a summary shows an edit: a summary read a moment too early still has the old plan. */
function reflects(edit: BlastEdit, summary: BlastSummary): boolean {
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  if (edit.message !== undefined && summary.template !== edit.message) return false;
  if (
    edit.variants &&
    !same(
      edit.variants.map((v) => v.text),
      (summary.variants ?? []).map((v) => v.text),
    )
  )
    return false;
  if (edit.mediaId !== undefined && (summary.media?.mediaId ?? null) !== edit.mediaId) return false;
  if (edit.sessionIds && !same(edit.sessionIds, summary.sessionIds)) return false;
  if (edit.draft && summary.status !== "draft") return false;
  return edit.sendAt === undefined || summary.status !== "draft";
}

const CATCH_UP_TRIES = 20;
const CATCH_UP_MS = 250;

/**
 * The blast as the edit left it. The gateway answers from the projection, which follows the event
 * log a moment behind; until it shows the edit, the summary is read again, as the list does.
 */
async function caughtUp(path: string, edit: BlastEdit, answer: BlastSummary): Promise<BlastSummary> {
  let summary = answer;
  for (let tries = 0; !reflects(edit, summary) && tries < CATCH_UP_TRIES; tries++) {
    await new Promise((resolve) => setTimeout(resolve, CATCH_UP_MS));
    summary = await api<BlastSummary>(path);
  }
  return summary;
}

/**
 * The editor of a blast not yet started: its text (and variants), its attachment, its pool, and
 * when it starts (or that it is a draft). Saved with PATCH; a 409 means it started meanwhile.
 */
export function blastEditor(
  blast: BlastSummary,
  onSaved: (summary: BlastSummary) => void,
  onClose: () => void,
): HTMLElement {
  const message = el("textarea", { name: "message", rows: 3 });
  const variants = variantList(message, () => {});
  variants.set(variantsOf(blast));
  const media = mediaPicker("mediaId", "no attachment");
  const pool = poolChooser(() => {}, blast.sessionIds.length > 0 ? blast.sessionIds : [blast.sessionId]);
  const ownZone = blast.timeZone ?? viewerZone();
  const initialStart = blast.scheduledFor
    ? { sendAt: wallClock(blast.scheduledFor, ownZone), timeZone: ownZone }
    : undefined;
  const time = startTime("editSendAt", "editTimeZone", initialStart);
  const initialWhen = blast.status === "draft" ? "draft" : "schedule";
  const whenRadio = (value: "schedule" | "draft", text: string) =>
    el(
      "label",
      { class: "inline" },
      el("input", {
        type: "radio",
        name: `editWhen-${blast.blastId}`,
        value,
        checked: value === initialWhen,
      }),
      text,
    );
  const whenNode = el(
    "fieldset",
    { class: "when" },
    el("legend", {}, "When"),
    whenRadio("schedule", "Scheduled"),
    time.node,
    whenRadio("draft", "Draft (not scheduled)"),
  );
  const when = () =>
    whenNode.querySelector<HTMLInputElement>(`input[name="editWhen-${blast.blastId}"]:checked`)?.value ??
    initialWhen;
  time.node.hidden = initialWhen !== "schedule";
  whenNode.addEventListener("change", () => {
    time.node.hidden = when() !== "schedule";
    if (when() === "schedule") time.prefill();
  });
  const result = notice();
  const save = el("button", { type: "submit", class: "save-edit" }, "Save");
  const form = el(
    "form",
    { class: "blast-editor" },
    el("h4", {}, "Edit blast"),
    pool.node,
    el("label", {}, "Message", message),
    variants.node,
    el("label", {}, "Attachment from the media library", media.node),
    whenNode,
    el(
      "div",
      { class: "actions" },
      save,
      el("button", { type: "button", class: "close-edit secondary", onclick: onClose }, "Close"),
    ),
    result.node,
  );

  void Promise.all([api<Session[]>("/api/sessions"), api<{ items: MediaItem[] }>("/api/media")])
    .then(([sessions, library]) => {
      pool.show(sessions);
      media.show(library.items, blast.media?.mediaId ?? "");
    })
    .catch((err: unknown) => result.show(messageOf(err)));

  const edit = (): BlastEdit => {
    const body: BlastEdit = { sessionIds: pool.chosen() };
    const texts = variants.values();
    const [only] = texts;
    // One text stays a message; a blast that had several keeps a list, so its old ones go.
    if (only && texts.length === 1 && (blast.variants?.length ?? 0) <= 1) {
      if (only.text !== "" || !blast.media) body.message = only.text;
    } else body.variants = texts;
    const chosenMedia = media.chosen();
    if (chosenMedia !== (blast.media?.mediaId ?? "")) body.mediaId = chosenMedia === "" ? null : chosenMedia;
    if (when() === "draft") {
      if (blast.status !== "draft") body.draft = true;
    } else {
      if (!time.at.value) throw new Error("Choose the date and time to send the blast at.");
      // An unchanged start is left out: its wall clock drops the seconds, which could move it.
      const changed =
        blast.status !== "scheduled" ||
        time.at.value !== initialStart?.sendAt ||
        time.zone.value !== initialStart.timeZone;
      if (changed) {
        body.sendAt = time.at.value;
        body.timeZone = time.zone.value;
      }
    }
    return body;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    result.clear();
    let body: BlastEdit;
    try {
      body = edit();
    } catch (err) {
      result.show(messageOf(err));
      return;
    }
    save.disabled = true;
    const path = `/api/blasts/${encodeURIComponent(blast.blastId)}`;
    api<BlastSummary>(path, { method: "PATCH", json: body })
      .then((answer) => caughtUp(path, body, answer))
      .then(onSaved)
      .catch((err: unknown) => result.show(messageOf(err)))
      .finally(() => {
        save.disabled = false;
      });
  });
  return form;
}

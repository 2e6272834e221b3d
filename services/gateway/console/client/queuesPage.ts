/// <reference lib="dom" />
// The queue dashboard: JetStream's streams and consumers as the server reports them, queued work
// per session with a lag chart and a warning when nothing pulls it, dead letters and advisories.
import { consoleNav } from "./consoleNav.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { api, messageOf } from "./gatewayApi.ts";
import { lagChart } from "./lagChart.ts";
// Type-only: the bundle takes nothing from the server module, the compiler checks the wire shape.
import type { QueueDashboard } from "../../queues/queueDashboard.ts";

const POLL_MS = 3000;

function table(headings: string[], rows: HTMLTableRowElement[], empty: string): HTMLElement {
  if (rows.length === 0) return el("p", { class: "empty" }, empty);
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows),
  );
}

const cell = (field: string, value: string | number) => el("td", { "data-field": field }, value);
const time = (iso: string | null) => (iso ? new Date(iso).toLocaleTimeString() : "never");

const root = document.getElementById("app");
if (root) {
  const updated = el("p", { class: "meta updated" });
  const message = notice();
  const warnings = el("div", { class: "warnings" });
  const streams = el("section", { class: "panel" });
  const consumers = el("section", { class: "panel" });
  const sessions = el("section", { class: "panel" });
  const deadLetters = el("section", { class: "panel" });
  const advisories = el("section", { class: "panel" });
  const auto = el("input", { type: "checkbox", checked: true, id: "auto-refresh" });

  const act = (stream: string, seq: number, action: "retry" | "discard") => () =>
    void api(`/api/admin/dead-letters/${stream}/${seq}/${action}`, { method: "POST" })
      .then(refresh)
      .catch((err: unknown) => message.show(messageOf(err)));

  const render = (d: QueueDashboard) => {
    updated.textContent = `JetStream figures at ${new Date(d.at).toLocaleTimeString()}`;
    updated.dataset.at = d.at;
    replaceChildren(
      warnings,
      ...d.sessions
        .filter((s) => s.warning)
        .map((s) => el("p", { class: "warning", "data-session": s.sessionId }, s.warning)),
    );
    replaceChildren(
      streams,
      el("h2", {}, "Streams"),
      table(
        ["stream", "subjects", "retention", "messages", "bytes", "first seq", "last seq", "consumers"],
        d.streams.map((s) =>
          el(
            "tr",
            { "data-stream": s.name },
            cell("name", s.name),
            cell("subjects", s.subjects.join(" ")),
            cell("retention", s.retention),
            cell("messages", s.messages),
            cell("bytes", s.bytes),
            cell("firstSeq", s.firstSeq),
            cell("lastSeq", s.lastSeq),
            cell("consumers", s.consumers),
          ),
        ),
        "No streams.",
      ),
    );
    replaceChildren(
      consumers,
      el("h2", {}, "Consumers"),
      table(
        ["stream", "consumer", "filter", "pending", "ack pending", "redelivered", "waiting", "last active"],
        d.consumers.map((c) =>
          el(
            "tr",
            { "data-consumer": `${c.stream}/${c.name}` },
            cell("stream", c.stream),
            cell("name", `${c.name}${c.durable ? "" : " (ephemeral)"}`),
            cell("filterSubject", c.filterSubject),
            cell("numPending", c.numPending),
            cell("numAckPending", c.numAckPending),
            cell("numRedelivered", c.numRedelivered),
            cell("numWaiting", c.numWaiting),
            cell("lastActive", time(c.lastActive)),
          ),
        ),
        "No consumers.",
      ),
    );
    replaceChildren(
      sessions,
      el("h2", {}, "Send work per session (last hour)"),
      table(
        ["session", "queued", "of running blasts", "consumers", "attached", "lag"],
        d.sessions.map((s) =>
          el(
            "tr",
            { "data-session": s.sessionId, class: s.warning ? "warn" : undefined },
            cell("sessionId", s.sessionId),
            cell("queued", s.queued),
            cell("runnable", s.runnable),
            cell("consumers", s.consumers),
            cell("attached", s.attached ? "yes" : "no"),
            el("td", {}, lagChart(d.lag.find((l) => l.sessionId === s.sessionId)?.points ?? [])),
          ),
        ),
        "No sessions.",
      ),
    );
    replaceChildren(
      deadLetters,
      el("h2", {}, "Dead letters"),
      table(
        ["stream", "seq", "subject", "consumer", "deliveries", "at", ""],
        d.deadLetters.map((l) =>
          el(
            "tr",
            { "data-dead-letter": `${l.stream}/${l.streamSeq}` },
            cell("stream", l.stream),
            cell("streamSeq", l.streamSeq),
            cell("subject", l.subject),
            cell("consumer", l.consumer),
            cell("deliveries", l.deliveries),
            cell("at", time(l.at)),
            el(
              "td",
              { class: "actions" },
              el(
                "button",
                { type: "button", class: "retry", onclick: act(l.stream, l.streamSeq, "retry") },
                "Retry",
              ),
              el(
                "button",
                { type: "button", class: "discard danger", onclick: act(l.stream, l.streamSeq, "discard") },
                "Discard",
              ),
            ),
          ),
        ),
        "No dead letters: no consumer has given up on a message since this gateway started.",
      ),
    );
    replaceChildren(
      advisories,
      el("h2", {}, "Recent advisories"),
      table(
        ["at", "kind", "stream", "consumer", "seq", "deliveries", "reason"],
        d.advisories.map((a) =>
          el(
            "tr",
            { "data-kind": a.kind },
            cell("at", time(a.at)),
            cell("kind", a.kind),
            cell("stream", a.stream ?? ""),
            cell("consumer", a.consumer ?? ""),
            cell("streamSeq", a.streamSeq ?? ""),
            cell("deliveries", a.deliveries ?? ""),
            cell("reason", a.reason ?? ""),
          ),
        ),
        "No advisories since this gateway started.",
      ),
    );
  };

  function refresh(): Promise<void> {
    return api<QueueDashboard>("/api/admin/queues")
      .then((d) => {
        message.clear();
        render(d);
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  }

  root.replaceChildren(
    consoleNav("/admin/queues"),
    el(
      "header",
      { class: "panel" },
      el("h1", {}, "Queues"),
      updated,
      el(
        "div",
        { class: "actions" },
        el(
          "button",
          { type: "button", class: "refresh secondary", onclick: () => void refresh() },
          "Refresh",
        ),
        el("label", { class: "inline" }, auto, " refresh every 3 s"),
      ),
      message.node,
      warnings,
    ),
    sessions,
    streams,
    consumers,
    deadLetters,
    advisories,
  );
  void refresh();
  window.setInterval(() => {
    if (auto.checked && !document.hidden) void refresh();
  }, POLL_MS);
}

/// <reference lib="dom" />
// Webhooks: endpoints registered with the events they want, each with its delivery log (status,
// HTTP status, latency, attempts, last error), refreshed while it is open; a dead delivery can be
// sent again and a test event queued. A secret is shown once, when it is made. URLs, errors and
// descriptions come from users and receivers: shown as text.
import { WEBHOOK_EVENT_TYPES } from "../../../../shared/domain/webhookEventTypes.ts";
import type { Page, Webhook, WebhookDelivery } from "./apiTypes.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { api, messageOf } from "./gatewayApi.ts";

const DELIVERIES_PAGE = 50;
/** How often an open delivery log is read again. */
const REFRESH_MS = 3000;

const path = (webhookId: string, rest = "") => `/api/webhooks/${encodeURIComponent(webhookId)}${rest}`;

/** The secret in a box to copy, with the warning that it is not shown again. */
function secretBox(secret: string, what: string): HTMLElement {
  const code = el("code", { class: "secret-value" }, secret);
  const copy = () => void navigator.clipboard?.writeText(secret);
  return el(
    "div",
    { class: "card secret" },
    el("p", {}, `${what} Copy it now: it is not shown again.`),
    code,
    " ",
    el("button", { type: "button", class: "secondary copy-secret", onclick: copy }, "Copy"),
  );
}

function deliveryRow(delivery: WebhookDelivery, onRedeliver: () => void): HTMLElement {
  const when = delivery.deliveredAt ?? delivery.lastAttemptAt ?? delivery.since;
  const next =
    delivery.status === "retrying" && delivery.nextAttemptAt
      ? ` · next ${new Date(delivery.nextAttemptAt).toLocaleTimeString()}`
      : "";
  return el(
    "tr",
    { "data-event": delivery.eventId, "data-status": delivery.status },
    el("td", { class: "event-id" }, delivery.eventId),
    el("td", { class: "type" }, delivery.type),
    el("td", {}, el("span", { class: "status" }, delivery.status)),
    el("td", { class: "http-status" }, delivery.httpStatus ?? ""),
    el("td", { class: "latency" }, delivery.latencyMs !== undefined ? `${delivery.latencyMs} ms` : ""),
    el("td", { class: "attempts" }, delivery.attempts),
    el("td", { class: "error" }, `${delivery.error ?? ""}${next}`),
    el("td", { class: "when" }, new Date(when).toLocaleString()),
    el(
      "td",
      {},
      delivery.status === "dead"
        ? el("button", { type: "button", class: "redeliver secondary", onclick: onRedeliver }, "Redeliver")
        : undefined,
    ),
  );
}

function deliveriesView(
  webhook: Webhook,
  message: ReturnType<typeof notice>,
): {
  node: HTMLElement;
  load(): Promise<void>;
} {
  const node = el("div", { class: "webhook-deliveries" });
  let page = 1;
  const redeliver = (delivery: WebhookDelivery) => () =>
    void api(path(webhook.webhookId, `/deliveries/${encodeURIComponent(delivery.eventId)}/redeliver`), {
      method: "POST",
    })
      .then(() => {
        message.show(`${delivery.eventId} queued again.`, "ok");
        return load();
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  const load = (): Promise<void> =>
    api<Page<WebhookDelivery>>(
      path(webhook.webhookId, `/deliveries?page=${page}&pageSize=${DELIVERIES_PAGE}`),
    )
      .then(({ items, total }) => {
        const pages = Math.max(1, Math.ceil(total / DELIVERIES_PAGE));
        const turn = (to: number) => () => {
          page = to;
          void load();
        };
        replaceChildren(
          node,
          items.length === 0
            ? el("p", { class: "empty" }, "No delivery yet: send a test, or wait for an event.")
            : el(
                "table",
                { class: "deliveries" },
                el(
                  "thead",
                  {},
                  el(
                    "tr",
                    {},
                    ...[
                      "event",
                      "type",
                      "status",
                      "HTTP",
                      "latency",
                      "attempts",
                      "last error",
                      "when",
                      "",
                    ].map((h) => el("th", {}, h)),
                  ),
                ),
                el("tbody", {}, ...items.map((d) => deliveryRow(d, redeliver(d)))),
              ),
          el(
            "p",
            { class: "pager" },
            el("span", { class: "total" }, `${total} event(s) · page ${page} of ${pages} `),
            el(
              "button",
              { type: "button", class: "secondary previous", disabled: page <= 1, onclick: turn(page - 1) },
              "Newer",
            ),
            " ",
            el(
              "button",
              { type: "button", class: "secondary next", disabled: page >= pages, onclick: turn(page + 1) },
              "Older",
            ),
          ),
        );
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  return { node, load };
}

function webhookCard(webhook: Webhook, panel: HTMLElement, onChanged: () => void): HTMLElement {
  const message = notice();
  const secret = el("div", { class: "webhook-secret" });
  const deliveries = deliveriesView(webhook, message);
  let timer: number | undefined;
  const watch = el("button", { type: "button", class: "secondary show-deliveries" }, "Deliveries");
  const stopWatching = () => {
    window.clearInterval(timer);
    timer = undefined;
    deliveries.node.replaceChildren();
    watch.textContent = "Deliveries";
  };
  watch.addEventListener("click", () => {
    if (timer !== undefined) return stopWatching();
    watch.textContent = "Hide deliveries";
    void deliveries.load();
    timer = window.setInterval(() => {
      // A card removed by a reload, or a panel not shown, stops asking.
      if (!deliveries.node.isConnected) return stopWatching();
      if (!panel.hidden) void deliveries.load();
    }, REFRESH_MS);
  });
  const act = <T>(request: Promise<T>, done: (answer: T) => void) =>
    void request.then(done).catch((err: unknown) => message.show(messageOf(err)));
  const sendTest = () =>
    act(api<{ eventId: string }>(path(webhook.webhookId, "/test"), { method: "POST" }), ({ eventId }) => {
      message.show(`Test event ${eventId} queued.`, "ok");
      if (timer !== undefined) void deliveries.load();
    });
  const rotate = () => {
    if (!confirm("Make a new secret? The current one keeps signing beside it for a while.")) return;
    act(
      api<{ secret: string; previousSecretExpiresAt: string }>(path(webhook.webhookId, "/rotate-secret"), {
        method: "POST",
      }),
      (rotated) => {
        const until = new Date(rotated.previousSecretExpiresAt).toLocaleString();
        replaceChildren(
          secret,
          secretBox(rotated.secret, `New secret; the previous one also signs until ${until}.`),
        );
      },
    );
  };
  const toggle = () =>
    act(api(path(webhook.webhookId), { method: "PATCH", json: { enabled: !webhook.enabled } }), onChanged);
  const remove = () => {
    if (!confirm(`Delete the webhook to ${webhook.url}? What is queued or dead for it goes too.`)) return;
    act(api(path(webhook.webhookId), { method: "DELETE" }), onChanged);
  };
  return el(
    "article",
    {
      class: "card webhook",
      "data-webhook": webhook.webhookId,
      "data-status": webhook.enabled ? "open" : "paused",
    },
    el(
      "header",
      {},
      el("h3", { class: "webhook-url" }, webhook.url),
      el("span", { class: "status" }, webhook.enabled ? "enabled" : "disabled"),
    ),
    webhook.description ? el("p", { class: "meta description" }, webhook.description) : undefined,
    el("p", { class: "meta events" }, webhook.events.join(", ")),
    el("p", { class: "meta queued" }, `${webhook.queued ?? 0} queued · ${webhook.webhookId}`),
    el(
      "div",
      { class: "actions" },
      watch,
      el("button", { type: "button", class: "secondary send-test", onclick: sendTest }, "Send test"),
      el("button", { type: "button", class: "secondary rotate-secret", onclick: rotate }, "Rotate secret"),
      el(
        "button",
        { type: "button", class: "secondary toggle", onclick: toggle },
        webhook.enabled ? "Disable" : "Enable",
      ),
      el("button", { type: "button", class: "delete danger", onclick: remove }, "Delete"),
    ),
    message.node,
    secret,
    deliveries.node,
  );
}

export function webhooksPanel(): HTMLElement {
  const message = notice();
  const created = el("div", { class: "webhook-created" });
  const list = el("div", { class: "webhooks" });
  const panel = el("section", { id: "webhooks", class: "panel" });

  const load = () =>
    api<{ items: Webhook[] }>("/api/webhooks")
      .then(({ items }) => {
        replaceChildren(
          list,
          ...(items.length === 0
            ? [el("p", { class: "empty" }, "No webhook yet.")]
            : items.map((w) => webhookCard(w, panel, () => void load()))),
        );
      })
      .catch((err: unknown) => message.show(messageOf(err)));

  const url = el("input", {
    name: "url",
    type: "url",
    required: true,
    maxlength: 2048,
    placeholder: "https://crm.example.com/hooks/wa-blast",
  });
  const description = el("input", { name: "description", maxlength: 500, placeholder: "CRM sync" });
  const boxes = WEBHOOK_EVENT_TYPES.map((type) =>
    el("input", { type: "checkbox", name: "events", value: type, checked: type.startsWith("recipient.") }),
  );
  const form = el(
    "form",
    { class: "card webhook-form" },
    el("h3", {}, "Register a webhook"),
    el("label", {}, "URL", url),
    el("label", {}, "Description", description),
    el(
      "fieldset",
      { class: "webhook-events" },
      el("legend", {}, "Events"),
      ...boxes.map((box) => el("label", { class: "inline" }, box, box.value)),
    ),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Register")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const events = boxes.filter((box) => box.checked).map((box) => box.value);
    if (events.length === 0) return message.show("Choose at least one event.");
    const text = description.value.trim();
    api<Webhook & { secret: string }>("/api/webhooks", {
      method: "POST",
      json: { url: url.value.trim(), events, ...(text ? { description: text } : {}) },
    })
      .then((webhook) => {
        message.show(`Registered ${webhook.url}.`, "ok");
        replaceChildren(created, secretBox(webhook.secret, "The webhook's signing secret."));
        url.value = "";
        description.value = "";
        void load();
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  });

  void load();
  replaceChildren(
    panel,
    el("h2", {}, "Webhooks"),
    el(
      "p",
      {},
      "Each event is POSTed to the URL as JSON, signed with the webhook's secret " +
        "(X-WaBlast-Signature: HMAC-SHA256 of the timestamp and the body; see the README). " +
        "Failed deliveries are retried with backoff, then kept as dead for a redelivery.",
    ),
    form,
    message.node,
    created,
    list,
  );
  return panel;
}

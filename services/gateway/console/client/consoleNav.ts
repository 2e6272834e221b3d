/// <reference lib="dom" />
// The header shared by the console and the queue dashboard, with sign-out.
import { el } from "./elements.ts";
import { api } from "./gatewayApi.ts";

export function consoleNav(current: string): HTMLElement {
  const link = (href: string, text: string) =>
    el("a", { href, class: href === current ? "current" : undefined }, text);
  const signOut = () =>
    void api("/auth/sign-out", { method: "POST" }).finally(() => location.assign("/signin"));
  return el(
    "nav",
    { class: "top" },
    el("strong", {}, "wa-blast"),
    link("/console#sessions", "Sessions"),
    link("/console#blasts", "Blasts"),
    link("/console#campaigns", "Campaigns"),
    link("/console#media", "Media"),
    link("/console#suppression", "Suppression"),
    link("/console#webhooks", "Webhooks"),
    link("/admin/queues", "Queues"),
    el("a", { href: "/api/docs" }, "API docs"),
    el("button", { type: "button", class: "secondary sign-out", onclick: signOut }, "Sign out"),
  );
}

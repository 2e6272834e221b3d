/// <reference lib="dom" />
// Sessions: live status per WhatsApp account, connect with a QR code that is replaced as it
// rotates (or a pairing code), log out, and add an account.
import type { QrUpdateMessage, Session, SessionStatusMessage } from "./apiTypes.ts";
import { el, notice, replaceChildren } from "./elements.ts";
import { api, messageOf } from "./gatewayApi.ts";
import { watchLive, type LiveSubscription } from "./liveSocket.ts";

const STATUS_HELP: Record<string, string> = {
  idle: "not connected yet",
  connecting: "connecting…",
  qr: "scan the QR code with WhatsApp (Linked devices)",
  open: "connected",
  reconnecting: "connection dropped, reconnecting",
  logged_out: "logged out: connect to link it again",
  closed: "closed",
  restricted: "WhatsApp restricted this account: its blasts are paused",
};

function sessionCard(session: Session): { node: HTMLElement; live: LiveSubscription } {
  const status = el("span", { class: "status" });
  const reason = el("p", { class: "reason" });
  const account = el("span", { class: "account" });
  const qr = el("img", { class: "qr", alt: `QR code for ${session.sessionId}`, hidden: true });
  const pairing = el("p", { class: "pairing-code", hidden: true });
  const message = notice();
  const phone = el("input", { type: "tel", placeholder: "+6281234567890", name: "phone", class: "phone" });
  const card = el("article", { class: "card session", "data-session": session.sessionId });

  const show = (s: { status: string; reason?: string; account?: string; owner?: string }) => {
    status.textContent = s.status;
    card.dataset.status = s.status;
    reason.textContent = s.reason || STATUS_HELP[s.status] || "";
    account.textContent = s.account
      ? `${s.account}${s.owner ? ` · run by ${s.owner}` : ""}`
      : (s.owner ?? "");
    if (s.status === "open" || s.status === "logged_out") {
      qr.hidden = true;
      pairing.hidden = true;
    }
  };
  show(session);

  const command = (what: "connect" | "logout") => {
    message.clear();
    api(`/api/sessions/${encodeURIComponent(session.sessionId)}/${what}`, { method: "POST" })
      .then(() => message.show(what === "connect" ? "Connecting…" : "Logged out", "ok"))
      .catch((err: unknown) => message.show(messageOf(err)));
  };
  const requestPairingCode = () => {
    message.clear();
    api<{ code: string }>(`/api/sessions/${encodeURIComponent(session.sessionId)}/pairing-code`, {
      method: "POST",
      json: { phone: phone.value.replace(/[\s()-]/g, "") },
    })
      .then(({ code }) => {
        pairing.hidden = false;
        pairing.textContent = `On the phone: WhatsApp › Linked devices › Link with phone number, then type ${code}`;
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  };

  replaceChildren(
    card,
    el("header", {}, el("h3", {}, session.sessionId), status),
    account,
    reason,
    qr,
    pairing,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", class: "connect", onclick: () => command("connect") }, "Connect"),
      el(
        "button",
        { type: "button", class: "logout secondary", onclick: () => command("logout") },
        "Log out",
      ),
    ),
    el(
      "div",
      { class: "actions" },
      phone,
      el(
        "button",
        { type: "button", class: "request-pairing secondary", onclick: requestPairingCode },
        "Pairing code",
      ),
    ),
    message.node,
  );

  const live = watchLive(`sessionId=${encodeURIComponent(session.sessionId)}`, (raw) => {
    const event = raw as SessionStatusMessage | QrUpdateMessage;
    if (event.type === "qr_update") {
      qr.src = event.png;
      qr.hidden = false;
      qr.dataset.qr = event.qr;
    } else if (event.type === "session_status") show(event);
  });
  return { node: card, live };
}

export function sessionsPanel(): HTMLElement {
  const list = el("div", { class: "grid sessions" });
  const message = notice();
  let live: LiveSubscription[] = [];
  const load = () =>
    api<Session[]>("/api/sessions")
      .then((sessions) => {
        for (const l of live) l.close();
        const cards = sessions.map(sessionCard);
        live = cards.map((c) => c.live);
        replaceChildren(list, ...cards.map((c) => c.node));
        if (sessions.length === 0) list.append(el("p", {}, "No sessions yet: add one below."));
      })
      .catch((err: unknown) => message.show(messageOf(err)));

  const newId = el("input", {
    name: "sessionId",
    placeholder: "marketing",
    pattern: "[A-Za-z0-9_-]{1,64}",
    required: true,
  });
  const add = el(
    "form",
    { class: "inline add-session" },
    newId,
    el("button", { type: "submit" }, "Add session"),
  );
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    api("/api/sessions", { method: "POST", json: { sessionId: newId.value.trim() } })
      .then(() => {
        newId.value = "";
        message.clear();
        return load();
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  });
  void load();
  return el("section", { id: "sessions", class: "panel" }, el("h2", {}, "Sessions"), list, add, message.node);
}

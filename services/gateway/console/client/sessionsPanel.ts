/// <reference lib="dom" />
// Sessions: live status per WhatsApp account, connect with a QR code that is replaced as it
// rotates (or a pairing code), log out, and add an account; its health too: the proxy it connects
// through (the password only ever typed, never shown), its warm-up ramp today, and this month's
// messages to people who have not replied against its budget.
import type { QrUpdateMessage, Session, SessionPacing, SessionStatusMessage } from "./apiTypes.ts";
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

function warmupText(session: Session): string {
  const w = session.warmup;
  if (!w) return "Warm-up: off";
  if (w.complete) return `Warm-up done (day ${w.day}): ${w.sentToday} of ${w.todayCap} in the last 24 h`;
  const started = w.startedAt ? "" : " (starts with the first send)";
  return `Warm-up day ${w.day}${started}: ${w.sentToday} of ${w.todayCap} in the last 24 h`;
}

function unrepliedText(session: Session): string {
  const u = session.unreplied;
  const counted = `To people who have not replied (${u.month}, UTC): ${u.sent}`;
  if (u.budget === 0) return `${counted}, no budget`;
  return `${counted} of ${u.budget}${u.reached ? ": budget reached, only people who replied are sent" : ""}`;
}

/** The account's proxy, warm-up and unreplied budget: what they are now, and the forms that change them. */
function healthSection(session: Session, message: ReturnType<typeof notice>) {
  const path = `/api/sessions/${encodeURIComponent(session.sessionId)}`;
  const proxyLine = el("p", { class: "proxy meta" });
  const warmupLine = el("p", { class: "warmup meta" });
  const unrepliedLine = el("p", { class: "unreplied meta" });
  const show = (s: Session) => {
    proxyLine.textContent = s.proxy ? `Proxy: ${s.proxy}` : "Proxy: none (direct connection)";
    warmupLine.textContent = warmupText(s);
    unrepliedLine.textContent = unrepliedText(s);
  };
  show(session);
  const refresh = () =>
    api<Session>(path)
      .then(show)
      .catch((err: unknown) => message.show(messageOf(err)));
  const act = (request: Promise<unknown>, done: string) => {
    message.clear();
    request
      .then(() => message.show(done, "ok"))
      .then(refresh)
      .catch((err: unknown) => message.show(messageOf(err)));
  };

  // A password field: the URL's credentials are typed, never shown, and cleared once sent.
  const proxy = el("input", {
    type: "password",
    name: "proxy",
    class: "proxy-url",
    placeholder: "socks5://user:password@host:1080",
    autocomplete: "off",
  });
  const setProxy = () => {
    const url = proxy.value.trim();
    act(
      api(`${path}/proxy`, { method: "PUT", json: { proxy: url } }).then(() => {
        proxy.value = "";
      }),
      "Proxy set: used from the session's next opening",
    );
  };
  const firstDay = el("input", {
    type: "number",
    name: "firstDay",
    class: "first-day",
    min: 1,
    value: 20,
    title: "messages on the first day",
  });
  const growth = el("input", {
    type: "number",
    name: "growth",
    class: "growth",
    min: 1,
    max: 10,
    step: 0.1,
    value: 2,
    title: "each day's cap is the day before's times this",
  });
  const budget = el("input", {
    type: "number",
    name: "unrepliedBudget",
    class: "unreplied-budget",
    min: 0,
    value: session.unreplied.ownBudget ?? session.unreplied.budget,
    title: "messages a month to people who have not replied (0: no budget)",
  });
  const putBudget = (perMonth: number) =>
    api(`${path}/unreplied-budget`, { method: "PUT", json: { perMonth } });
  /** The pacing endpoint replaces all of the account's settings: keep the others as they are. */
  const putWarmup = async (warmup: SessionPacing["warmup"]) => {
    const own = await api<SessionPacing>(`${path}/pacing`);
    await api(`${path}/pacing`, { method: "PUT", json: { ...own, warmup } });
  };
  const settings = el(
    "details",
    { class: "health-settings" },
    el("summary", {}, "Proxy, warm-up and budget"),
    el(
      "div",
      { class: "actions" },
      proxy,
      el("button", { type: "button", class: "set-proxy secondary", onclick: setProxy }, "Set proxy"),
      el(
        "button",
        {
          type: "button",
          class: "remove-proxy secondary",
          onclick: () => act(api(`${path}/proxy`, { method: "DELETE" }), "Proxy removed"),
        },
        "Remove",
      ),
    ),
    el(
      "div",
      { class: "actions" },
      el("label", { class: "inline" }, "Day 1", firstDay),
      el("label", { class: "inline" }, "× a day", growth),
      el(
        "button",
        {
          type: "button",
          class: "set-warmup secondary",
          onclick: () =>
            act(putWarmup({ firstDay: Number(firstDay.value), growth: Number(growth.value) }), "Warm-up set"),
        },
        "Set warm-up",
      ),
      el(
        "button",
        {
          type: "button",
          class: "warmup-off secondary",
          onclick: () => act(putWarmup(null), "Warm-up off for this account"),
        },
        "Off",
      ),
      el(
        "button",
        {
          type: "button",
          class: "restart-warmup secondary",
          onclick: () =>
            act(api(`${path}/warmup/restart`, { method: "POST" }), "Warm-up starts over at the next send"),
        },
        "Restart",
      ),
    ),
    el(
      "div",
      { class: "actions" },
      el("label", { class: "inline" }, "Unreplied a month", budget),
      el(
        "button",
        {
          type: "button",
          class: "set-unreplied-budget secondary",
          onclick: () => act(putBudget(Number(budget.value)), "Budget set"),
        },
        "Set budget",
      ),
      el(
        "button",
        {
          type: "button",
          class: "unreplied-budget-default secondary",
          onclick: () =>
            act(api(`${path}/unreplied-budget`, { method: "DELETE" }), "The deployment's budget applies"),
        },
        "Default",
      ),
    ),
  );
  return { nodes: [proxyLine, warmupLine, unrepliedLine, settings], refresh };
}

function sessionCard(session: Session): { node: HTMLElement; live: LiveSubscription } {
  const status = el("span", { class: "status" });
  const reason = el("p", { class: "reason" });
  const account = el("span", { class: "account" });
  const qr = el("img", { class: "qr", alt: `QR code for ${session.sessionId}`, hidden: true });
  const pairing = el("p", { class: "pairing-code", hidden: true });
  const message = notice();
  const phone = el("input", { type: "tel", placeholder: "+6281234567890", name: "phone", class: "phone" });
  const card = el("article", { class: "card session", "data-session": session.sessionId });
  const health = healthSection(session, message);

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
    ...health.nodes,
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
    } else if (event.type === "session_status") {
      show(event);
      // Opening, closing or a restriction is when the sending figures are worth a fresh look.
      void health.refresh();
    }
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
  const newProxy = el("input", {
    type: "password",
    name: "proxy",
    placeholder: "proxy (optional): socks5://user:password@host:1080",
    autocomplete: "off",
  });
  const add = el(
    "form",
    { class: "inline add-session" },
    newId,
    newProxy,
    el("button", { type: "submit" }, "Add session"),
  );
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    const proxy = newProxy.value.trim();
    api("/api/sessions", {
      method: "POST",
      json: { sessionId: newId.value.trim(), ...(proxy ? { proxy } : {}) },
    })
      .then(() => {
        newId.value = "";
        newProxy.value = "";
        message.clear();
        return load();
      })
      .catch((err: unknown) => message.show(messageOf(err)));
  });
  void load();
  return el("section", { id: "sessions", class: "panel" }, el("h2", {}, "Sessions"), list, add, message.node);
}

/// <reference lib="dom" />
// The accounts a blast is sent from, for the blast form and the editor of a blast not yet started.
import type { Session } from "./apiTypes.ts";
import { el, replaceChildren } from "./elements.ts";

/** The first open account, else the first: a pool of one until the user picks more. */
export function defaultAccount(sessions: readonly Session[]): string | undefined {
  return (sessions.find((s) => s.status === "open") ?? sessions[0])?.sessionId;
}

/**
 * The accounts a blast is sent from: a checkbox per session, with the state it is in now. `initial`
 * is the pool first shown (an edited blast's); without it, the first open account.
 */
export function poolChooser(onChange: () => void, initial?: readonly string[]) {
  const list = el("div", { class: "pool-accounts" });
  const hint = el("p", { class: "pool-hint meta" });
  const node = el("fieldset", { class: "pool" }, el("legend", {}, "Send from"), list, hint);
  let statuses = new Map<string, string>();
  const boxes = () => Array.from(list.querySelectorAll<HTMLInputElement>("input[name=sessionIds]"));
  const chosen = () => boxes().flatMap((box) => (box.checked ? [box.value] : []));
  const explain = () => {
    const pool = chosen();
    const idle = pool.filter((id) => statuses.get(id) !== "open");
    const share =
      pool.length === 1
        ? `Sent from ${pool[0] ?? ""}.`
        : `${pool.length} accounts share the sending: each recipient gets the message once, from one of them.`;
    hint.textContent =
      pool.length === 0
        ? "Choose at least one account."
        : share +
          (idle.length > 0 ? ` Not open now, so sending nothing until they are: ${idle.join(", ")}.` : "");
  };
  list.addEventListener("change", () => {
    explain();
    onChange();
  });
  return {
    node,
    chosen,
    /** Lists `sessions`, keeping what was chosen; true when that choice had to change. */
    show(sessions: readonly Session[]): boolean {
      const firstTime = boxes().length === 0;
      const before = firstTime && initial ? [...initial] : chosen();
      const listed = new Set(sessions.map((s) => s.sessionId));
      let keep = before.filter((id) => listed.has(id));
      // An empty choice the user made stays empty; one emptied by accounts removed meanwhile does not.
      if (keep.length === 0 && (firstTime || before.length > 0)) {
        const first = defaultAccount(sessions);
        keep = first ? [first] : [];
      }
      statuses = new Map(sessions.map((s) => [s.sessionId, s.status]));
      replaceChildren(
        list,
        ...sessions.map((s) =>
          el(
            "label",
            {
              class: "inline pool-account",
              "data-session": s.sessionId,
              "data-status": s.status,
              title: s.reason,
            },
            el("input", {
              type: "checkbox",
              name: "sessionIds",
              value: s.sessionId,
              checked: keep.includes(s.sessionId),
            }),
            s.sessionId,
            el("span", { class: "status" }, s.status),
          ),
        ),
      );
      if (sessions.length === 0) list.append(el("p", { class: "empty" }, "No sessions: add one first."));
      explain();
      return keep.length !== before.length || keep.some((id, i) => id !== before[i]);
    },
  };
}

/// <reference lib="dom" />
// The sign-in page: trades the API key for the HttpOnly cookie, then goes where the user was headed.
import { el, notice } from "./elements.ts";
import { ApiError, api, messageOf } from "./gatewayApi.ts";

/** Only a path on this site, so a crafted link cannot send a signed-in user elsewhere. */
function nextPath(): string {
  const next = new URLSearchParams(location.search).get("next") ?? "/console";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/console";
}

const root = document.getElementById("app");
if (root) {
  const status = notice();
  const key = el("input", {
    type: "password",
    name: "apiKey",
    id: "api-key",
    autocomplete: "current-password",
    required: true,
    placeholder: "one of API_KEYS in .env",
  });
  const form = el(
    "form",
    { class: "card signin" },
    el("h1", {}, "wa-blast"),
    el("label", { for: "api-key" }, "API key"),
    key,
    el("button", { type: "submit" }, "Sign in"),
    status.node,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    status.clear();
    api("/auth/sign-in", { method: "POST", json: { apiKey: key.value.trim() } })
      .then(() => location.assign(nextPath()))
      .catch((err: unknown) =>
        status.show(
          err instanceof ApiError && err.status === 401 ? "That key is not valid." : messageOf(err),
        ),
      );
  });
  root.replaceChildren(form);
  key.focus();
}

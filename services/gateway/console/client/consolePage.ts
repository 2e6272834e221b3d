/// <reference lib="dom" />
// The console: sessions, blasts, campaigns, the media library, the suppression list and webhooks as
// tabs chosen by the address' #fragment.
import { blastsPanel } from "./blastsPanel.ts";
import { campaignsPanel } from "./campaignsPanel.ts";
import { consoleNav } from "./consoleNav.ts";
import { mediaPanel } from "./mediaPanel.ts";
import { sessionsPanel } from "./sessionsPanel.ts";
import { suppressionPanel } from "./suppressionPanel.ts";
import { webhooksPanel } from "./webhooksPanel.ts";

const root = document.getElementById("app");
if (root) {
  const panels = [
    sessionsPanel(),
    blastsPanel(),
    campaignsPanel(),
    mediaPanel(),
    suppressionPanel(),
    webhooksPanel(),
  ];
  const nav = consoleNav("");
  const select = () => {
    const wanted = location.hash.slice(1) || "sessions";
    const shown = panels.some((p) => p.id === wanted) ? wanted : "sessions";
    for (const panel of panels) panel.hidden = panel.id !== shown;
    nav.querySelectorAll("a").forEach((a) => {
      a.classList.toggle("current", a.getAttribute("href") === `/console#${shown}`);
    });
  };
  window.addEventListener("hashchange", select);
  root.replaceChildren(nav, ...panels);
  select();
}

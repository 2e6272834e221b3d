/// <reference lib="dom" />
// How far the gateway has got with an uploaded file while its request runs: a bar for the bytes
// going up, then the rows read so far (the gateway counts rows, and the browser cannot know how
// many a file holds), and the final figures or why it stopped. The request names the import with
// an id of its own, whose progress comes on a socket opened before the request is sent; without
// the socket, the upload goes ahead and the bar only shows the bytes.
import type { ImportProgressMessage } from "./apiTypes.ts";
import { el } from "./elements.ts";
import { watchOnce } from "./liveSocket.ts";

/** Opening the socket holds the request back: not for longer than this. */
const SOCKET_OPEN_MS = 2000;
/**
 * The answer may come before the last progress message, which travels through NATS: the socket
 * stays open this long after the answer for it.
 */
const LAST_MESSAGE_MS = 3000;

export type SendUpload<T> = (importId: string, onUpload: (sent: number, total: number) => void) => Promise<T>;

export interface ImportProgressView {
  readonly node: HTMLElement;
  /** Runs `send` for an upload of `file`, showing its progress; settles as `send` does. */
  follow<T>(file: File, send: SendUpload<T>): Promise<T>;
  /** Hides the line, and ignores what is still to come of the import it showed. */
  clear(): void;
}

/**
 * Random, and not crypto.randomUUID(): that exists only on secure pages, and a console on a LAN
 * address over plain HTTP is not one.
 */
function newImportId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const numbers = new Intl.NumberFormat();

function sizeText(bytes: number): string {
  return bytes < 1024 * 1024
    ? `${numbers.format(Math.ceil(bytes / 1024))} KB`
    : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function counted(n: number, one: string, many: string): string {
  return `${numbers.format(n)} ${n === 1 ? one : many}`;
}

function figuresText(p: ImportProgressMessage): string {
  const parts = [
    `${counted(p.rows, "row", "rows")} read`,
    counted(p.recipients, "recipient", "recipients"),
    `${numbers.format(p.rejected)} rejected`,
  ];
  if (p.duplicates > 0) parts.push(`${counted(p.duplicates, "duplicate", "duplicates")} merged`);
  return parts.join(" · ");
}

function isProgressOf(importId: string, message: unknown): message is ImportProgressMessage {
  if (typeof message !== "object" || message === null) return false;
  const m = message as Partial<ImportProgressMessage>;
  return m.type === "import_progress" && m.importId === importId && typeof m.rows === "number";
}

export function importProgress(): ImportProgressView {
  const bar = el("progress", { class: "import-bar" });
  const line = el("p", { class: "import-line" });
  const node = el("div", { class: "import-progress", hidden: true }, bar, line);
  /** Counts the imports shown: a message or an answer of an earlier one changes nothing. */
  let shown = 0;

  const indeterminate = () => bar.removeAttribute("value");
  const show = (phase: string, text: string, figures?: ImportProgressMessage) => {
    node.hidden = false;
    node.dataset.phase = phase;
    bar.hidden = phase === "done" || phase === "failed";
    line.textContent = text;
    if (figures) {
      node.dataset.rows = String(figures.rows);
      node.dataset.recipients = String(figures.recipients);
      node.dataset.rejected = String(figures.rejected);
      node.dataset.duplicates = String(figures.duplicates);
    }
  };
  const clear = () => {
    shown++;
    node.hidden = true;
    line.textContent = "";
    for (const key of Object.keys(node.dataset)) delete node.dataset[key];
  };

  return {
    node,
    clear,
    async follow(file, send) {
      clear();
      const mine = shown;
      const current = () => mine === shown;
      const importId = newImportId();
      let answered = false;
      let ended = false;
      let heard = false;
      indeterminate();
      show("uploading", `Uploading ${file.name} (${sizeText(file.size)})…`);

      const socket = watchOnce(
        `importId=${importId}`,
        (message) => {
          if (!isProgressOf(importId, message) || ended) return;
          // Rows read after the answer came are older than what the answer says: only the end counts.
          if (message.phase === "reading" && answered) return;
          heard = true;
          if (message.phase !== "reading") {
            ended = true;
            socket.close();
          }
          if (!current()) return;
          if (message.phase === "failed") {
            show("failed", `Stopped after ${figuresText(message)}: ${message.error ?? "failed"}`, message);
          } else {
            if (message.phase === "reading") indeterminate();
            show(message.phase, figuresText(message), message);
          }
        },
        SOCKET_OPEN_MS,
      );
      await socket.opened;

      const onUpload = (sent: number, total: number) => {
        if (!current() || heard) return;
        if (sent < total) {
          bar.max = total;
          bar.value = sent;
          show("uploading", `Uploading ${file.name}: ${sizeText(sent)} of ${sizeText(total)}`);
        } else {
          indeterminate();
          show("reading", `Reading ${file.name}…`);
        }
      };
      const settled = () => {
        answered = true;
        if (ended) return;
        // Without its last message, the line would say "uploading" or "reading" of something
        // finished: hide it until that message comes, and for good if it does not.
        if (current()) node.hidden = true;
        window.setTimeout(() => socket.close(), LAST_MESSAGE_MS);
      };
      try {
        return await send(importId, onUpload);
      } finally {
        settled();
      }
    },
  };
}

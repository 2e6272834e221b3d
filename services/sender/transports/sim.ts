// A simulated WhatsApp: configurable latency, failure rate and numbers without WhatsApp, a QR
// flow shaped like the real one, and every send appended to a JSONL outbox that tests and people
// can read to see exactly what was sent to whom.
import { appendFileSync, mkdirSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { dirname } from "node:path";
import type { SendResult, SessionConnection, SessionListener, Transport } from "./transport.ts";

export interface SimOptions {
  readonly latencyMs: number;
  /** Share of sends that fail; decided by a hash of the number, so a run is reproducible. */
  readonly failureRate: number;
  /** E.164 numbers (or prefixes ending in `*`) that are not on WhatsApp. */
  readonly notOnWhatsApp: readonly string[];
  readonly outboxPath: string;
  /** 0 pairs at once; otherwise a QR is shown and "scanned" after this delay. */
  readonly scanAfterMs: number;
  /** Remembers which sessions are paired, so a restart needs no new scan. */
  readonly pairing: {
    isPaired(sessionId: string): Promise<boolean>;
    setPaired(sessionId: string, paired: boolean): Promise<void>;
  };
}

export interface OutboxLine {
  readonly at: string;
  readonly sessionId: string;
  readonly messageId: string;
  readonly to: string;
  readonly text: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function simFails(phone: string, failureRate: number): boolean {
  if (failureRate <= 0) return false;
  const bucket = createHash("sha256").update(phone).digest().readUInt32BE(0) / 0x1_0000_0000;
  return bucket < failureRate;
}

export function parseNumberList(list: string): string[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function matches(phone: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith("*") ? phone.startsWith(p.slice(0, -1)) : phone === p));
}

export function simTransport(options: SimOptions): Transport {
  mkdirSync(dirname(options.outboxPath), { recursive: true });
  return {
    name: "sim",
    open(sessionId: string, listener: SessionListener): SessionConnection {
      let open = false;
      let qrTimer: NodeJS.Timeout | undefined;
      const account = `+1555${createHash("sha256").update(sessionId).digest().readUInt32BE(0).toString().slice(0, 7).padStart(7, "0")}`;
      const markOpen = () => {
        open = true;
        listener.onStatus({ status: "open", account });
      };
      return {
        sessionId,
        async connect() {
          if (open) return;
          listener.onStatus({ status: "connecting" });
          if (options.scanAfterMs === 0 || (await options.pairing.isPaired(sessionId))) {
            await options.pairing.setPaired(sessionId, true);
            markOpen();
            return;
          }
          listener.onQr(`sim-ref-${randomBytes(8).toString("hex")},${sessionId}`);
          listener.onStatus({ status: "qr", reason: "scan the QR code with WhatsApp" });
          clearTimeout(qrTimer);
          qrTimer = setTimeout(() => {
            void options.pairing.setPaired(sessionId, true).then(markOpen);
          }, options.scanAfterMs);
        },
        async requestPairingCode(phone: string) {
          if (open) throw new Error("session is already linked");
          const code = randomBytes(4).toString("hex").toUpperCase();
          listener.onStatus({ status: "qr", reason: `enter code ${code} on ${phone}` });
          clearTimeout(qrTimer);
          qrTimer = setTimeout(() => {
            void options.pairing.setPaired(sessionId, true).then(markOpen);
          }, options.scanAfterMs);
          return code;
        },
        async sendTyping(_to: string, durationMs: number) {
          if (durationMs > 0) await sleep(Math.min(durationMs, options.latencyMs * 10));
        },
        async logout() {
          clearTimeout(qrTimer);
          open = false;
          await options.pairing.setPaired(sessionId, false);
          listener.onStatus({ status: "logged_out", reason: "logged out", code: 401 });
        },
        async close() {
          clearTimeout(qrTimer);
          open = false;
          listener.onStatus({ status: "closed" });
        },
        async send(to: string, text: string, messageId: string): Promise<SendResult> {
          if (!open) return { ok: false, reason: "session_not_open" };
          if (options.latencyMs > 0) await sleep(options.latencyMs);
          if (matches(to, options.notOnWhatsApp)) return { ok: false, reason: "not_on_whatsapp" };
          if (simFails(to, options.failureRate)) return { ok: false, reason: "sim_failure" };
          const line: OutboxLine = { at: new Date().toISOString(), sessionId, messageId, to, text };
          // Written synchronously before the send resolves: the outbox is the record of what left.
          appendFileSync(options.outboxPath, `${JSON.stringify(line)}\n`);
          return { ok: true, messageId };
        },
        async onWhatsApp(phones: readonly string[]) {
          return new Set(phones.filter((p) => !matches(p, options.notOnWhatsApp)));
        },
      };
    },
  };
}

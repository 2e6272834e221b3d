// A simulated WhatsApp: configurable latency, failure rate and numbers without WhatsApp, a QR
// flow shaped like the real one, people who answer some of what they receive, and every send
// appended to a JSONL outbox that tests and people can read to see exactly what was sent to whom.
import { appendFileSync, mkdirSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { buffer } from "node:stream/consumers";
import {
  defaultSimReplyTexts,
  inboundMessage,
  replyIdFor,
  simFails,
  simReplies,
  simReplyText,
  type SimInbound,
} from "./simPeople.ts";
import type {
  InboundMessage,
  MediaContent,
  MediaKind,
  SendResult,
  SessionConnection,
  SessionListener,
  Transport,
} from "./transport.ts";

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
  /**
   * Share of recipients (0..1) who answer each message they receive; decided by a hash of the
   * number, independent of `failureRate`, so a demo run is reproducible. Default 0.
   */
  readonly replyRate?: number;
  /** What they answer, one text per recipient picked by hash; absent or empty: `defaultSimReplyTexts`. */
  readonly replyTexts?: readonly string[];
  /** How long after a successful send the answer arrives. Default 1000. */
  readonly replyAfterMs?: number;
}

/** What the outbox records of an attachment: enough to tell which file went out, not the file. */
export interface OutboxMedia {
  /** The media library's id of the file, when the sender named it. */
  readonly mediaId?: string;
  readonly kind: MediaKind;
  readonly mimetype: string;
  readonly fileName?: string;
  readonly caption?: string;
  readonly voiceNote?: boolean;
  /** Size of the body in bytes. */
  readonly bytes: number;
  /** Hex SHA-256 of the body. */
  readonly sha256: string;
}

export interface OutboxLine {
  readonly at: string;
  readonly sessionId: string;
  readonly messageId: string;
  readonly to: string;
  /** For media, the caption or "": readers that only know text sends still get a string. */
  readonly text: string;
  readonly media?: OutboxMedia;
}

export interface SimTransport extends Transport {
  /** Hands a person's message to the session's listener; false when that session is not open here. */
  deliverInbound(sessionId: string, inbound: SimInbound): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function parseNumberList(list: string): string[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** SIM_REPLY_TEXTS: comma-separated, so a single reply text cannot itself contain a comma. */
export const parseReplyTexts = parseNumberList;

function matches(phone: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith("*") ? phone.startsWith(p.slice(0, -1)) : phone === p));
}

export function simTransport(options: SimOptions): SimTransport {
  mkdirSync(dirname(options.outboxPath), { recursive: true });
  const replyRate = options.replyRate ?? 0;
  const replyTexts = options.replyTexts ?? defaultSimReplyTexts;
  const replyAfterMs = options.replyAfterMs ?? 1000;
  // Where deliverInbound finds an open session; each connection registers its own function, so a
  // stale connection closing cannot unregister a newer one of the same session.
  const inboxes = new Map<string, (message: InboundMessage) => void>();
  return {
    name: "sim",
    deliverInbound(sessionId: string, inbound: SimInbound): boolean {
      const inbox = inboxes.get(sessionId);
      if (!inbox) return false;
      inbox(inboundMessage(inbound));
      return true;
    },
    open(sessionId: string, listener: SessionListener): SessionConnection {
      let open = false;
      let qrTimer: NodeJS.Timeout | undefined;
      const replyTimers = new Set<NodeJS.Timeout>();
      const inbox = (message: InboundMessage) => listener.onInbound(message);
      const account = `+1555${createHash("sha256").update(sessionId).digest().readUInt32BE(0).toString().slice(0, 7).padStart(7, "0")}`;
      const markOpen = () => {
        open = true;
        inboxes.set(sessionId, inbox);
        listener.onStatus({ status: "open", account });
      };
      // A closed socket receives nothing more: pending replies are dropped, not delivered late.
      const markClosed = () => {
        clearTimeout(qrTimer);
        for (const timer of replyTimers) clearTimeout(timer);
        replyTimers.clear();
        open = false;
        if (inboxes.get(sessionId) === inbox) inboxes.delete(sessionId);
      };
      const scheduleReply = (to: string, messageId: string) => {
        if (!simReplies(to, replyRate)) return;
        const timer = setTimeout(() => {
          replyTimers.delete(timer);
          listener.onInbound(
            inboundMessage({
              from: to,
              text: simReplyText(to, replyTexts),
              quotedMessageId: messageId,
              messageId: replyIdFor(sessionId, messageId),
            }),
          );
        }, replyAfterMs);
        replyTimers.add(timer);
      };
      /** What text and media sends share once the content is ready: latency, refusals, the outbox. */
      const deliver = async (
        to: string,
        messageId: string,
        content: Pick<OutboxLine, "text" | "media">,
      ): Promise<SendResult> => {
        if (options.latencyMs > 0) await sleep(options.latencyMs);
        if (matches(to, options.notOnWhatsApp)) return { ok: false, reason: "not_on_whatsapp" };
        if (simFails(to, options.failureRate)) return { ok: false, reason: "sim_failure" };
        const line: OutboxLine = { at: new Date().toISOString(), sessionId, messageId, to, ...content };
        // Written synchronously before the send resolves: the outbox is the record of what left.
        appendFileSync(options.outboxPath, `${JSON.stringify(line)}\n`);
        scheduleReply(to, messageId);
        return { ok: true, messageId };
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
          markClosed();
          await options.pairing.setPaired(sessionId, false);
          listener.onStatus({ status: "logged_out", reason: "logged out", code: 401 });
        },
        async close() {
          markClosed();
          listener.onStatus({ status: "closed" });
        },
        async send(to: string, text: string, messageId: string): Promise<SendResult> {
          if (!open) return { ok: false, reason: "session_not_open", accountDown: true };
          return deliver(to, messageId, { text });
        },
        async sendMedia(to: string, media: MediaContent, messageId: string): Promise<SendResult> {
          if (!open) {
            // The stream was handed over to be read once; left unread, a file stream keeps its fd.
            if (!(media.body instanceof Uint8Array)) media.body.destroy();
            return { ok: false, reason: "session_not_open", accountDown: true };
          }
          let body: Uint8Array;
          try {
            body = media.body instanceof Uint8Array ? media.body : await buffer(media.body);
          } catch (err) {
            return { ok: false, reason: `media upload failed: ${(err as Error).message}` };
          }
          if (body.byteLength === 0) return { ok: false, reason: "empty media" };
          return deliver(to, messageId, {
            text: media.caption ?? "",
            media: {
              ...(media.mediaId !== undefined ? { mediaId: media.mediaId } : {}),
              kind: media.kind,
              mimetype: media.mimetype,
              ...(media.fileName !== undefined ? { fileName: media.fileName } : {}),
              ...(media.caption !== undefined ? { caption: media.caption } : {}),
              ...(media.voiceNote !== undefined ? { voiceNote: media.voiceNote } : {}),
              bytes: body.byteLength,
              sha256: createHash("sha256").update(body).digest("hex"),
            },
          });
        },
        async onWhatsApp(phones: readonly string[]) {
          return new Set(phones.filter((p) => !matches(p, options.notOnWhatsApp)));
        },
      };
    },
  };
}

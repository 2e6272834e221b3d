// Session facts published by the sender that owns the session and relayed by the gateway to
// WebSocket clients as they are.
export type SessionStatus =
  "idle" | "connecting" | "qr" | "open" | "reconnecting" | "logged_out" | "closed" | "restricted";

export interface SessionStatusMessage {
  readonly type: "session_status";
  readonly sessionId: string;
  readonly status: SessionStatus;
  readonly reason?: string;
  readonly code?: number;
  readonly account?: string;
  readonly owner?: string;
  readonly at: string;
}

export interface QrUpdateMessage {
  readonly type: "qr_update";
  readonly sessionId: string;
  /** The raw string to render as a QR code (what Baileys emits). */
  readonly qr: string;
  /** The same QR as a PNG data URL, ready for an <img src>. */
  readonly png: string;
  readonly at: string;
}

export type SessionEventMessage = SessionStatusMessage | QrUpdateMessage;

// The seam between the sender and WhatsApp. `sim` stands in for demos, tests and load; `baileys`
// drives a real account. A transport owns one socket per session and reports what happens on it.

import type { SessionStatus } from "../../../shared/messages/sessionEvents.ts";

export type { SessionStatus };

export interface StatusUpdate {
  readonly status: SessionStatus;
  /** Why the session is in this state, in words a user can act on. */
  readonly reason?: string;
  /** WhatsApp's disconnect code when the socket closed (401, 408, 428, 440, 515...). */
  readonly code?: number;
  /** The account's own number (E.164) once logged in. */
  readonly account?: string;
}

export type ReceiptStatus = "delivered" | "read" | "played";

export interface SessionListener {
  onStatus(update: StatusUpdate): void;
  onQr(qr: string): void;
  onReceipt(receipt: { messageId: string; to: string; status: ReceiptStatus }): void;
}

export type SendResult =
  | { ok: true; messageId: string }
  | {
      ok: false;
      reason: string;
      /** The account is being rate-limited (WhatsApp 463): stop sending from it. */
      restricted?: boolean;
    };

export interface SessionConnection {
  readonly sessionId: string;
  connect(): Promise<void>;
  /** Unlinks the device and forgets its credentials. */
  logout(): Promise<void>;
  /** Closes the socket, keeping credentials for the next connect. */
  close(): Promise<void>;
  /** Links the account by phone number instead of QR: returns the code to type on the phone. */
  requestPairingCode(phone: string): Promise<string>;
  /** Shows "typing…" to the recipient for a while, as a person would before sending. */
  sendTyping(to: string, durationMs: number): Promise<void>;
  /** Sends a text with the caller's message id, so receipts and retries can be matched to it. */
  send(to: string, text: string, messageId: string): Promise<SendResult>;
  /** The subset of E.164 numbers that have WhatsApp. */
  onWhatsApp(phones: readonly string[]): Promise<Set<string>>;
}

export interface SessionContext {
  /** Fencing token of this process' lease on the session: stale owners cannot write its state. */
  readonly leaseToken: number;
}

export interface Transport {
  readonly name: string;
  open(sessionId: string, listener: SessionListener, context: SessionContext): SessionConnection;
}

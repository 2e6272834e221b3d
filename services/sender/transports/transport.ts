// The seam between the sender and WhatsApp. `sim` stands in for demos, tests and load; `baileys`
// drives a real account. A transport owns one socket per session and reports what happens on it.

import type { Readable } from "node:stream";
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

/** A message a person sent to the account (a reply to a blast, an opt-out, a question). */
export interface InboundMessage {
  /** WhatsApp's id of the incoming message. */
  readonly messageId: string;
  /**
   * The sender's E.164 phone, resolved from a LID through the mapping the client keeps; undefined
   * only when WhatsApp sent a LID the client has never seen paired with a phone number.
   */
  readonly from: string | undefined;
  /** The JID exactly as received: `<digits>@s.whatsapp.net` or `<lid>@lid`. */
  readonly fromJid: string;
  /** The text, or the caption of a media message; "" when there is none. */
  readonly text: string;
  /** The id of the message this one quotes (a reply to one of ours carries our message id). */
  readonly quotedMessageId?: string;
  /** When WhatsApp says the person sent it. */
  readonly sentAt: Date;
}

/**
 * WhatsApp's own standing of the account against its monthly cap on messages to people who have
 * not replied ("new chats"), as WhatsApp pushes it: warnings as the account nears the cap, then
 * `capped`. The threshold is WhatsApp's and unpublished; the figures come only when it sends them.
 */
export interface NewChatMessageCap {
  readonly status: "none" | "first_warning" | "second_warning" | "capped";
  /** Messages WhatsApp counted in the current cycle, and the cycle's quota, when it says. */
  readonly used?: number;
  readonly quota?: number;
  /** When WhatsApp's current cycle ends, when it says. */
  readonly cycleEndsAt?: Date;
}

export interface SessionListener {
  onStatus(update: StatusUpdate): void;
  onQr(qr: string): void;
  /** `to` is the recipient's E.164 number; absent when WhatsApp named them by a LID the client cannot map. */
  onReceipt(receipt: { messageId: string; to?: string; status: ReceiptStatus }): void;
  onInbound(message: InboundMessage): void;
  /** WhatsApp told the account where it stands against its cap on messages to new chats. */
  onNewChatMessageCap(cap: NewChatMessageCap): void;
}

export type { MediaKind } from "../../../shared/domain/media.ts";
import type { MediaKind } from "../../../shared/domain/media.ts";

/** One attachment: the transport uploads it and sends it as WhatsApp's matching message type. */
export interface MediaContent {
  readonly kind: MediaKind;
  /** The file's bytes, in memory or as a stream read once. */
  readonly body: Uint8Array | Readable;
  readonly mimetype: string;
  /** Shown for documents; kept for the others. */
  readonly fileName?: string;
  /** Text under an image, video or document (audio has none on WhatsApp). */
  readonly caption?: string;
  /** Audio sent as a voice note (push-to-talk) rather than as an audio file. */
  readonly voiceNote?: boolean;
  /**
   * Hex SHA-256 of the body, when the caller knows it: the same bytes sent again (to the next
   * recipient, after a restart) may reuse the account's earlier upload instead of uploading again.
   */
  readonly sha256?: string;
  /** The media library's id of the file, for records (the sim outbox). */
  readonly mediaId?: string;
}

export type SendResult =
  | { ok: true; messageId: string }
  | {
      ok: false;
      reason: string;
      /** The account is being rate-limited (WhatsApp 463): stop sending from it. */
      restricted?: boolean;
      /**
       * Nothing was written for WhatsApp because this account cannot send right now (not open,
       * its socket gone): the recipient is another account's to send, or this one's once back.
       */
      accountDown?: boolean;
      /**
       * Written for WhatsApp, but no ack came (the socket closed, or WhatsApp stayed silent): it
       * may have been delivered, so it is in doubt, never failed and never sent again.
       */
      unconfirmed?: boolean;
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
  /** Uploads the attachment and sends it with the caller's message id; an upload failure is a failed send. */
  sendMedia(to: string, media: MediaContent, messageId: string): Promise<SendResult>;
  /** The subset of E.164 numbers that have WhatsApp. */
  onWhatsApp(phones: readonly string[]): Promise<Set<string>>;
}

export interface SessionContext {
  /** Fencing token of this process' lease on the session: stale owners cannot write its state. */
  readonly leaseToken: number;
  /**
   * The account's proxy (`http://`, `https://`, `socks5://`, `socks5h://`, credentials in the
   * URL): everything the session sends to WhatsApp goes through it. Never log it unmasked.
   */
  readonly proxy?: string;
}

export interface Transport {
  readonly name: string;
  open(sessionId: string, listener: SessionListener, context: SessionContext): SessionConnection;
}

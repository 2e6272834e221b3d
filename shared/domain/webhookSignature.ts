// How a webhook request is signed, and how a receiver checks it. The signature covers the
// timestamp and the exact body, so a receiver can refuse a forged body and a replayed old request
// alike. After a secret is rotated, requests are signed with the new and the previous secret for
// a while, so a receiver can switch over without dropping anything.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SIGNATURE_SCHEME = "v1";

export const WEBHOOK_HEADERS = {
  eventId: "x-wablast-event-id",
  eventType: "x-wablast-event-type",
  timestamp: "x-wablast-timestamp",
  signature: "x-wablast-signature",
  attempt: "x-wablast-attempt",
} as const;

/** 32 random bytes; the whole string (prefix included) is the HMAC key. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/** Hex HMAC-SHA256 of `<timestamp>.<body>` keyed with the secret's UTF-8 bytes. */
export function signBody(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** The signature header: one `v1=<hex>` per secret still valid, comma-separated, newest first. */
export function signatureHeader(
  secrets: readonly string[],
  timestamp: number,
  body: string | Uint8Array,
): string {
  return secrets.map((secret) => `${SIGNATURE_SCHEME}=${signBody(secret, timestamp, body)}`).join(",");
}

export interface SignatureCheck {
  readonly secret: string;
  /** The X-WaBlast-Signature header as received. */
  readonly header: string;
  /** The X-WaBlast-Timestamp header as received (unix seconds). */
  readonly timestamp: string;
  /** The raw request body, before any JSON parsing. */
  readonly body: string | Uint8Array;
  /** Unix seconds now. */
  readonly now: number;
  /** How far the timestamp may be from now; older requests are refused as replays. */
  readonly toleranceSeconds?: number;
}

/** Whether any `v1=` value of the header is the body's signature under the secret, in time. */
export function verifySignature(check: SignatureCheck): boolean {
  if (!/^\d{1,12}$/.test(check.timestamp)) return false;
  const timestamp = Number(check.timestamp);
  if (Math.abs(check.now - timestamp) > (check.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signBody(check.secret, timestamp, check.body), "hex");
  return check.header.split(",").some((part) => {
    const [scheme, value] = part.trim().split("=", 2);
    if (scheme !== SIGNATURE_SCHEME || value === undefined || !/^[0-9a-f]{64}$/.test(value)) return false;
    return timingSafeEqual(Buffer.from(value, "hex"), expected);
  });
}

export interface EndpointSecrets {
  readonly secret: string;
  readonly previousSecret?: string;
  /** ISO time the previous secret stops signing. */
  readonly previousSecretExpiresAt?: string;
}

/** The secrets a request is signed with now: the current one, and the previous during its grace. */
export function signingSecrets(secrets: EndpointSecrets, now: Date): string[] {
  const { secret, previousSecret, previousSecretExpiresAt } = secrets;
  const until = previousSecretExpiresAt === undefined ? NaN : Date.parse(previousSecretExpiresAt);
  return previousSecret !== undefined && until > now.getTime() ? [secret, previousSecret] : [secret];
}

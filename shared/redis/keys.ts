// Every Redis key, built in one place. Ids are validated before they get here; the prefix lets
// several deployments (or a replay) share one Redis without touching each other's keys.
export function projectionKeys(prefix: string) {
  const root = `${prefix}proj:`;
  return {
    root,
    seq: `${root}seq`,
    /** Outcomes and receipts per account over every blast, for metrics. */
    totals: `${root}totals`,
    blast: (blastId: string) => `${root}blast:${blastId}`,
    settled: (blastId: string) => `${root}blast:${blastId}:settled`,
    /** Bitmap of the recipients who replied: a second reply counts nothing. */
    replied: (blastId: string) => `${root}blast:${blastId}:replied`,
    /** Each recipient's first reply (JSON member) by when it was written (score: ms), newest last. */
    replies: (blastId: string) => `${root}blast:${blastId}:replies`,
    failures: (blastId: string) => `${root}blast:${blastId}:failures`,
    blastIndex: `${root}blasts`,
    sessionBlasts: (sessionId: string) => `${root}session:${sessionId}:blasts`,
  };
}

/**
 * Where a blast that waits (scheduled, a draft) keeps its recipients' rows until it starts: a
 * campaign store of its own, one "campaign" per blast id, apart from the saved campaigns.
 */
export const keptRecipientsPrefix = (prefix: string) => `${prefix}kept:`;

export function appKeys(prefix: string) {
  return {
    idempotency: (blastId: string) => `${prefix}idem:${blastId}`,
    /** Which recipient one of our WhatsApp message ids went to, for its receipts. */
    sentMessage: (messageId: string) => `${prefix}msg:${messageId}`,
    sessions: `${prefix}sessions`,
    session: (sessionId: string) => `${prefix}session:${sessionId}`,
    campaigns: `${prefix}campaigns`,
    campaign: (campaignId: string) => `${prefix}campaign:${campaignId}`,
    campaignRecipients: (campaignId: string) => `${prefix}campaign:${campaignId}:recipients`,
    /**
     * A campaign's rows while it is being saved, one list per attempt (two uploads under one id
     * must not write into each other); renamed to campaignRecipients when the whole file is in.
     */
    campaignDraft: (campaignId: string, draftId: string) =>
      `${prefix}campaign:${campaignId}:draft:${draftId}`,
    /** Sorted set of the account's sends in the last day (score: when), for the pacing caps. */
    pace: (sessionId: string) => `${prefix}pace:${sessionId}`,
    /** The deployment's suppression list: E.164 phone to its entry (JSON: source, reason, when). */
    suppression: `${prefix}suppression`,
    /** The same numbers by when they were added (score: ms), for paging newest first. */
    suppressionIndex: `${prefix}suppression:index`,
    /** The latest blast message the account sent a number (JSON), for attributing replies. */
    lastSent: (sessionId: string, phone: string) => `${prefix}last-sent:${sessionId}:${phone}`,
    /** Numbers that ever wrote to the account. */
    repliedTo: (sessionId: string) => `${prefix}session:${sessionId}:replied`,
    /** Set when a consent confirmation answering this inbound message is sent (or being sent). */
    confirmationSent: (sessionId: string, messageId: string) =>
      `${prefix}confirmation:${sessionId}:${messageId}`,
    /** Set once an inbound message has been fully processed: a redelivery or a history sync skips it. */
    inboundProcessed: (sessionId: string, messageId: string) => `${prefix}inbound:${sessionId}:${messageId}`,
    /** When the account first sent (ms): its warm-up days count from here. Kept until a restart. */
    firstSend: (sessionId: string) => `${prefix}session:${sessionId}:first-send`,
    /**
     * Blast messages a number was sent, over every blast (member `<blastId>:<idx>`, score: ms), for
     * the frequency cap; entries older than the longest period a cap may have are trimmed.
     */
    numberSends: (phone: string) => `${prefix}number-sends:${phone}`,
    /**
     * Messages the account sent in a calendar month (`YYYY-MM`, UTC) to numbers that had not
     * written to it, for its unreplied budget.
     */
    unrepliedSends: (sessionId: string, month: string) => `${prefix}session:${sessionId}:unreplied:${month}`,
    /** The blasts that send a media library file: it cannot be deleted while one is unfinished. */
    mediaBlasts: (mediaId: string) => `${prefix}media:${mediaId}:blasts`,
    /**
     * The library's files by their bytes' SHA-256 (field: kind and file name, value: media id): the
     * same file uploaded again, with a blast or a test send, is the one already there.
     */
    mediaByContent: (sha256: string) => `${prefix}media:content:${sha256}`,
    /**
     * An attachment this account already uploaded to WhatsApp (Baileys' encoded media message:
     * URL, media key, hashes, thumbnail), by kind and the bytes' SHA-256: every later recipient,
     * and the account after a sender restart, sends it without uploading again.
     */
    mediaUpload: (sessionId: string, kind: string, sha256: string) =>
      `${prefix}session:${sessionId}:media-upload:${kind}:${sha256}`,
    /** Webhook endpoints by when they were registered (score: ms). */
    webhooks: `${prefix}webhooks`,
    /** Bumped on every change to any endpoint: webhook services reload when it moves. */
    webhooksVersion: `${prefix}webhooks:version`,
    /** One endpoint: URL, events (JSON), description, enabled, secrets. */
    webhook: (webhookId: string) => `${prefix}webhook:${webhookId}`,
    /** The endpoint's delivery log by when each event was first tried (score: ms), capped. */
    webhookDeliveries: (webhookId: string) => `${prefix}webhook:${webhookId}:deliveries`,
    /** Event id to its delivery record (JSON: status, attempts, HTTP status, latency, error). */
    webhookDelivery: (webhookId: string) => `${prefix}webhook:${webhookId}:delivery`,
  };
}

export type ProjectionKeys = ReturnType<typeof projectionKeys>;
export type AppKeys = ReturnType<typeof appKeys>;

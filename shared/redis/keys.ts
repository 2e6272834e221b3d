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
    failures: (blastId: string) => `${root}blast:${blastId}:failures`,
    blastIndex: `${root}blasts`,
    sessionBlasts: (sessionId: string) => `${root}session:${sessionId}:blasts`,
  };
}

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
    /** When the account first sent (ms): its warm-up days count from here. Kept until a restart. */
    firstSend: (sessionId: string) => `${prefix}session:${sessionId}:first-send`,
  };
}

export type ProjectionKeys = ReturnType<typeof projectionKeys>;
export type AppKeys = ReturnType<typeof appKeys>;

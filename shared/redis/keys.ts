// Every Redis key, built in one place. Ids are validated before they get here; the prefix lets
// several deployments (or a replay) share one Redis without touching each other's keys.
export function projectionKeys(prefix: string) {
  const root = `${prefix}proj:`;
  return {
    root,
    seq: `${root}seq`,
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
    sessions: `${prefix}sessions`,
    session: (sessionId: string) => `${prefix}session:${sessionId}`,
    campaigns: `${prefix}campaigns`,
    campaign: (campaignId: string) => `${prefix}campaign:${campaignId}`,
    campaignRecipients: (campaignId: string) => `${prefix}campaign:${campaignId}:recipients`,
  };
}

export type ProjectionKeys = ReturnType<typeof projectionKeys>;
export type AppKeys = ReturnType<typeof appKeys>;

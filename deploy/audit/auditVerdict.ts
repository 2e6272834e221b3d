// What `npm audit --omit=dev --json` means for a release: high and critical findings fail it
// unless docs/SECURITY.md explains why they do not apply (listed in accepted.json by advisory).

export interface AuditAdvisory {
  readonly source?: number;
  readonly name?: string;
  readonly title?: string;
  readonly url?: string;
  readonly severity?: string;
}

export interface AuditReport {
  readonly statusCode?: number;
  readonly message?: string;
  readonly vulnerabilities?: Record<string, { severity: string; via: Array<string | AuditAdvisory> }>;
}

export type AuditVerdict =
  | { kind: "unreachable"; reason: string }
  | { kind: "clean"; belowThreshold: number }
  | { kind: "findings"; findings: Array<{ pkg: string; severity: string; advisory: string; title: string }> };

const BLOCKING = new Set(["high", "critical"]);

/** `accepted`: advisory URLs or GHSA ids that SECURITY.md explains. */
export function auditVerdict(report: AuditReport, accepted: ReadonlySet<string>): AuditVerdict {
  if (!report.vulnerabilities) {
    return { kind: "unreachable", reason: report.message ?? "npm audit returned no report" };
  }
  const findings: Array<{ pkg: string; severity: string; advisory: string; title: string }> = [];
  let belowThreshold = 0;
  for (const [pkg, vulnerability] of Object.entries(report.vulnerabilities)) {
    for (const via of vulnerability.via) {
      // A string names another vulnerable package, reported under its own entry.
      if (typeof via === "string") continue;
      const severity = via.severity ?? vulnerability.severity;
      const advisory = via.url ?? String(via.source ?? "");
      const id = advisory.split("/").pop() ?? advisory;
      if (!BLOCKING.has(severity)) belowThreshold++;
      else if (!accepted.has(advisory) && !accepted.has(id))
        findings.push({ pkg, severity, advisory, title: via.title ?? "" });
    }
  }
  return findings.length > 0 ? { kind: "findings", findings } : { kind: "clean", belowThreshold };
}

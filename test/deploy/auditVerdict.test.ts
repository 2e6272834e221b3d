// `make audit` fails a release on unexplained high or critical advisories, and tells an
// unreachable advisory service apart from a clean report.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auditVerdict, type AuditReport } from "../../deploy/audit/auditVerdict.ts";

const report: AuditReport = {
  vulnerabilities: {
    axios: {
      severity: "high",
      via: [
        {
          source: 1,
          name: "axios",
          title: "SSRF",
          url: "https://github.com/advisories/GHSA-aaaa-bbbb-cccc",
          severity: "high",
        },
      ],
    },
    "@whiskeysockets/baileys": { severity: "high", via: ["axios"] },
    debug: {
      severity: "low",
      via: [{ title: "ReDoS", url: "https://github.com/advisories/GHSA-dddd", severity: "low" }],
    },
  },
};

describe("auditVerdict", () => {
  it("fails on a high advisory, once, under the package that has it", () => {
    const verdict = auditVerdict(report, new Set());
    assert.equal(verdict.kind, "findings");
    assert.deepEqual(verdict.kind === "findings" && verdict.findings.map((f) => f.pkg), ["axios"]);
  });

  it("passes when SECURITY.md explains it (by GHSA id or URL), counting the lower ones", () => {
    assert.deepEqual(auditVerdict(report, new Set(["GHSA-aaaa-bbbb-cccc"])), {
      kind: "clean",
      belowThreshold: 1,
    });
    assert.equal(
      auditVerdict(report, new Set(["https://github.com/advisories/GHSA-aaaa-bbbb-cccc"])).kind,
      "clean",
    );
  });

  it("reports an unreachable advisory service as such, not as clean", () => {
    const verdict = auditVerdict(
      { statusCode: 405, message: "405 Method Not Allowed - POST …/bulk" },
      new Set(),
    );
    assert.deepEqual(verdict, { kind: "unreachable", reason: "405 Method Not Allowed - POST …/bulk" });
  });
});

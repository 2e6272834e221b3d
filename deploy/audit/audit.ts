// `make audit`: npm audit of the runtime dependencies. Fails on a high or critical advisory that
// docs/SECURITY.md does not explain; says so, and passes, when the advisory service cannot be
// reached (these sandboxes get 405 from it) unless AUDIT_REQUIRED=1.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { auditVerdict, type AuditReport } from "./auditVerdict.ts";

const run = promisify(execFile);
// npm audit exits 1 when it finds something or cannot reach the service; the JSON says which.
const output = await run("npm", ["audit", "--omit=dev", "--json"], { maxBuffer: 64 * 1024 * 1024 }).catch(
  (err: { stdout?: string }) => ({ stdout: err.stdout ?? "{}" }),
);
const accepted = new Set(
  Object.keys(JSON.parse(await readFile(new URL("accepted.json", import.meta.url), "utf8")) as object),
);
const verdict = auditVerdict(JSON.parse(output.stdout || "{}") as AuditReport, accepted);

if (verdict.kind === "unreachable") {
  console.log(`npm audit could not reach the advisory service: ${verdict.reason}`);
  console.log("The last offline review is in docs/SECURITY.md.");
  process.exitCode = process.env.AUDIT_REQUIRED === "1" ? 1 : 0;
} else if (verdict.kind === "clean") {
  console.log(`npm audit: no high or critical advisories (${verdict.belowThreshold} lower ones)`);
} else {
  for (const f of verdict.findings) console.log(`${f.severity}: ${f.pkg}: ${f.title} ${f.advisory}`);
  console.log("Upgrade, or explain in docs/SECURITY.md and list the advisory in deploy/audit/accepted.json.");
  process.exitCode = 1;
}

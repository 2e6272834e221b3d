// Planning a blast from a large file and a campaign together: the sources are joined without
// spreading them into push(), which overflowed the stack past ~125,000 rows (a 500 on a
// 1,000,000-row upload that MAX_ROWS allows).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planBlast } from "../../../services/gateway/blasts/blastCommands.ts";
import type { UploadedFile } from "../../../services/gateway/http/uploads.ts";
import type { GatewayDeps } from "../../../services/gateway/deps.ts";
import { loadConfig } from "../../../shared/config/config.ts";
import { CampaignStore } from "../../../shared/redis/campaigns.ts";
import { SessionRegistry } from "../../../shared/redis/sessions.ts";
import { SuppressionList } from "../../../shared/redis/suppression.ts";
import { startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";

const ROWS = 300_000;

/** An upload as the gateway holds it: spooled to a temporary file. */
async function spooled(filename: string, text: string): Promise<UploadedFile> {
  const path = join(await mkdtemp(join(tmpdir(), "wa-blast-test-")), filename);
  await writeFile(path, text);
  return { filename, mimetype: "text/csv", path, size: Buffer.byteLength(text) };
}

describe("planning a large blast", () => {
  let gw: GatewayUnderTest;
  let deps: GatewayDeps;

  before(async () => {
    gw = await startGatewayWithServers();
    const config = loadConfig({ MAX_ROWS: String(ROWS), API_KEYS: "test-key-0123456789abcdef" });
    deps = {
      config,
      nats: gw.nats,
      redis: gw.redis,
      projection: gw.projection,
      sessions: new SessionRegistry(gw.redis, config.REDIS_PREFIX),
      campaigns: new CampaignStore(gw.redis, config.REDIS_PREFIX),
      suppression: new SuppressionList(gw.redis, config.REDIS_PREFIX),
    };
  });
  after(async () => {
    await gw?.close();
  });

  it(`plans ${ROWS.toLocaleString("en")} rows from a file plus the request's own recipients`, async () => {
    const lines = ["phone,name"];
    for (let i = 0; i < ROWS; i++) {
      lines.push(`+1212${200 + Math.floor(i / 10_000)}${String(i % 10_000).padStart(4, "0")},P${i}`);
    }
    const plan = await planBlast(deps, {
      sessionIds: ["s1"],
      message: "Hi {name}",
      recipients: [{ phone: "+12025550100", name: "Ana" }],
      file: await spooled("big.csv", lines.join("\n")),
    });
    assert.equal(plan.total, ROWS + 1);
    assert.deepEqual(plan.rejected, { count: 0, sample: [] });
    assert.equal(plan.messages[0]?.text, "Hi Ana");
  });
});

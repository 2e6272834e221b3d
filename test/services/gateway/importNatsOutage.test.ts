// NATS goes away in the middle of a large import, after part of the list was queued. The upload
// is answered 503 with the reason, no blast exists, and once NATS is back the part that was queued
// is withdrawn: nothing of the refused blast is left for a sender to send.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BLAST_EVENTS, SEND_WORK, subjects } from "../../../shared/nats/topology.ts";
import { multipart, startGatewayApp, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { startServers, type Servers } from "../../harness/servers.ts";

const ROWS = 60_000;

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("an import when NATS goes away halfway", () => {
  let servers: Servers;
  let gw: GatewayUnderTest;

  before(async () => {
    servers = await startServers();
    gw = await startGatewayApp(servers, { MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) });
  });

  after(async () => {
    await gw?.close();
    await servers?.dispose();
  });

  it("answers 503 with the reason and leaves nothing that will be sent", async () => {
    const lines = ["phone,name"];
    for (let i = 0; i < ROWS; i++) lines.push(`+12124${String(i).padStart(6, "0")},P${i}`);
    const form = multipart(
      { sessionId: "s1", message: "Hi {name}" },
      { field: "recipientsFile", filename: "big.csv", data: lines.join("\n") },
    );
    // Stop NATS once the import says part of the list is queued.
    let stopped: Promise<void> | undefined;
    const progress = gw.nats.nc.subscribe(subjects.importProgress("imp-outage"), {
      callback: (_err, msg) => {
        const { recipients } = msg.json<{ recipients: number }>();
        if (recipients >= 2000 && !stopped) stopped = servers.nats.stop(true);
      },
    });
    await gw.nats.nc.flush();
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...form,
      headers: { ...form.headers, "import-id": "imp-outage" },
    });
    progress.unsubscribe();
    assert.ok(stopped, "NATS was stopped during the import");
    assert.equal(res.statusCode, 503, res.body);
    assert.match(res.json<{ message: string }>().message, /could not queue the blast/);

    await servers.nats.start();
    // Once NATS is back, what had been queued is withdrawn, and no blast was ever created.
    await until(
      async () => {
        const info = await gw.nats.jsm.streams.info(SEND_WORK);
        return info.state.messages === 0 ? true : undefined;
      },
      60_000,
      "the queued part withdrawn",
    );
    const created = await gw.nats.jsm.streams.info(BLAST_EVENTS, { subjects_filter: "blast.*.created" });
    assert.equal(Object.keys(created.state.subjects ?? {}).length, 0, "no blast created");
    const list = (await gw.inject("/api/blasts")).json<{ total: number }>();
    assert.equal(list.total, 0);
  });
});

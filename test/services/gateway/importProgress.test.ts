// An upload tells its progress while its request runs: a client that names the import
// (`Import-Id`) and watches `/?importId=` sees rows read and recipients queued grow, then `done`
// with the same figures as the answer; a refused upload ends with `failed` and the reason. And a
// blast whose import failed halfway leaves nothing that will be sent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { SEND_WORK, subjects } from "../../../shared/nats/topology.ts";
import {
  TEST_API_KEY,
  multipart,
  startGatewayWithServers,
  type GatewayUnderTest,
} from "../../harness/gatewayApp.ts";

interface Progress {
  type: string;
  importId: string;
  phase: "reading" | "done" | "failed";
  rows: number;
  recipients: number;
  rejected: number;
  duplicates: number;
  error?: string;
}

describe("import progress", () => {
  let gw: GatewayUnderTest;
  let wsUrl: string;

  before(async () => {
    gw = await startGatewayWithServers({ MAX_UPLOAD_BYTES: String(8 * 1024 * 1024) });
    wsUrl = (await gw.app.listen({ port: 0, host: "127.0.0.1" })).replace("http", "ws");
  });
  after(async () => {
    await gw?.close();
  });

  /** A socket on `/?importId=`, open before the upload starts, keeping what it receives. */
  async function watchImport(importId: string): Promise<{ received: Progress[]; close: () => void }> {
    const socket = new WebSocket(`${wsUrl}/?importId=${importId}`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    const received: Progress[] = [];
    socket.on("message", (raw) => received.push(JSON.parse(String(raw)) as Progress));
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return { received, close: () => socket.close() };
  }

  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it("reports rows and recipients as a large CSV is read, then done with the answer's figures", async () => {
    const rows = 30_000;
    const lines = ["phone,name"];
    for (let i = 0; i < rows; i++)
      lines.push(`+1212${300 + Math.floor(i / 10_000)}${String(i % 10_000).padStart(4, "0")},P${i}`);
    lines.push("not a phone,X", `+12123000000,Again`);
    const watch = await watchImport("imp-big");
    const form = multipart(
      { sessionId: "s1", message: "Hi {name}" },
      { field: "recipientsFile", filename: "big.csv", data: lines.join("\n") },
    );
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...form,
      headers: { ...form.headers, "import-id": "imp-big" },
    });
    assert.equal(res.statusCode, 202, res.body);
    const answer = res.json<{ total: number; duplicates: number; rejected: { count: number } }>();
    await until(() => watch.received.some((p) => p.phase === "done"));
    watch.close();
    const done = watch.received.at(-1);
    assert.deepEqual(done, {
      type: "import_progress",
      importId: "imp-big",
      phase: "done",
      rows: rows + 2,
      recipients: answer.total,
      rejected: answer.rejected.count,
      duplicates: answer.duplicates,
    });
    assert.equal(answer.total, rows);
    const reading = watch.received.filter((p) => p.phase === "reading");
    assert.ok(reading.length >= 1, "progress while reading, not only at the end");
    for (let i = 1; i < reading.length; i++) assert.ok(reading[i]!.rows >= reading[i - 1]!.rows);
    assert.ok(reading[0]!.rows < rows + 2, "the first report came before the last row was read");
  });

  it("ends with failed and the reason, and leaves nothing that will be sent", async () => {
    const lines = ["phone,name"];
    for (let i = 0; i < 3_000; i++) lines.push(`+1212400${String(i).padStart(4, "0")},P${i}`);
    // Far down the file: found only after the first recipients were queued.
    lines.push(`+12124009999,${"x".repeat(2000)}`);
    const queuedWork = async () => {
      const info = await gw.nats.jsm.streams.info(SEND_WORK, { subjects_filter: subjects.allSendWork });
      return Object.values(info.state.subjects ?? {}).reduce((n, c) => n + c, 0);
    };
    const blasts = async () => (await gw.inject("/api/blasts")).json<{ total: number }>().total;
    const before = { work: await queuedWork(), blasts: await blasts() };
    const watch = await watchImport("imp-bad");
    const form = multipart(
      { sessionId: "s1", message: "Hi {name}" },
      { field: "recipientsFile", filename: "late.csv", data: lines.join("\n") },
    );
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...form,
      headers: { ...form.headers, "import-id": "imp-bad" },
    });
    assert.equal(res.statusCode, 413, res.body);
    assert.match(res.json<{ message: string }>().message, /longer than/);
    await until(() => watch.received.some((p) => p.phase === "failed"));
    watch.close();
    const failed = watch.received.at(-1)!;
    assert.equal(failed.phase, "failed");
    assert.match(failed.error ?? "", /longer than/);
    assert.ok(failed.recipients >= 1000, "some recipients had been queued before the fault was met");
    // What had been queued was purged, and no blast exists to send it.
    assert.equal(await queuedWork(), before.work, "no work left queued");
    assert.equal(await blasts(), before.blasts, "no blast was created");
  });

  it("refuses an import id that would break a subject", async () => {
    const form = multipart(
      { sessionId: "s1", message: "hi" },
      { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550100\n" },
    );
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...form,
      headers: { ...form.headers, "import-id": "a.b" },
    });
    assert.equal(res.statusCode, 400);
  });
});

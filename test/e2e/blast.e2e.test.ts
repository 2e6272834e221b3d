// The whole path a user takes: upload a 1,000-row .xlsx (duplicates, invalid rows, a 3% failure
// rate), follow the blast on a WebSocket to the end, and check counters, the event log and the
// outbox exactly. Then rebuild the counters from the log and compare with the live ones. A blast
// of two message variants sends each recipient the one its log records, exported in the results.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as XLSX from "xlsx";
import WebSocket from "ws";
import { rebuildProjection } from "../../services/projector/replay.ts";
import { simFails } from "../../services/sender/transports/simPeople.ts";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { dumpKeys, eventsOf, outbox, outcomesOf } from "../harness/inspect.ts";
import {
  startPlatform,
  untilBlastCompleted,
  type Platform,
  type RunningService,
} from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import type { Redis } from "ioredis";

const FAILURE_RATE = 0.03;

function buildSheet() {
  const rows: (string | number)[][] = [["Phone", "Name", "City"]];
  const formats = [
    (n: string) => `+1 202-555-${n}`,
    (n: string) => `(202) 555-${n}`,
    (n: string) => `202555${n}`,
  ];
  const line = (i: number) => String(i).padStart(4, "0");
  for (let i = 0; i < 940; i++) rows.push([formats[i % 3]!(line(i)), `N${i}`, "Paris"]);
  for (let i = 0; i < 30; i++) rows.push([formats[(i + 1) % 3]!(line(i)), `Dup${i}`, "Rome"]);
  for (let i = 0; i < 25; i++) rows.push([i % 2 ? "12345" : "not a phone", `Bad${i}`, "Oslo"]);
  for (let i = 0; i < 5; i++) rows.push([`+1202555${9990 + i}`, "", "Lima"]);
  const workbook = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows), "recipients");
  const expected = new Map<string, string>();
  for (let i = 0; i < 940; i++) expected.set(`+1202555${line(i)}`, `Hi N${i} from Paris`);
  return { file: XLSX.write(workbook, { type: "buffer", bookType: "xlsx" }) as Buffer, expected };
}

describe("a blast from an uploaded spreadsheet, end to end", () => {
  let servers: Servers;
  let platform: Platform;
  let nats: Nats;
  let redis: Redis;
  let sender: RunningService;

  before(async () => {
    servers = await startServers();
    platform = await startPlatform(servers, { SIM_FAILURE_RATE: String(FAILURE_RATE) });
    await platform.start("gateway");
    await platform.start("projector");
    sender = await platform.start("sender");
    nats = await connectNats(servers.nats.url, "test");
    redis = connectRedis(servers.redis.url);
  });

  after(async () => {
    await nats?.nc.close();
    redis?.disconnect();
    await platform?.stop();
    await servers?.dispose();
  });

  it("sends every valid recipient once, reports the rest, and the log replays to the same counters", async () => {
    const { file, expected } = buildSheet();
    const form = new FormData();
    form.set("sessionId", "s1");
    form.set("message", "Hi {name} from {city}");
    form.set("recipientsFile", new Blob([new Uint8Array(file)]), "recipients.xlsx");
    const res = await platform.api(`/api/blasts`, { method: "POST", body: form });
    const created = (await res.json()) as {
      blastId: string;
      total: number;
      duplicates: number;
      rejected: { count: number; sample: { reason: string }[] };
    };
    assert.equal(res.status, 202, JSON.stringify(created));
    assert.equal(created.total, 940);
    assert.equal(created.duplicates, 30);
    assert.equal(created.rejected.count, 30);
    assert.equal(created.rejected.sample.length, 20);
    assert.deepEqual(
      new Set(created.rejected.sample.map((r) => r.reason)),
      new Set(["phone has invalid characters", "invalid phone number"]),
    );

    const started = Date.now();
    const updates: Array<{ status: string; sent: number; failed: number; pending: number; total: number }> =
      [];
    await new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`${platform.wsUrl}/?blastId=${created.blastId}`, {
        headers: platform.authHeaders,
      });
      const timer = setTimeout(
        () => reject(new Error(`no completion; last: ${JSON.stringify(updates.at(-1))}\n${sender.output()}`)),
        60_000,
      );
      socket.on("message", (raw) => {
        const update = JSON.parse(String(raw)) as (typeof updates)[number] & { type: string };
        assert.equal(update.type, "blast_progress");
        updates.push(update);
        if (update.status === "completed") {
          clearTimeout(timer);
          socket.close();
          resolve();
        }
      });
      socket.on("error", reject);
    });
    const seconds = (Date.now() - started) / 1000;
    const failedPhones = [...expected.keys()].filter((p) => simFails(p, FAILURE_RATE));
    assert.ok(failedPhones.length > 10 && failedPhones.length < 60, `${failedPhones.length} sim failures`);
    const final = updates.at(-1)!;
    assert.deepEqual(
      {
        status: final.status,
        total: final.total,
        sent: final.sent,
        failed: final.failed,
        pending: final.pending,
      },
      {
        status: "completed",
        total: 940,
        sent: 940 - failedPhones.length,
        failed: failedPhones.length,
        pending: 0,
      },
    );
    assert.ok(updates.length <= Math.ceil(seconds * 10) + 5, `${updates.length} updates in ${seconds}s`);
    for (let i = 1; i < updates.length; i++) {
      assert.ok(
        updates[i]!.sent + updates[i]!.failed >= updates[i - 1]!.sent + updates[i - 1]!.failed,
        "progress never goes back",
      );
    }

    const api = (await (await platform.api(`/api/blasts/${created.blastId}`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(api.sent, 940 - failedPhones.length);
    assert.equal(api.failed, failedPhones.length);
    assert.equal(api.status, "completed");

    const events = await eventsOf(nats, created.blastId);
    const outcomes = outcomesOf(events);
    assert.equal(events.filter((e) => e.type === "blast.created").length, 1);
    assert.equal(events.filter((e) => e.type === "blast.completed").length, 1);
    assert.equal(outcomes.length, 940, "one outcome per recipient");
    assert.equal(new Set(outcomes.map((o) => o.idx)).size, 940);
    assert.ok(
      outcomes.every((o) => o.sessionId === "s1"),
      "each outcome names the account that sent it",
    );
    const failedInLog = outcomes
      .filter((o) => o.kind === "failed")
      .map((o) => o.phone)
      .sort();
    assert.deepEqual(failedInLog, [...failedPhones].sort());

    const sentLines = (await outbox(platform.outboxPath)).filter((l) => l.sessionId === "s1");
    assert.equal(sentLines.length, 940 - failedPhones.length, "outbox has each sent message once");
    assert.equal(new Set(sentLines.map((l) => l.to)).size, sentLines.length, "no number messaged twice");
    for (const line of sentLines) assert.equal(line.text, expected.get(line.to), `text for ${line.to}`);
    for (const phone of failedPhones) assert.ok(!sentLines.some((l) => l.to === phone));

    const replayed = await rebuildProjection(nats, redis, "replay:");
    assert.equal(replayed, events.length, "the replay read the blast's whole log");
    assert.deepEqual(await dumpKeys(redis, "replay:proj:"), await dumpKeys(redis, "wa:proj:"));
  });

  it("sends each recipient the variant the log records for them, and exports it once completed", async () => {
    const variants = [
      { text: "A {name}", weight: 1 },
      { text: "B {name}", weight: 2 },
    ];
    const recipients = Array.from({ length: 40 }, (_, i) => ({
      phone: `+1202555${7000 + i}`,
      name: `V${i}`,
    }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId: "s1", variants, recipients }),
    });
    const { blastId } = (await res.json()) as { blastId: string };
    assert.equal(res.status, 202, blastId);
    await untilBlastCompleted(platform, blastId, 60_000);

    const variantOf = new Map<number, string | undefined>();
    for (const event of await eventsOf(nats, blastId)) {
      if (event.type === "blast.recipients_added")
        for (const r of event.data.recipients) variantOf.set(r.idx, r.variant);
    }
    assert.deepEqual(new Set(variantOf.values()), new Set(["1", "2"]));
    const sent = new Map(
      (await outbox(platform.outboxPath))
        .filter((l) => l.to.startsWith("+12025557"))
        .map((l) => [l.to, l.text]),
    );
    const failed = recipients.filter((r) => simFails(r.phone, FAILURE_RATE)).length;
    assert.equal(sent.size, recipients.length - failed);
    const csv = await (await platform.api(`/api/blasts/${blastId}/results.csv`)).text();
    const [header, ...lines] = csv.split("\r\n").filter(Boolean);
    const columns = header?.split(",") ?? [];
    for (const line of lines) {
      const cells = line.split(",");
      const idx = Number(cells[columns.indexOf("idx")]);
      const variant = cells[columns.indexOf("variant")];
      assert.equal(variant, variantOf.get(idx), `variant of ${idx}`);
      const text = sent.get(recipients[idx]?.phone ?? "");
      if (cells[columns.indexOf("outcome")] === "sent") {
        assert.equal(text, `${variant === "1" ? "A" : "B"} ${recipients[idx]?.name}`);
      }
    }
    assert.equal(lines.length, recipients.length);
  });
});

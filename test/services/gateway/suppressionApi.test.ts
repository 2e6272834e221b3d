// The suppression list through the API (app.inject against real NATS and Redis): numbers added by
// hand and from files, checked, listed, exported and removed, each change a consent event; a
// listed number is a `suppressed` rejected row in a blast's preview and in its 202; and a file
// refused halfway adds nothing.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import * as XLSX from "xlsx";
import { appKeys } from "../../../shared/redis/keys.ts";
import { multipart, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { consentHistory } from "../../harness/inspect.ts";

const MAX_ROWS = 1000;
const keys = appKeys("wa:");

interface Change {
  added: number;
  alreadyListed: number;
  duplicates: number;
  rejected: { count: number; sample: Array<{ source: string; row: number; phone: string; reason: string }> };
}

interface Entry {
  phone: string;
  source: string;
  reason?: string;
  at: string;
}

describe("the suppression list API", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers({ MAX_ROWS: String(MAX_ROWS) });
  });
  after(async () => {
    await gw?.close();
  });
  beforeEach(async () => {
    await gw.redis.del(keys.suppression, keys.suppressionIndex);
  });

  const suppress = (phones: string[], reason?: string) =>
    gw.inject({
      method: "POST",
      url: "/api/suppression",
      payload: { phones, ...(reason !== undefined ? { reason } : {}) },
    });
  const importFile = (filename: string, data: string | Buffer) => {
    const form = multipart({}, { field: "file", filename, data });
    return gw.inject({ method: "POST", url: "/api/suppression/import", ...form });
  };
  const listed = async () =>
    (await gw.inject("/api/suppression?pageSize=500")).json<{ items: Entry[]; total: number }>();

  it("adds numbers in any format, rejects what is not a number, and logs each opt-out", async () => {
    const before = (await consentHistory(gw.nats)).length;
    const res = await suppress(
      ["+1 202 555 0100", "(202) 555-0101", "2025550100", "not a phone", ""],
      "asked by phone",
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json<Change>(), {
      added: 2,
      alreadyListed: 0,
      duplicates: 1,
      rejected: {
        count: 2,
        sample: [
          { source: "body", row: 4, phone: "not a phone", reason: "phone has invalid characters" },
          { source: "body", row: 5, phone: "", reason: "empty phone" },
        ],
      },
    });
    const again = await suppress(["+12025550101", "+12025550102"], "second ask");
    assert.deepEqual(
      { ...again.json<Change>(), rejected: undefined },
      { added: 1, alreadyListed: 1, duplicates: 0, rejected: undefined },
    );
    // A listed number keeps its first entry.
    const check = await gw.inject(`/api/suppression/${encodeURIComponent("(202) 555-0101")}`);
    assert.equal(check.statusCode, 200, check.body);
    assert.deepEqual(
      { ...check.json<Entry>(), at: undefined },
      { phone: "+12025550101", source: "api", reason: "asked by phone", at: undefined },
    );
    const events = (await consentHistory(gw.nats)).slice(before);
    assert.deepEqual(events.map((e) => [e.type, e.data.phone, e.data.source, e.data.reason]).sort(), [
      ["consent.optout", "+12025550100", "api", "asked by phone"],
      ["consent.optout", "+12025550101", "api", "asked by phone"],
      ["consent.optout", "+12025550102", "api", "second ask"],
    ]);
    const page = await listed();
    assert.equal(page.total, 3);
    assert.equal(page.items[0]?.phone, "+12025550102", "the newest first");
    assert.deepEqual(page.items.map((e) => e.phone).sort(), ["+12025550100", "+12025550101", "+12025550102"]);
  });

  it("refuses requests with nothing to add, and numbers that are not numbers in the path", async () => {
    const none = await suppress(["nope", "123"]);
    assert.equal(none.statusCode, 400);
    assert.equal(none.json<{ details: { rejected: { count: number } } }>().details.rejected.count, 2);
    assert.equal((await suppress([])).statusCode, 400);
    assert.equal((await gw.inject("/api/suppression/not-a-phone")).statusCode, 400);
    assert.equal((await gw.inject("/api/suppression/%2B12025550199")).statusCode, 404);
    assert.equal(
      (await gw.inject({ method: "DELETE", url: "/api/suppression/12025550199" })).statusCode,
      404,
    );
    const json = await gw.inject({
      method: "POST",
      url: "/api/suppression/import",
      payload: { file: "x.csv" },
    });
    assert.equal(json.statusCode, 415, json.body);
    assert.equal((await listed()).total, 0);
  });

  it("removes a number, logging the opt-in", async () => {
    await suppress(["+12025550100"]);
    const before = (await consentHistory(gw.nats)).length;
    const removed = await gw.inject({
      method: "DELETE",
      url: `/api/suppression/${encodeURIComponent("+1 202 555 0100")}?reason=${encodeURIComponent("wrote START")}`,
    });
    assert.equal(removed.statusCode, 204, removed.body);
    assert.equal((await gw.inject("/api/suppression/%2B12025550100")).statusCode, 404);
    assert.equal((await listed()).total, 0);
    const events = (await consentHistory(gw.nats)).slice(before);
    assert.deepEqual(
      events.map((e) => [e.type, e.data.phone, e.data.source, e.data.reason]),
      [["consent.optin", "+12025550100", "api", "wrote START"]],
    );
    assert.equal(
      (await gw.inject({ method: "DELETE", url: "/api/suppression/%2B12025550100" })).statusCode,
      404,
    );
  });

  it("imports a file: valid numbers added, invalid ones rejected rows, duplicates merged", async () => {
    await suppress(["+12025550103"]);
    const before = (await consentHistory(gw.nats)).length;
    const csv = [
      "Name,Phone",
      "Ana,+1 202 555 0100",
      "Bob,(202) 555-0101",
      "Ana again,2025550100",
      "Nobody,call me",
      "Cy,+12025550103",
      "Di,12025550104",
    ].join("\n");
    const res = await importFile("opt-outs.csv", csv);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json<Change>(), {
      added: 3,
      alreadyListed: 1,
      duplicates: 1,
      rejected: {
        count: 1,
        sample: [{ source: "file", row: 5, phone: "call me", reason: "phone has invalid characters" }],
      },
    });
    const page = await listed();
    assert.equal(page.total, 4);
    const byPhone = new Map(page.items.map((e) => [e.phone, e]));
    assert.equal(byPhone.get("+12025550101")?.source, "import");
    assert.equal(byPhone.get("+12025550101")?.reason, "opt-outs.csv");
    assert.equal(byPhone.get("+12025550103")?.source, "api", "a listed number keeps its entry");
    const events = (await consentHistory(gw.nats)).slice(before);
    assert.deepEqual(
      events.map((e) => [e.type, e.data.phone, e.data.source, e.data.reason]).sort(),
      ["+12025550100", "+12025550101", "+12025550104"].map((p) => [
        "consent.optout",
        p,
        "import",
        "opt-outs.csv",
      ]),
    );
  });

  it("imports an .xlsx through the same streaming reader", async () => {
    const workbook = XLSX.utils.book_new();
    const rows = [
      ["WhatsApp number", "Note"],
      ["+1 202 555 0110", "a"],
      ["oops", "b"],
      [2025550111, "c"],
    ];
    XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows), "optouts");
    const file = XLSX.write(workbook, { type: "buffer", bookType: "xlsx" }) as Buffer;
    const res = await importFile("optouts.xlsx", file);
    assert.equal(res.statusCode, 200, res.body);
    const change = res.json<Change>();
    assert.deepEqual([change.added, change.alreadyListed, change.rejected.count], [2, 0, 1]);
    assert.equal((await gw.inject("/api/suppression/2025550111")).json<Entry>().reason, "optouts.xlsx");
  });

  it("adds nothing from a file that breaks a limit halfway, or has no number at all", async () => {
    const before = (await consentHistory(gw.nats)).length;
    const rows = ["phone"];
    for (let i = 0; i < MAX_ROWS + 200; i++) rows.push(`+1212555${String(i).padStart(4, "0")}`);
    const tooLong = await importFile("long.csv", rows.join("\n"));
    assert.equal(tooLong.statusCode, 413, tooLong.body);
    assert.match(tooLong.json<{ message: string }>().message, /more than 1000 rows/);

    const cells = ["phone,note"];
    for (let i = 0; i < 600; i++)
      cells.push(`+1212555${String(i).padStart(4, "0")},${i === 500 ? "x".repeat(1001) : "ok"}`);
    const wideCell = await importFile("cells.csv", cells.join("\n"));
    assert.equal(wideCell.statusCode, 413, wideCell.body);

    const noPhones = await importFile("bad.csv", "phone\nnope\n123\n");
    assert.equal(noPhones.statusCode, 400, noPhones.body);
    const noColumn = await importFile("nocolumn.csv", "name\nAna\n");
    assert.equal(noColumn.statusCode, 400, noColumn.body);
    const notSheet = await importFile("list.pdf", "%PDF-1.4");
    assert.equal(notSheet.statusCode, 415, notSheet.body);

    assert.equal((await listed()).total, 0, "nothing half-imported");
    assert.equal((await consentHistory(gw.nats)).length, before, "and no opt-out logged");
  });

  it("exports every entry as CSV, formulas defused", async () => {
    await suppress(["+12025550100"], '=HYPERLINK("http://evil")');
    await suppress(["+12025550101"], "plain, with a comma");
    const res = await gw.inject("/api/suppression/export.csv");
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers["content-type"]), /^text\/csv/);
    assert.match(String(res.headers["content-disposition"]), /attachment; filename="suppression.csv"/);
    const lines = res.body.split("\r\n").filter(Boolean);
    assert.equal(lines[0], "phone,source,reason,session_id,at");
    assert.equal(lines.length, 3);
    assert.ok(
      lines.some((l) => l.startsWith(`'+12025550100,api,"'=HYPERLINK(""http://evil"")",,`)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith(`'+12025550101,api,"plain, with a comma",,`)),
      lines.join("\n"),
    );
  });

  it("rejects listed numbers as `suppressed` in a blast's preview and in its 202", async () => {
    await suppress(["+12025550101"]);
    const body = {
      sessionId: "s1",
      message: "Hi {name}",
      recipients: [
        { phone: "+12025550100", name: "Ana" },
        { phone: "+12025550101", name: "Bob" },
        { phone: "2025550101", name: "Bob again" },
        { phone: "+12025550102", name: "Cy" },
      ],
    };
    const preview = await gw.inject({ method: "POST", url: "/api/blasts/preview", payload: body });
    assert.equal(preview.statusCode, 200, preview.body);
    const plan = preview.json<{
      total: number;
      duplicates: number;
      rejected: Change["rejected"];
      messages: Array<{ idx: number; phone: string }>;
    }>();
    assert.equal(plan.total, 2);
    assert.equal(plan.duplicates, 1);
    assert.deepEqual(plan.rejected, {
      count: 1,
      sample: [{ source: "body", row: 2, phone: "+12025550101", reason: "suppressed" }],
    });
    assert.deepEqual(
      plan.messages.map((m) => [m.idx, m.phone]),
      [
        [0, "+12025550100"],
        [1, "+12025550102"],
      ],
    );
    const started = await gw.inject({ method: "POST", url: "/api/blasts", payload: body });
    assert.equal(started.statusCode, 202, started.body);
    const result = started.json<{ total: number; rejected: Change["rejected"] }>();
    assert.equal(result.total, 2);
    assert.deepEqual(result.rejected.sample, plan.rejected.sample);

    // Everyone suppressed: nothing to send.
    await suppress(["+12025550100", "+12025550102"]);
    const none = await gw.inject({ method: "POST", url: "/api/blasts", payload: body });
    assert.equal(none.statusCode, 400, none.body);
  });
});

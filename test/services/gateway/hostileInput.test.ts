// Hostile requests through app.inject against real NATS and Redis: each gets a clear JSON 4xx and
// leaves nothing behind.
import assert from "node:assert/strict";
import {
  contentTypesXml,
  packageRelsXml,
  sheetXml,
  workbookRelsXml,
  workbookXml,
} from "../../shared/import/xlsxWorkbooks.ts";
import { after, before, describe, it } from "node:test";
import { zipSync } from "fflate";
import * as XLSX from "xlsx";
import {
  dataKeyCount,
  multipart,
  startGatewayWithServers,
  type GatewayUnderTest,
} from "../../harness/gatewayApp.ts";

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

function workbook(rows: unknown[][]): Buffer {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(rows), "list");
  return XLSX.write(book, { type: "buffer", bookType: "xlsx" }) as Buffer;
}

describe("hostile input", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers({
      MAX_JSON_BODY_BYTES: "8192",
      MAX_UPLOAD_BYTES: "400000",
      MAX_XLSX_EXPANDED_BYTES: String(2 * 1024 * 1024),
    });
  });
  after(async () => {
    await gw?.close();
  });

  const fields = { sessionId: "s1", message: "Hi {name}" };
  const upload = (filename: string, data: Buffer | string, route = "/api/blasts/preview") =>
    gw.inject({
      method: "POST",
      url: route,
      ...multipart(fields, { field: "recipientsFile", filename, data }),
    });

  function assertError(
    res: { statusCode: number; json: <T>() => T; body: string },
    status: number,
    message: RegExp,
  ) {
    assert.equal(res.statusCode, status, res.body);
    const body = res.json<ErrorBody>();
    assert.equal(body.statusCode, status);
    assert.equal(typeof body.error, "string");
    assert.match(body.message, message);
  }

  it("refuses prototype-pollution keys in JSON bodies and JSON form fields", async () => {
    const keysBefore = await dataKeyCount(gw.redis);
    for (const payload of [
      '{"sessionId":"s1","message":"hi","recipients":[{"phone":"+12025550100"}],"__proto__":{"admin":true}}',
      '{"sessionId":"s1","message":"hi","constructor":{"prototype":{"admin":true}}}',
      '{"name":"x","recipients":[{"phone":"+12025550100","__proto__":{"polluted":1}}]}',
    ]) {
      const url = payload.startsWith('{"name"') ? "/api/campaigns" : "/api/blasts";
      const res = await gw.inject({
        method: "POST",
        url,
        payload,
        headers: { "content-type": "application/json" },
      });
      // Fastify's parser (secure-json-parse) refuses the body as a whole, before any route runs.
      assertError(res, 400, /not valid JSON/i);
    }
    const form = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      ...multipart(
        { ...fields, pacing: '{"constructor":{"prototype":{"x":1}}}' },
        { field: "recipientsFile", filename: "a.csv", data: "phone,name\n+12025550100,Ana\n" },
      ),
    });
    assertError(form, 400, /forbidden key "(constructor|prototype)"/);
    assert.equal(({} as Record<string, unknown>).admin, undefined);
    assert.equal(await dataKeyCount(gw.redis), keysBefore, "nothing written");
  });

  it("keeps JSON bodies small while multipart uploads may be larger", async () => {
    const big = {
      sessionId: "s1",
      message: "hi",
      recipients: Array.from({ length: 500 }, (_, i) => ({ phone: `+1202555${String(i).padStart(4, "0")}` })),
    };
    assertError(await gw.inject({ method: "POST", url: "/api/blasts/preview", payload: big }), 413, /body/i);
    const csv =
      "phone,name\n" +
      Array.from({ length: 1000 }, (_, i) => `+1202555${String(i).padStart(4, "0")},N`).join("\n");
    assert.ok(csv.length > 8192);
    const res = await upload("list.csv", csv);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ total: number }>().total, 1000);
  });

  it("refuses a template longer than 4096 characters", async () => {
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      payload: { sessionId: "s1", message: "x".repeat(4097), recipients: [{ phone: "+12025550100" }] },
    });
    assertError(res, 400, /message/);
  });

  it("answers 413 for zip bombs, too many columns and too long cells, 400 for truncated files", async () => {
    // A real workbook whose sheet inflates to 3 MB of markup: stopped as it inflates.
    const text = (xml: string) => new TextEncoder().encode(xml);
    const bomb = Buffer.from(
      zipSync({
        "[Content_Types].xml": text(contentTypesXml),
        "_rels/.rels": text(packageRelsXml),
        "xl/workbook.xml": text(workbookXml()),
        "xl/_rels/workbook.xml.rels": text(workbookRelsXml(["worksheets/sheet1.xml"], false)),
        "xl/worksheets/sheet1.xml": text(sheetXml("", "<!--x-->".repeat(400_000))),
      }),
    );
    assertError(await upload("bomb.xlsx", bomb), 413, /expands to more than 2 MB/);
    // A sheet of zeros with no workbook around it is never even inflated.
    const orphanSheet = Buffer.from(zipSync({ "xl/worksheets/sheet1.xml": new Uint8Array(3 * 1024 * 1024) }));
    assertError(await upload("orphan.xlsx", orphanSheet), 400, /no workbook/);
    const notAWorkbook = Buffer.from(zipSync({ "notes.txt": new Uint8Array(1024) }));
    assertError(await upload("zip.xlsx", notAWorkbook), 400, /could not read/);
    const wide = ["phone", ...Array.from({ length: 120 }, (_, i) => `c${i}`)].join(",");
    assertError(
      await upload("wide.csv", `${wide}\n+12025550100\n`),
      413,
      /more than 100 columns; at most 100/,
    );
    assertError(
      await upload("long.csv", `phone,name\n+12025550100,${"a".repeat(1001)}\n`),
      413,
      /line 2, column "name" is longer than 1000 characters/,
    );
    const sheet = workbook([
      ["phone", "name"],
      ["+12025550100", "Ana"],
    ]);
    assert.equal((await upload("ok.xlsx", sheet)).statusCode, 200);
    assertError(
      await upload("cut.xlsx", sheet.subarray(0, sheet.length >> 1)),
      400,
      /damaged|could not read/,
    );
  });

  it("refuses what is not a spreadsheet by name or label (415) and reads UTF-16 CSV", async () => {
    assertError(await upload("list.exe", "MZ"), 415, /unsupported file type/);
    const png = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      ...multipartTyped("image/png"),
    });
    assertError(png, 415, /"image\/png" is not a spreadsheet/);
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from("phone\tname\n+12025550100\tZoë\n", "utf16le"),
    ]);
    const res = await upload("unicode.csv", utf16);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ messages: Array<{ text: string }> }>().messages[0]?.text, "Hi Zoë");
    assertError(await upload("binary.csv", Buffer.from("phone\n\u0000\u0001")), 400, /binary data/);
  });

  it("answers a malformed or truncated multipart body with a 400 (regression: was a 500)", async () => {
    const a = multipart(fields);
    const b = multipart(fields, {
      field: "recipientsFile",
      filename: "a.csv",
      data: "phone\n+12025550100\n",
    });
    for (const [headers, payload] of [
      [a.headers, b.payload],
      [{ "content-type": "multipart/form-data" }, "garbage"],
      [b.headers, b.payload.subarray(0, b.payload.length - 20)],
    ] as const) {
      const res = await gw.inject({ method: "POST", url: "/api/blasts/preview", headers, payload });
      assertError(res, 400, /multipart/);
    }
  });

  it("answers a page number beyond any list with a 400 (regression: page=1e999 was a 500)", async () => {
    for (const url of [
      "/api/blasts?page=1e999",
      "/api/blasts?pageSize=1e999",
      "/api/campaigns?page=-1e999",
      "/api/campaigns/recipients?campaignId=c1&pageSize=1e999",
      "/api/campaigns?page=99999999999999999999",
    ]) {
      assertError(await gw.inject(url), 400, /page/);
    }
    assert.equal((await gw.inject("/api/campaigns?page=1000000")).statusCode, 200);
  });

  function multipartTyped(mimetype: string) {
    const form = multipart(fields, {
      field: "recipientsFile",
      filename: "list.csv",
      data: "phone\n+12025550100\n",
    });
    const payload = Buffer.from(
      form.payload
        .toString("latin1")
        .replace("Content-Type: application/octet-stream", `Content-Type: ${mimetype}`),
      "latin1",
    );
    return { payload, headers: form.headers };
  }
});

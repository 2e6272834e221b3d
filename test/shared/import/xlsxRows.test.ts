import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { strToU8, zipSync } from "fflate";
import * as XLSX from "xlsx";
import { defaultImportLimits, readRecipientsFile } from "../../../shared/import/recipientsFile.ts";
import { readXlsxRows } from "../../../shared/import/xlsxRows.ts";
import {
  chunked,
  concat,
  contentTypesXml,
  inline,
  numeric,
  packageRelsXml,
  readAll,
  readRows,
  row,
  shared,
  sheetXml,
  workbook,
  workbookRelsXml,
  workbookXml,
  zipParts,
  type Outcome,
  type Packing,
  type PartOrder,
} from "./xlsxWorkbooks.ts";

function sheetJs(rows: unknown[][], options: XLSX.WritingOptions = {}): Uint8Array {
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet(rows), "list");
  return XLSX.write(book, { type: "buffer", bookType: "xlsx", ...options }) as Buffer;
}

function refused(outcome: Outcome, status: number, message: RegExp): void {
  assert.ok(
    "status" in outcome,
    `expected a ${status} refusal, got ${JSON.stringify(outcome).slice(0, 300)}`,
  );
  assert.equal(outcome.status, status, outcome.message);
  assert.match(outcome.message, message);
}

const header = row(1, [inline("A1", "Phone Number"), inline("B1", "Name")]);
const ORDERS: PartOrder[] = ["strings-first", "sheet-first", "workbook-last"];
const PACKINGS: Packing[] = ["stored", "deflated", "streamed"];

describe("streaming .xlsx reader", () => {
  it("reads what readRecipientsFile reads: aliases, every digit of numeric phones, line numbers", async () => {
    const table = [
      ["Phone Number", "Name", "City"],
      [6281234567890, "Ana", "Jakarta"],
      [],
      ["+12025550100", "Bob", ""],
      [true, 1.5, null],
    ];
    const file = sheetJs(table);
    const expected = readRecipientsFile("list.xlsx", file, "file");
    assert.deepEqual(expected[0], {
      source: "file",
      row: 2,
      values: { phone: "6281234567890", name: "Ana", city: "Jakarta" },
    });
    for (const options of [
      {},
      { bookSST: true },
      { compression: true },
      { bookSST: true, compression: true },
    ]) {
      const read = readRows(await readAll(sheetJs(table, options)));
      assert.deepEqual(read.rows, expected, JSON.stringify(options));
      assert.deepEqual(read.header, ["phone", "name", "city"]);
    }
  });

  it("reads shared strings whether the zip holds them before or after the sheet, however packed", async () => {
    const strings = [
      "<t>Ana _x0041_ </t>",
      '<r><t>Bo</t></r><r><rPr><b/></rPr><t>b</t></r><rPh sb="0" eb="1"><t>PHONETIC</t></rPh>',
      "<t>two\r\nlines</t>",
      "<t>+12025550100</t>",
      "<t>&lt;Zoë &amp; 😀&gt;</t>",
    ];
    const sheet =
      header +
      row(2, [numeric("A2", 6281234567890), shared("B2", 0)]) +
      row(3, [shared("A3", 3), shared("B3", 1)]) +
      row(5, [numeric("A5", "6.2812345678900001E+12"), shared("B5", 2)]) +
      row(6, [numeric("A6", 1), shared("B6", 4)]);
    const expected = [
      { source: "file", row: 2, values: { phone: "6281234567890", name: "Ana A" } },
      { source: "file", row: 3, values: { phone: "+12025550100", name: "Bob" } },
      { source: "file", row: 5, values: { phone: "6281234567890", name: "two\nlines" } },
      { source: "file", row: 6, values: { phone: "1", name: "<Zoë & 😀>" } },
    ];
    for (const order of ORDERS) {
      for (const packing of PACKINGS) {
        const file = workbook({ sheet, strings, order, packing });
        assert.deepEqual(readRows(await readAll(file)).rows, expected, `${order}, ${packing}`);
        assert.deepEqual(readRecipientsFile("a.xlsx", file, "file"), expected, `today: ${order}, ${packing}`);
      }
    }
  });

  it("reads cells of every type as today, except ISO dates, which stay ISO", async () => {
    const cells: [string, string][] = [
      [`<c r="B2"><v>6281234567890</v></c>`, "6281234567890"],
      [`<c r="B2"><v>6.2812345678900001E+12</v></c>`, "6281234567890"],
      [`<c r="B2"><v>1E+21</v></c>`, "1000000000000000000000"],
      [`<c r="B2"><v>1.5</v></c>`, "1.5"],
      [`<c r="B2"><v>1e-7</v></c>`, "1e-7"],
      [`<c r="B2" s="1"><v>45123</v></c>`, "45123"],
      [`<c r="B2" t="n"><v> 12 </v></c>`, "12"],
      [`<c r="B2"><v></v></c>`, ""],
      [`<c r="B2"><f>1+1</f></c>`, ""],
      [`<c r="B2" t="b"><v>1</v></c>`, "true"],
      [`<c r="B2" t="b"><v>0</v></c>`, "false"],
      [`<c r="B2" t="e"><v>#N/A</v></c>`, ""],
      [`<c r="B2" t="str"><f>A1</f><v> s _x000D_ x </v></c>`, "s \r x"],
      [`<c r="B2" t="str"/>`, ""],
      [`<c r="B2" t="inlineStr"><is><r><t>a </t></r><r><t> b</t></r><rPh><t>P</t></rPh></is></c>`, "a  b"],
      [`<c r="B2" t="inlineStr"><is><t>a&amp;b&#10;c&lt;</t></is></c>`, "a&b\nc<"],
      [`<c r="B2" t="inlineStr"><is><t>x&#xD;&#xA;y</t></is></c>`, "x\ny"],
      [`<c r="B2" t="inlineStr"><is><t><![CDATA[<cdata>]]></t></is></c>`, "<cdata>"],
    ];
    for (const [cell, text] of cells) {
      const file = workbook({ sheet: header + row(2, [numeric("A2", 1), cell]) });
      const expected = text === "" ? {} : { name: text };
      const read = readRows(await readAll(file));
      assert.deepEqual(read.rows[0]?.values, { phone: "1", name: "", ...expected }, cell);
      assert.deepEqual(readRecipientsFile("a.xlsx", file, "file")[0]?.values, read.rows[0]?.values, cell);
    }
    // Differs: SheetJS decodes entities twice in a formula's text result, so "&amp;" read "&".
    const twice = workbook({
      sheet: header + row(2, [numeric("A2", 1), `<c r="B2" t="str"><v>&amp;amp;</v></c>`]),
    });
    assert.equal(readRows(await readAll(twice)).rows[0]?.values.name, "&amp;");
    assert.equal(readRecipientsFile("a.xlsx", twice, "file")[0]?.values.name, "&");
    // Differs: SheetJS turns an ISO date cell (which Excel never writes) into a serial number.
    const date = workbook({
      sheet: header + row(2, [numeric("A2", 1), `<c r="B2" t="d"><v>2024-01-02T03:04:05Z</v></c>`]),
    });
    assert.equal(readRows(await readAll(date)).rows[0]?.values.name, "2024-01-02T03:04:05.000Z");
  });

  it("skips empty rows and keeps counting them; duplicate columns take their first value", async () => {
    const sheet =
      row(1, [inline("A1", "mobile"), inline("B1", "Name"), inline("C1", "Phone"), inline("D1", "name")]) +
      row(2, [inline("A2", ""), inline("B2", "Ana"), inline("C2", "+62811"), inline("D2", "Other")]) +
      row(3, []) +
      row(4, [`<c r="A4" t="inlineStr"><is><t>  </t></is></c>`]) +
      row(7, [inline("A7", "+62812"), inline("D7", "Dee")]) +
      `<row r="8"><c r="E8" t="inlineStr"><is><t>unnamed column</t></is></c></row>`;
    const read = readRows(await readAll(workbook({ sheet })));
    assert.deepEqual(read.header, ["phone", "name"]);
    assert.deepEqual(read.rows, [
      { source: "file", row: 2, values: { phone: "+62811", name: "Ana" } },
      { source: "file", row: 7, values: { phone: "+62812", name: "Dee" } },
    ]);
  });

  it("drops prototype-polluting headers and keeps Object.prototype names", async () => {
    const sheet =
      row(1, [
        inline("A1", "phone"),
        inline("B1", "__proto__"),
        inline("C1", "constructor"),
        inline("D1", "toString"),
      ]) + row(2, [inline("A2", "1"), inline("B2", "x"), inline("C2", "y"), inline("D2", "z")]);
    const read = readRows(await readAll(workbook({ sheet })));
    assert.deepEqual(read.header, ["phone", "tostring"]);
    assert.deepEqual(read.rows[0]?.values, { phone: "1", tostring: "z" });
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it("reads a header under blank rows, as today, and refuses one under a title with a clear 400", async () => {
    const blankAbove = workbook({ sheet: row(3, [inline("A3", "phone")]) + row(4, [numeric("A4", 5)]) });
    const expected = [{ source: "file", row: 4, values: { phone: "5" } }];
    assert.deepEqual(readRows(await readAll(blankAbove)).rows, expected);
    assert.deepEqual(readRecipientsFile("a.xlsx", blankAbove, "file"), expected);
    const titled = workbook({
      sheet:
        row(1, [inline("A1", "Customers, March")]) +
        row(3, [inline("A3", "Phone"), inline("B3", "Name")]) +
        row(4, [numeric("A4", 5)]),
    });
    refused(
      await readAll(titled),
      400,
      /header row must be the sheet's first row.*"phone" column is named on line 3/,
    );
    refused(
      await readAll(
        workbook({
          sheet: row(1, [inline("A1", "name"), inline("B1", "email")]) + row(2, [inline("A2", "Ana")]),
        }),
      ),
      400,
      /no "phone" column \(found: name, email\)/,
    );
    refused(await readAll(workbook({ sheet: "" })), 400, /no header row/);
  });

  it("gives full batches, then the rest; a sheet with only a header gives one empty batch", async () => {
    let sheet = header;
    for (let line = 2; line <= 26; line++) sheet += row(line, [numeric(`A${line}`, line)]);
    const read = readRows(await readAll(workbook({ sheet }), {}, 10));
    assert.equal(read.batches, 3);
    assert.deepEqual(
      read.rows.map((r) => r.row),
      Array.from({ length: 25 }, (_, i) => i + 2),
    );
    const sizes: number[] = [];
    for await (const batch of readXlsxRows(chunked(workbook({ sheet })), "file", defaultImportLimits, 10)) {
      sizes.push(batch.rows.length);
    }
    assert.deepEqual(sizes, [10, 10, 5]);
    const empty = readRows(await readAll(workbook({ sheet: header })));
    assert.deepEqual([empty.batches, empty.rows.length, empty.header], [1, 0, ["phone", "name"]]);
  });

  it("refuses more rows than allowed as soon as it meets one, blank rows counting", async () => {
    let sheet = header;
    for (let line = 2; line <= 5000; line++) sheet += row(line, [numeric(`A${line}`, line)]);
    const outcome = await readAll(workbook({ sheet }), { maxRows: 100 }, 10);
    refused(outcome, 413, /more than 100 rows/);
    // Rows before the limit may be given (refusals come per step, not per row); none past it ever are.
    let given = 0;
    await assert.rejects(async () => {
      for await (const batch of readXlsxRows(
        chunked(workbook({ sheet })),
        "file",
        { ...defaultImportLimits, maxRows: 100 },
        10,
      )) {
        given = Math.max(given, ...batch.rows.map((r) => r.row));
      }
    }, /more than 100 rows/);
    assert.ok(given <= 101, `gave line ${given}`);
    // Lines 2 to 103 are 102 rows, the blank ones between included, as today.
    const gap = workbook({ sheet: header + row(2, [numeric("A2", 1)]) + row(103, [numeric("A103", 2)]) });
    refused(await readAll(gap, { maxRows: 101 }), 413, /more than 101 rows/);
    assert.throws(() => readRecipientsFile("a.xlsx", gap, "file", { maxRows: 101 }), /more than 101 rows/);
    assert.equal(readRows(await readAll(gap, { maxRows: 102 })).rows.length, 2);
  });

  it("refuses too many columns, and a long cell naming its line and column", async () => {
    const wide = workbook({
      sheet: row(1, [inline("A1", "phone"), inline("B1", "a"), inline("C1", "b"), inline("D1", "c")]),
    });
    refused(await readAll(wide, { maxColumns: 3 }), 413, /4 columns; at most 3/);
    const farCell = workbook({ sheet: header + row(2, [numeric("A2", 1), inline("CZ2", "far away")]) });
    refused(await readAll(farCell, { maxColumns: 100 }), 413, /104 columns; at most 100/);
    const long = workbook({ sheet: header + row(2, [numeric("A2", 1), inline("B2", "123456")]) });
    refused(
      await readAll(long, { maxCellLength: 5 }),
      413,
      /line 2, column "name" is longer than 5 characters/,
    );
    const longShared = workbook({
      sheet: header + row(2, [numeric("A2", 1)]) + row(3, [numeric("A3", 1), shared("B3", 0)]),
      strings: ["<t>123456</t>"],
      order: "sheet-first",
    });
    refused(await readAll(longShared, { maxCellLength: 5 }), 413, /line 3, column "name"/);
    // A cell far longer than Excel allows is refused while it arrives, not after it is held.
    const huge = workbook({
      sheet: header + row(2, [numeric("A2", 1), inline("B2", "x".repeat(3 * 1024 * 1024))]),
    });
    refused(await readAll(huge), 413, /line 2, column "name" is longer than 1000 characters/);
  });

  it("refuses zip bombs: over the byte limit, or inflating 100 times the upload, early", async () => {
    const small = sheetJs([["phone"], ["+12025550100"]]);
    assert.equal(readRows(await readAll(small)).rows.length, 1);
    refused(await readAll(small, { maxExpandedBytes: 1024 }), 413, /expands to more than 1 KB/);

    // 16 MB of valid, empty rows in ~25 KB: refused once 8 MB are inflated, before the end.
    const rows = strToU8("<row/>".repeat(174_763));
    const sheet = concat([
      strToU8(sheetXml("").split("<sheetData>")[0] + "<sheetData>"),
      ...Array.from({ length: 16 }, () => rows),
      strToU8("</sheetData></worksheet>"),
    ]);
    const bomb = (packing: Packing) =>
      Buffer.from(
        zipParts(
          [
            ["xl/workbook.xml", workbookXml()],
            ["xl/_rels/workbook.xml.rels", workbookRelsXml(undefined, false)],
            ["xl/worksheets/sheet1.xml", sheet],
          ],
          packing,
        ),
      );
    const deflated = bomb("deflated");
    for (const file of [deflated, bomb("streamed")]) {
      assert.ok(file.length < 64 * 1024, `${file.length}`);
      refused(await readAll(file), 413, /expands more than 100 times its size/);
    }
    const sheetHeader = (file: Buffer, from = 0) => file.indexOf("xl/worksheets/sheet1.xml", from) - 30;
    // A size the zip declares is refused before anything is inflated: the part's data, spoiled
    // here, is never looked at.
    const spoiled = Buffer.from(deflated);
    const data = sheetHeader(spoiled) + 30 + "xl/worksheets/sheet1.xml".length;
    spoiled.fill(0xff, data, data + 1000);
    refused(await readAll(spoiled, { maxExpandedBytes: 4 * 1024 * 1024 }), 413, /expands to more than 4 MB/);
    // A part that understates its size is stopped by counting what actually comes out of it.
    const lying = Buffer.from(deflated);
    lying.writeUInt32LE(100, sheetHeader(lying) + 22);
    const central = lying.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    lying.writeUInt32LE(100, sheetHeader(lying, central) + 30 - 46 + 24);
    refused(
      await readAll(lying, { maxExpandedBytes: 4 * 1024 * 1024, maxExpansionRatio: 10_000 }),
      413,
      /expands to more than 4 MB/,
    );

    // Today's bomb, zeros without a workbook, and a part count no workbook has.
    const zeros = zipSync({ "xl/worksheets/sheet1.xml": new Uint8Array(16 * 1024 * 1024) });
    const outcome = await readAll(zeros);
    assert.ok("status" in outcome && [400, 413].includes(outcome.status), JSON.stringify(outcome));
    const parts: Record<string, Uint8Array> = {};
    for (let i = 0; i <= 10_000; i++) parts[`p/${i}`] = new Uint8Array(0);
    refused(await readAll(zipSync(parts, { level: 0 })), 413, /more than 10000 parts/);
  });

  it("refuses what is not a workbook, or not a whole one, with a 400", async () => {
    const good = workbook({ sheet: header + row(2, [numeric("A2", 1)]) });
    refused(await readAll(new Uint8Array(0)), 400, /empty/);
    refused(await readAll(strToU8("phone\n1\n")), 400, /not really an Excel workbook/);
    refused(await readAll(good.subarray(0, 3)), 400, /not really an Excel workbook/);
    const sheetAt = Buffer.from(good).indexOf("xl/worksheets/sheet1.xml");
    for (const cut of [40, sheetAt, sheetAt + 60]) {
      const outcome = await readAll(good.subarray(0, cut));
      assert.ok("status" in outcome && outcome.status === 400, `${cut}: ${JSON.stringify(outcome)}`);
    }
    // Differs: the central directory at the end is never needed, so losing it loses nothing.
    const central = Buffer.from(good).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    assert.deepEqual(await readAll(good.subarray(0, central)), await readAll(good));
    refused(await readAll(zipSync({ "a.txt": strToU8("hi") })), 400, /no workbook/);
    const noSheets = zipParts([
      ["xl/workbook.xml", workbookXml([])],
      ["xl/_rels/workbook.xml.rels", workbookRelsXml([])],
    ]);
    refused(await readAll(noSheets), 400, /the workbook has no sheet/);
    const missingSheet = zipParts([
      ["xl/workbook.xml", workbookXml()],
      ["xl/_rels/workbook.xml.rels", workbookRelsXml()],
    ]);
    refused(await readAll(missingSheet), 400, /first sheet \("list"\) is missing/);
    refused(
      await readAll(workbook({ sheet: header + row(2, [shared("A2", 7)]), strings: ["<t>x</t>"] })),
      400,
      /cell A2 refers to shared string "7", which the workbook does not have/,
    );
    refused(
      await readAll(workbook({ sheet: header + '<row r="2"><c r="A2"><v>1</v></row>' })),
      400,
      /not well-formed/,
    );
    refused(
      await readAll(workbook({ sheet: header + row(2, []) + row(2, []) })),
      400,
      /row 2 comes after row 2/,
    );
    refused(
      await readAll(workbook({ sheet: header + row(2, ['<c r="A2" t="zz"><v>1</v></c>']) })),
      400,
      /unknown type "zz"/,
    );
    const deep = "<x>".repeat(100_000);
    refused(await readAll(workbook({ sheet: header + deep })), 400, /nests elements more than 64 deep/);
    const entity = zipParts([
      ["xl/workbook.xml", `<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]><workbook><sheets>&a;</sheets></workbook>`],
    ]);
    refused(await readAll(entity), 400, /damaged/);
  });

  it("reads the first sheet in workbook order, wherever its part is and whatever the zip order", async () => {
    const first = sheetXml(header + row(2, [inline("A2", "+1 first")]));
    const second = sheetXml(header + row(2, [inline("A2", "+2 second")]));
    const parts: [string, string][] = [
      ["[Content_Types].xml", contentTypesXml],
      ["_rels/.rels", packageRelsXml],
      ["xl/workbook.xml", workbookXml(["Second", "First"])],
      [
        "xl/_rels/workbook.xml.rels",
        workbookRelsXml(["/xl/worksheets/sheet2.xml", "./worksheets/../worksheets/Sheet%201.xml"], false),
      ],
      ["xl/worksheets/Sheet 1.xml", first],
      ["xl/worksheets/sheet2.xml", second],
    ];
    const orders = [parts, [...parts].reverse(), [parts[4], parts[2], parts[5], parts[3]]];
    for (const order of orders) {
      const file = zipParts(order as [string, string][]);
      assert.deepEqual(readRows(await readAll(file)).rows[0]?.values, { phone: "+2 second", name: "" });
    }
  });

  it("gives the same rows however the upload is cut", async () => {
    let sheet = header;
    for (let line = 2; line <= 400; line++) {
      sheet += row(line, [numeric(`A${line}`, 6281200000000 + line), shared(`B${line}`, line % 3)]);
    }
    const strings = ["<t>Ana</t>", "<t>Zoë 😀 ünïcödé</t>", `<t>${"long ".repeat(150)}</t>`];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const order of ORDERS) {
      for (const packing of PACKINGS) {
        const file = workbook({ sheet, strings, order, packing });
        const whole = readRows(await readAll(file));
        assert.equal(whole.rows.length, 399);
        for (let trial = 0; trial < 6; trial++) {
          const cuts = Array.from({ length: 1 + Math.floor(random() * 60) }, () =>
            Math.floor(random() * file.length),
          );
          assert.deepEqual(
            await readAll(chunked(file, cuts)),
            whole,
            `${order} ${packing} ${cuts.join(",")}`,
          );
        }
        if (packing === "streamed") {
          const bytes = Array.from({ length: file.length }, (_, i) => i);
          assert.deepEqual(
            await readAll(chunked(file, bytes)),
            whole,
            `${order} ${packing}, a byte at a time`,
          );
        }
      }
    }
  });

  it("keeps a sheet that comes before its strings in a temporary file, and removes it", async () => {
    // os.tmpdir() follows TMPDIR: a folder of this test's own, so other tests' spools do not count.
    const previous = process.env.TMPDIR;
    const folder = await mkdtemp(join(tmpdir(), "xlsx-spool-test-"));
    process.env.TMPDIR = folder;
    try {
      const file = workbook({
        sheet: header + row(2, [shared("A2", 0)]),
        strings: ["<t>+1</t>"],
        order: "sheet-first",
      });
      assert.equal(readRows(await readAll(file)).rows[0]?.values.phone, "+1");
      let sheet = header;
      for (let line = 2; line <= 3000; line++) sheet += row(line, [shared(`A${line}`, 0)]);
      for await (const _ of readXlsxRows(
        chunked(workbook({ sheet, strings: ["<t>+1</t>"], order: "sheet-first" })),
        "file",
        defaultImportLimits,
        10,
      )) {
        assert.deepEqual(
          (await readdir(folder)).map((name) => name.replace(/-\w+$/, "")),
          ["wa-blast-xlsx"],
          "the sheet waits in a temporary file while its strings arrive",
        );
        break;
      }
      refused(
        await readAll(
          workbook({ sheet: header + row(2, [shared("A2", 3)]), strings: [], order: "sheet-first" }),
        ),
        400,
        /shared string/,
      );
      assert.deepEqual(await readdir(folder), [], "every temporary file is removed");
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("passes the upload's own errors through untouched", async () => {
    const failure = new Error("connection reset");
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield workbook({ sheet: header }).subarray(0, 100);
      throw failure;
    }
    await assert.rejects(readAll(failing()), (err) => err === failure);
  });
});

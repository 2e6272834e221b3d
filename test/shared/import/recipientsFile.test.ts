import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { zipSync } from "fflate";
import * as XLSX from "xlsx";
import { ImportError, readRecipientsFile } from "../../../shared/import/recipientsFile.ts";

function xlsx(rows: unknown[][]): Buffer {
  const workbook = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows), "list");
  return XLSX.write(workbook, { type: "buffer", bookType: "xlsx" }) as Buffer;
}

const fails = (status: number, message: RegExp) => (err: unknown) =>
  err instanceof ImportError && err.status === status && message.test(err.message);

describe("recipient files", () => {
  it("reads an .xlsx: header aliases, every digit of numeric phones, spreadsheet line numbers", () => {
    const rows = readRecipientsFile(
      "list.xlsx",
      xlsx([
        ["Phone Number", "Name", "City"],
        [6281234567890, "Ana", "Jakarta"],
        [],
        ["+12025550100", "Bob", ""],
      ]),
      "file",
    );
    assert.deepEqual(rows, [
      { source: "file", row: 2, values: { phone: "6281234567890", name: "Ana", city: "Jakarta" } },
      { source: "file", row: 4, values: { phone: "+12025550100", name: "Bob", city: "" } },
    ]);
  });

  it("reads CSV as text, keeping leading zeros, in UTF-8 with a BOM or in Windows-1252", () => {
    const utf8 = readRecipientsFile("a.csv", Buffer.from("\uFEFFphone,name\n0812345678,Zoë\n"), "file");
    assert.deepEqual(utf8[0]?.values, { phone: "0812345678", name: "Zoë" });
    const cp1252 = Buffer.concat([
      Buffer.from("phone,name\n0812,Ren"),
      Buffer.from([0xe9]),
      Buffer.from("\n"),
    ]);
    assert.equal(readRecipientsFile("b.csv", cp1252, "file")[0]?.values.name, "René");
  });

  it("refuses files it cannot use, with the right status and a clear reason", () => {
    assert.throws(
      () => readRecipientsFile("a.pdf", Buffer.from("x"), "file"),
      fails(415, /unsupported file type/),
    );
    assert.throws(() => readRecipientsFile("a.xlsx", Buffer.from("plain"), "file"), fails(400, /damaged/));
    assert.throws(() => readRecipientsFile("a.csv", Buffer.alloc(0), "file"), fails(400, /empty/));
    assert.throws(
      () => readRecipientsFile("a.csv", Buffer.from("name,email\nAna,a@x\n"), "file"),
      fails(400, /no "phone" column \(found: name, email\)/),
    );
  });

  it("enforces row, column and cell limits", () => {
    const limits = { maxRows: 2, maxColumns: 3, maxCellLength: 5 };
    assert.throws(
      () => readRecipientsFile("a.csv", Buffer.from("phone\n1\n2\n3\n"), "file", limits),
      fails(413, /more than 2 rows/),
    );
    assert.throws(
      () => readRecipientsFile("a.csv", Buffer.from("phone,a,b,c\n1,2,3,4\n"), "file", limits),
      fails(413, /4 columns/),
    );
    assert.throws(
      () => readRecipientsFile("a.csv", Buffer.from("phone\n1234567\n"), "file", limits),
      fails(413, /line 2, column "phone"/),
    );
  });

  it("reads UTF-16 CSV with a byte-order mark (Excel's Unicode text), little- or big-endian", () => {
    const text = "phone\tname\n0812345678\tZoë\n";
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    const be = Buffer.from(le.subarray(2)).swap16();
    for (const data of [le, Buffer.concat([Buffer.from([0xfe, 0xff]), be])]) {
      assert.deepEqual(readRecipientsFile("u.csv", data, "file")[0]?.values, {
        phone: "0812345678",
        name: "Zoë",
      });
    }
    assert.throws(
      () => readRecipientsFile("u.csv", Buffer.from(text, "utf16le"), "file"),
      fails(400, /binary data; save it as CSV \(UTF-8\)/),
    );
  });

  it("refuses zip bombs: a workbook declaring more than the limit, or inflating 100 times its size", () => {
    const sheet = xlsx([["phone"], ["+12025550100"]]);
    assert.equal(readRecipientsFile("ok.xlsx", sheet, "file").length, 1);
    assert.throws(
      () => readRecipientsFile("big.xlsx", sheet, "file", { maxExpandedBytes: 1024 }),
      fails(413, /expands to more than 1 KB/),
    );
    const zeros = zipSync({ "xl/worksheets/sheet1.xml": new Uint8Array(16 * 1024 * 1024) });
    assert.throws(
      () => readRecipientsFile("bomb.xlsx", zeros, "file"),
      fails(413, /expands more than 100 times its size/),
    );
    // A header that understates its part: the part is cut at the declared size, never inflated
    // further, and the workbook that results is refused as damaged.
    const lying = Buffer.from(zipSync({ "xl/worksheets/sheet1.xml": new Uint8Array(4 * 1024 * 1024) }));
    const central = lying.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    lying.writeUInt32LE(100, central + 24);
    assert.throws(
      () => readRecipientsFile("lying.xlsx", lying, "file"),
      fails(400, /could not read|damaged/),
    );
  });

  it("keeps columns named like Object.prototype members (toString, valueOf)", () => {
    const rows = readRecipientsFile("a.csv", Buffer.from("phone,toString,valueOf\n1,x,y\n"), "file");
    assert.deepEqual(rows[0]?.values, { phone: "1", tostring: "x", valueof: "y" });
  });

  it("ignores prototype-polluting headers", () => {
    const rows = readRecipientsFile("a.csv", Buffer.from("phone,__proto__,constructor\n1,x,y\n"), "file");
    assert.deepEqual(rows[0]?.values, { phone: "1" });
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});

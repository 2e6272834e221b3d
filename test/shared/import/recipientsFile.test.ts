import assert from "node:assert/strict";
import { describe, it } from "node:test";
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

  it("ignores prototype-polluting headers", () => {
    const rows = readRecipientsFile("a.csv", Buffer.from("phone,__proto__,constructor\n1,x,y\n"), "file");
    assert.deepEqual(rows[0]?.values, { phone: "1" });
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});

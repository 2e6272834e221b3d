// The streaming CSV reader against the whole-file reader it is to replace for CSV: the same rows
// from the same bytes, however the bytes are cut, and the same refusals.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readCsvRows, type CsvBatch } from "../../../shared/import/csvRows.ts";
import {
  ImportError,
  defaultImportLimits,
  readRecipientsFile,
  type ImportLimits,
} from "../../../shared/import/recipientsFile.ts";
import type { InputRow } from "../../../shared/domain/recipients.ts";

async function* chunked(parts: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

/** Every batch of a file given in `parts`, with the limits the import would use. */
async function batchesOf(
  parts: Uint8Array | Uint8Array[],
  overrides: Partial<ImportLimits> = {},
  batchSize?: number,
): Promise<CsvBatch[]> {
  const batches: CsvBatch[] = [];
  const limits = { ...defaultImportLimits, ...overrides };
  for await (const batch of readCsvRows(
    chunked(Array.isArray(parts) ? parts : [parts]),
    "file",
    limits,
    batchSize,
  )) {
    batches.push(batch);
  }
  return batches;
}

async function rowsOf(parts: Uint8Array | Uint8Array[], overrides: Partial<ImportLimits> = {}) {
  return (await batchesOf(parts, overrides)).flatMap((batch) => batch.rows);
}

/** The rows read both ways, which must agree. */
async function rowsBothWays(data: Uint8Array, overrides: Partial<ImportLimits> = {}): Promise<InputRow[]> {
  const rows = await rowsOf(data, overrides);
  assert.deepEqual(rows, readRecipientsFile("a.csv", data, "file", overrides));
  return rows;
}

const fails = (status: number, message: RegExp) => (err: unknown) =>
  err instanceof ImportError && err.status === status && message.test(err.message);

/** Both readers refuse the file with the same status and message. */
async function refusedBothWays(data: Uint8Array, overrides: Partial<ImportLimits> = {}): Promise<void> {
  let today: unknown;
  try {
    readRecipientsFile("a.csv", data, "file", overrides);
  } catch (err) {
    today = err;
  }
  assert.ok(today instanceof ImportError, "readRecipientsFile refuses it");
  await assert.rejects(
    rowsOf(data, overrides),
    fails(today.status, new RegExp(`^${escape(today.message)}$`)),
  );
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const bytes = (text: string) => Buffer.from(text, "utf8");
const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
const utf16be = (text: string) =>
  Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]);

describe("streaming CSV reader", () => {
  it("reads CSV as text, keeping leading zeros, in UTF-8 with a BOM or in Windows-1252", async () => {
    const utf8 = await rowsBothWays(bytes("\uFEFFphone,name\n0812345678,Zoë\n"));
    assert.deepEqual(utf8, [{ source: "file", row: 2, values: { phone: "0812345678", name: "Zoë" } }]);
    const cp1252 = Buffer.concat([bytes("phone,name\n0812,Ren"), Buffer.from([0xe9]), bytes("\n")]);
    assert.equal((await rowsBothWays(cp1252))[0]?.values.name, "René");
  });

  it("reads header aliases, quoting, doubled quotes and cells across lines, numbering rows as today", async () => {
    const rows = await rowsBothWays(
      bytes(
        'Phone Number,Full  Name,Note\r\n"+62 812,1",Ana,"say ""hi"""\r\n\r\n' +
          '0812,Bob,"two\r\nlines, one cell"\r\n , ,\r\n0813,"Cy",plain "quote" inside\r\n',
      ),
    );
    assert.deepEqual(rows, [
      { source: "file", row: 2, values: { phone: "+62 812,1", full_name: "Ana", note: 'say "hi"' } },
      { source: "file", row: 4, values: { phone: "0812", full_name: "Bob", note: "two\r\nlines, one cell" } },
      { source: "file", row: 6, values: { phone: "0813", full_name: "Cy", note: 'plain "quote" inside' } },
    ]);
  });

  it("takes the separator from the header line: ';' from European Excel, tabs, Excel's sep= line", async () => {
    assert.deepEqual((await rowsBothWays(bytes('phone;name;price\n0812;"Doe; Ann";1,50\n')))[0]?.values, {
      phone: "0812",
      name: "Doe; Ann",
      price: "1,50",
    });
    assert.deepEqual((await rowsBothWays(bytes("phone\tname\n0812\tAnn, B\n")))[0]?.values, {
      phone: "0812",
      name: "Ann, B",
    });
    assert.deepEqual(await rowsBothWays(bytes("sep=;\r\nphone;name\r\n0812;Ann\r\n")), [
      { source: "file", row: 2, values: { phone: "0812", name: "Ann" } },
    ]);
    // One column: the header has no separator to tell, so the first rows do, as SheetJS guesses.
    assert.deepEqual((await rowsBothWays(bytes("phone\n0812;x\n0813;y\n"))).length, 2);
    // Data rows full of another candidate do not outvote the header.
    assert.deepEqual((await rowsOf(bytes("phone,name\n0812;1;2;3,Ann;B;C\n")))[0]?.values, {
      phone: "0812;1;2;3",
      name: "Ann;B;C",
    });
  });

  it("skips empty rows but counts them, and lets the first non-empty duplicate column win", async () => {
    assert.deepEqual(await rowsBothWays(bytes("phone,name,name\n\n1,,b\n,,\n2,a,b\n\r\n")), [
      { source: "file", row: 3, values: { phone: "1", name: "b" } },
      { source: "file", row: 5, values: { phone: "2", name: "a" } },
    ]);
    // The first alias found becomes "phone"; a later "phone" column is its duplicate.
    assert.deepEqual((await rowsBothWays(bytes("mobile,phone\n,0812\n")))[0]?.values, { phone: "0812" });
    // Lines ending in CR alone (old Mac exports) and mixed endings.
    assert.deepEqual((await rowsBothWays(bytes("phone\r1\r\n2\n3"))).length, 3);
  });

  it("keeps columns named like Object.prototype members and drops prototype-polluting ones", async () => {
    assert.deepEqual((await rowsBothWays(bytes("phone,toString,valueOf\n1,x,y\n")))[0]?.values, {
      phone: "1",
      tostring: "x",
      valueof: "y",
    });
    const [batch] = await batchesOf(bytes("phone,__proto__,constructor,prototype\n1,x,y,z\n"));
    assert.deepEqual(batch?.rows[0]?.values, { phone: "1" });
    assert.deepEqual(batch?.header, ["phone"]);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it("reads UTF-16 CSV with a byte-order mark (Excel's Unicode text), little- or big-endian", async () => {
    const text = "phone\tname\n0812345678\tZoë\n";
    for (const data of [utf16le(text), utf16be(text)]) {
      assert.deepEqual((await rowsBothWays(data))[0]?.values, { phone: "0812345678", name: "Zoë" });
    }
    await refusedBothWays(Buffer.from(text, "utf16le"));
    await assert.rejects(rowsOf(utf16le(text).subarray(0, 9)), fails(400, /not valid UTF-16/));
  });

  it("refuses empty, binary and zipped files and a file without a phone column, as today", async () => {
    await refusedBothWays(Buffer.alloc(0));
    await assert.rejects(rowsOf([]), fails(400, /^the uploaded file is empty$/));
    await refusedBothWays(bytes("name,email\nAna,a@x\n"));
    await assert.rejects(
      rowsOf(bytes("name,email\nAna,a@x\n")),
      fails(400, /^the file has no "phone" column \(found: name, email\)$/),
    );
    await refusedBothWays(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]));
    await refusedBothWays(bytes("phone\n1\n2\u0000\n"));
    await assert.rejects(rowsOf(bytes("\uFEFF")), fails(400, /no header row/));
  });

  it("says where the header must be when a title sits above it", async () => {
    await assert.rejects(
      rowsOf(bytes("Customers, March\n\nPhone,Name\n0812,Ann\n")),
      fails(
        400,
        /^the header row must be on line 1, but the "phone" column is named on line 3: delete the 2 lines above it$/,
      ),
    );
    await assert.rejects(
      rowsOf(bytes("\nphone\n0812\n")),
      fails(400, /named on line 2: delete the line above it/),
    );
    await assert.rejects(rowsOf(bytes("\n\n\n")), fails(400, /^line 1 is empty: the header row/));
    // No phone column anywhere near: today's message.
    await assert.rejects(
      rowsOf(bytes("Customers\nname\nAnn\n")),
      fails(400, /^the file has no "phone" column \(found: customers\)$/),
    );
  });

  it("enforces row, column and cell limits", async () => {
    const limits = { maxRows: 2, maxColumns: 3, maxCellLength: 5 };
    await refusedBothWays(bytes("phone\n1\n2\n3\n"), limits);
    // Blank rows count toward the limit, as today.
    await refusedBothWays(bytes("phone\n1\n\n2\n"), limits);
    assert.equal((await rowsBothWays(bytes("phone\n1\n2\n"), limits)).length, 2);
    await assert.rejects(
      rowsOf(bytes("phone,a,b,c\n1,2,3,4\n"), limits),
      fails(413, /^line 1 has more than 3 columns; at most 3 are allowed$/),
    );
    await assert.rejects(
      rowsOf(bytes("phone,a\n1,2,3,4,5,6,7,8\n"), limits),
      fails(413, /^line 2 has more than 3 columns/),
    );
    await refusedBothWays(bytes("phone\n1234567\n"), limits);
    await assert.rejects(
      rowsOf(bytes('phone,name\n1,ok\n\n2,"a\nb\nlonger"\n'), { ...limits, maxRows: 3 }),
      fails(413, /^line 4, column "name" is longer than 5 characters$/),
    );
    // Cells under no header are not kept, so not measured, as today.
    assert.equal((await rowsBothWays(bytes("phone,,b\n1,1234567,2\n"), limits)).length, 1);
  });

  it("never holds an open quote or an endless line in memory, and says what is wrong", async () => {
    const open = bytes('phone,note\n1,"never closed\n' + "2,x\n".repeat(50_000));
    await assert.rejects(
      rowsOf(open),
      fails(413, /^line 2 is longer than 200000 characters; is a quote \("\) left open\?$/),
    );
    await assert.rejects(
      rowsOf(bytes('phone,note\n1,ok\n2,"never closed\n3,x\n')),
      fails(400, /^line 3 opens a quote/),
    );
    const wide = bytes("phone\n1" + ",".repeat(1_000_000) + "\n");
    await assert.rejects(rowsOf(wide), fails(413, /^line 2 /));
  });

  it("stops reading as soon as the file is refused, and when its reader stops", async () => {
    let pulled = 0;
    let finished = false;
    async function* upload(): AsyncGenerator<Uint8Array> {
      try {
        yield bytes("phone\n");
        for (let i = 0; i < 10_000; i++) {
          pulled++;
          yield bytes("0812\n".repeat(100));
        }
      } finally {
        finished = true;
      }
    }
    await assert.rejects(
      async () => {
        for await (const batch of readCsvRows(upload(), "file", { ...defaultImportLimits, maxRows: 1000 })) {
          assert.ok(batch.rows.length > 0);
        }
      },
      fails(413, /more than 1000 rows/),
    );
    // Nothing is read ahead: the chunk that held row 1001 was the last one asked for.
    assert.equal(pulled, 11);
    while (!finished) await new Promise((resolve) => setImmediate(resolve));

    pulled = 0;
    finished = false;
    for await (const batch of readCsvRows(upload(), "file", defaultImportLimits, 10)) {
      assert.equal(batch.rows.length, 10);
      break;
    }
    assert.ok(pulled < 50, `pulled ${pulled} chunks`);
    while (!finished) await new Promise((resolve) => setImmediate(resolve));
  });

  it("tells the first fault in the file when there are several", async () => {
    // (To within the few bytes csv-parse holds back to see how a line ends: a row ending just
    // before a NUL or broken UTF-16 is not read. Whatever the cuts, the answer is the same.)
    const long = "x".repeat(1001);
    await assert.rejects(
      rowsOf(bytes(`phone,note\n1,${long}\n2,ok\n3,\u0000\n`)),
      fails(413, /^line 2, column "note"/),
    );
    await assert.rejects(rowsOf(bytes(`phone,note\n1,\u0000\n2,${long}\n`)), fails(400, /binary data/));
    const brokenUtf16 = Buffer.concat([
      utf16le(`phone,note\n1,${long}\n2,ok\n3,`),
      Buffer.from([0x00, 0xd8]),
    ]);
    await assert.rejects(rowsOf(brokenUtf16), fails(413, /^line 2, column "note"/));
    await assert.rejects(
      rowsOf(Buffer.concat([brokenUtf16.subarray(0, 20), Buffer.from([0x00, 0xd8])])),
      fails(400, /UTF-16/),
    );
  });

  it("lets the upload's own errors through untouched", async () => {
    const broken = new Error("connection reset");
    async function* upload(): AsyncGenerator<Uint8Array> {
      yield bytes("phone\n1\n".repeat(1000));
      throw broken;
    }
    await assert.rejects(
      async () => {
        for await (const _ of readCsvRows(upload(), "file", defaultImportLimits)) void _;
      },
      (err) => err === broken,
    );
  });

  it("gives rows in batches, each with the header, and the header even when no row follows", async () => {
    const batches = await batchesOf(bytes("Phone,Name,name,\n" + "0812,Ann\n".repeat(25)), {}, 10);
    assert.deepEqual(
      batches.map((batch) => batch.rows.length),
      [10, 10, 5],
    );
    for (const batch of batches) assert.deepEqual(batch.header, ["phone", "name"]);
    assert.deepEqual(batches[2]?.rows[4]?.row, 26);
    assert.deepEqual(await batchesOf(bytes("phone,name\n\n")), [{ header: ["phone", "name"], rows: [] }]);
    assert.equal((await batchesOf(bytes("phone\n" + "1\n".repeat(20)), {}, 10)).length, 2);
  });

  it("reads Windows-1252 met after many UTF-8-looking chunks as today, and mixed files part by part", async () => {
    const ascii = "phone,name\n" + "0812,Ann\n".repeat(20_000);
    const late = Buffer.concat([bytes(ascii), bytes("0813,Ren"), Buffer.from([0xe9]), bytes("\n")]);
    const parts = Array.from({ length: Math.ceil(late.length / 1000) }, (_, i) =>
      late.subarray(i * 1000, i * 1000 + 1000),
    );
    const rows = await rowsOf(parts);
    assert.deepEqual(rows, readRecipientsFile("a.csv", late, "file"));
    assert.equal(rows.at(-1)?.values.name, "René");
    // UTF-8 then Windows-1252: each part in its own encoding (the whole-file reader garbles "Zoë").
    const mixed = Buffer.concat([bytes("phone,name\n1,Zoë\n2,Ren"), Buffer.from([0xe9]), bytes("\n")]);
    assert.deepEqual(
      (await rowsOf(mixed)).map((row) => row.values.name),
      ["Zoë", "René"],
    );
    assert.equal(readRecipientsFile("a.csv", mixed, "file")[0]?.values.name, "ZoÃ«");
  });

  it("reads the same rows however the upload is cut", async () => {
    const files = [
      bytes('\uFEFFPhone Number;Name;Note\r\n"0812";"Zoë; ""Z""";"a\r\nb"\r\n\r\n0813;Ann;€ ok\r\n'),
      bytes('sep=,\nphone,name\n1,日本語\n2,"x\ny"\n'),
      Buffer.concat([
        bytes("phone,name\r\n1,Ren"),
        Buffer.from([0xe9]),
        bytes("\r\n2,Zo"),
        Buffer.from([0xeb]),
      ]),
      Buffer.concat([bytes("phone,name\n1,Zoë\n2,Ren"), Buffer.from([0xe9, 0xc3]), bytes("\n3,x")]),
      utf16le('phone\tname\r\n0812\t"Zoë\r\nB"\r\n0813\t😀\r\n'),
      utf16be("phone;name\n1;Zoë\n"),
      bytes("phone\n1\n2\u0000\n"),
      bytes('phone,note\n1,"open\n2,x\n'),
      // Two faults each: the first in the file is the one told, wherever the cuts fall.
      bytes(`phone,note\n1,${"x".repeat(1001)}\n2,y\n\u0000\n`),
      Buffer.concat([
        utf16le("phone,note\n1,ok\n2,"),
        Buffer.from([0x00, 0xd8]),
        Buffer.from("x\n", "utf16le"),
      ]),
      Buffer.concat([utf16le(`phone,note\n1,${"x".repeat(1001)}\n`), Buffer.from([0x00, 0xdc, 0x41])]),
    ];
    const outcome = async (parts: Uint8Array[]) => {
      try {
        return await batchesOf(parts, {}, 2);
      } catch (err) {
        assert.ok(err instanceof ImportError, String(err));
        return `${err.status} ${err.message}`;
      }
    };
    for (const file of files) {
      const whole = await outcome([file]);
      for (let at = 0; at <= file.length; at++) {
        assert.deepEqual(await outcome([file.subarray(0, at), file.subarray(at)]), whole, `cut at ${at}`);
      }
      const bytewise = Array.from(file, (byte) => Uint8Array.of(byte));
      assert.deepEqual(await outcome(bytewise), whole, "byte by byte");
    }
  });
});

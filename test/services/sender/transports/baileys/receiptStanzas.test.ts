import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BinaryNode } from "@whiskeysockets/baileys";
import { receiptsOf } from "../../../../../services/sender/transports/baileys/receiptStanzas.ts";

const ME = { id: "15550001111:3@s.whatsapp.net", lid: "200000000000111:3@lid" };
const receipt = (attrs: Record<string, string>, content?: BinaryNode[]): BinaryNode => ({
  tag: "receipt",
  attrs: { t: "1795560000", ...attrs },
  ...(content ? { content } : {}),
});

describe("receipt stanzas", () => {
  it("reads a recipient's delivery, read and played receipts, with every listed id", () => {
    assert.deepEqual(receiptsOf(receipt({ id: "WB1", from: "12025550100@s.whatsapp.net" }), ME), [
      { messageId: "WB1", fromJid: "12025550100@s.whatsapp.net", status: "delivered" },
    ]);
    const read = receipt({ id: "WB1", from: "12025550100@s.whatsapp.net", type: "read" }, [
      {
        tag: "list",
        attrs: {},
        content: [
          { tag: "item", attrs: { id: "WB2" } },
          { tag: "item", attrs: { id: "WB3" } },
        ],
      },
    ]);
    assert.deepEqual(
      receiptsOf(read, ME).map((r) => [r.messageId, r.status]),
      [
        ["WB1", "read"],
        ["WB2", "read"],
        ["WB3", "read"],
      ],
    );
    assert.equal(
      receiptsOf(receipt({ id: "WB4", from: "12025550100:2@s.whatsapp.net", type: "played" }), ME)[0]?.status,
      "played",
    );
  });

  it("keeps a receipt from a LID-addressed recipient as WhatsApp wrote it", () => {
    assert.deepEqual(receiptsOf(receipt({ id: "WB5", from: "200000000000222@lid", type: "read" }), ME), [
      { messageId: "WB5", fromJid: "200000000000222@lid", status: "read" },
    ]);
  });

  it("ignores what says nothing about a recipient's phone", () => {
    const ignored = [
      receipt({ id: "A", from: "12025550100@s.whatsapp.net", type: "sender" }),
      receipt({ id: "B", from: "12025550100@s.whatsapp.net", type: "retry" }),
      receipt({ id: "C", from: "15550001111:5@s.whatsapp.net", type: "read-self" }),
      receipt({ id: "D", from: "15550001111@s.whatsapp.net", recipient: "12025550100@s.whatsapp.net" }),
      receipt({ id: "E", from: "120363000000000000@g.us", participant: "12025550100@s.whatsapp.net" }),
      receipt({ id: "F", from: "status@broadcast" }),
      receipt({ id: "G", from: "200000000000111:5@lid", type: "read-self" }),
      receipt({ id: "H", from: "200000000000111@lid" }),
    ];
    for (const node of ignored) assert.deepEqual(receiptsOf(node, ME), [], JSON.stringify(node.attrs));
  });
});

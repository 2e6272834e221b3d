import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WAMessage } from "@whiskeysockets/baileys";
import { inboundOf } from "../../../../../services/sender/transports/baileys/inboundMessages.ts";

const directory = {
  getPNForLID: async (lid: string) => (lid === "200000000000222@lid" ? "12025550111@s.whatsapp.net" : null),
};
const at = 1_795_560_000;

const incoming = (key: Partial<WAMessage["key"]>, message: WAMessage["message"]): WAMessage => ({
  key: { id: "IN1", fromMe: false, remoteJid: "12025550100@s.whatsapp.net", ...key },
  message,
  messageTimestamp: at,
});

describe("inbound messages: what a person wrote to the account", () => {
  it("reads a plain text from a number", async () => {
    assert.deepEqual(await inboundOf(incoming({}, { conversation: "Hi there" }), directory), {
      messageId: "IN1",
      from: "+12025550100",
      fromJid: "12025550100@s.whatsapp.net",
      text: "Hi there",
      sentAt: new Date(at * 1000),
    });
  });

  it("reads a reply that quotes one of our messages, from a LID resolved to the number", async () => {
    const reply = incoming(
      { remoteJid: "200000000000222@lid" },
      { extendedTextMessage: { text: "STOP", contextInfo: { stanzaId: "WB-ours-1" } } },
    );
    const inbound = await inboundOf(reply, directory);
    assert.equal(inbound?.from, "+12025550111");
    assert.equal(inbound?.fromJid, "200000000000222@lid");
    assert.equal(inbound?.text, "STOP");
    assert.equal(inbound?.quotedMessageId, "WB-ours-1");
  });

  it("prefers the number the envelope carried alongside a LID", async () => {
    const inbound = await inboundOf(
      incoming(
        { remoteJid: "200000000000999@lid", remoteJidAlt: "12025550199@s.whatsapp.net" },
        { conversation: "ok" },
      ),
      directory,
    );
    assert.equal(inbound?.from, "+12025550199");
  });

  it("keeps an unknown LID as received, with no number", async () => {
    const inbound = await inboundOf(
      incoming({ remoteJid: "200000000000333@lid" }, { conversation: "?" }),
      directory,
    );
    assert.equal(inbound?.from, undefined);
    assert.equal(inbound?.fromJid, "200000000000333@lid");
  });

  it("reads a photo's caption, and a photo without one as empty text", async () => {
    const photo = await inboundOf(
      incoming({}, { imageMessage: { caption: "look", mimetype: "image/jpeg" } }),
      directory,
    );
    assert.equal(photo?.text, "look");
    const bare = await inboundOf(incoming({}, { imageMessage: { mimetype: "image/jpeg" } }), directory);
    assert.equal(bare?.text, "");
  });

  it("ignores our own echoes, groups, status, protocol traffic, reactions and undecryptable stubs", async () => {
    const ignored: WAMessage[] = [
      incoming({ fromMe: true }, { conversation: "sent by us" }),
      incoming(
        { remoteJid: "120363000000000000@g.us", participant: "12025550100@s.whatsapp.net" },
        { conversation: "group" },
      ),
      incoming({ remoteJid: "status@broadcast" }, { conversation: "status" }),
      incoming({}, { protocolMessage: { type: 5 } }),
      incoming({}, { reactionMessage: { text: "👍", key: { id: "WB1" } } }),
      { ...incoming({}, undefined), messageStubType: 2 },
    ];
    for (const message of ignored) assert.equal(await inboundOf(message, directory), undefined);
  });
});

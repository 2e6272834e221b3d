// The fake's newer half, driven by the real Baileys 7 client: LID addressing, people writing to
// the account (text, replies), media a recipient downloads and decrypts, and recipients with more
// than one device. What each test asserts is what Baileys reports or what the recipient's phone read.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { textOf } from "./fakePhones.ts";
import { ACCOUNT, withFake } from "./withFake.ts";

const PN_PERSON = "15550000101";
const LID_PERSON = "15550000102";

describe("fake WhatsApp: LID addressing", () => {
  it("answers usync with each number's LID and sends receipts from the LID of a LID-addressed person", () =>
    withFake({ lidAddressed: [LID_PERSON] }, async ({ wa, paired }) => {
      const { client } = await paired();
      const receipts: string[] = [];
      client.sock.ws.on("CB:receipt", (node: { attrs: Record<string, string> }) => {
        receipts.push(`${node.attrs.id} ${node.attrs.from}`);
      });
      await client.sock.sendMessage(wa.jid(PN_PERSON), { text: "to a number" }, { messageId: "P1" });
      await client.sock.sendMessage(wa.jid(LID_PERSON), { text: "to a LID person" }, { messageId: "L1" });
      const sent = await wa.waitForMessages(2);
      assert.deepEqual(
        sent.map((m) => [m.id, m.to, m.text, m.decryptError]),
        [
          ["P1", PN_PERSON, "to a number", undefined],
          ["L1", LID_PERSON, "to a LID person", undefined],
        ],
      );
      await client.waitForStatus("L1", 4);
      assert.ok(receipts.includes(`L1 ${wa.lidJid(LID_PERSON)}`), receipts.join(", "));
      assert.ok(receipts.includes(`P1 ${wa.jid(PN_PERSON)}`), receipts.join(", "));
      const mapping = client.sock.signalRepository.lidMapping;
      assert.match(
        (await mapping.getPNForLID(wa.lidJid(LID_PERSON))) ?? "",
        new RegExp(`^${LID_PERSON}(:0)?@s\\.whatsapp\\.net$`),
      );
      assert.ok(client.auth.creds.me?.lid?.endsWith("@lid"), "the account learnt its own LID at login");
    }));
});

describe("fake WhatsApp: people writing to the account", () => {
  it("delivers a text Signal-encrypted from the phone (pkmsg, then msg) with the sender's number", () =>
    withFake({}, async ({ wa, paired }) => {
      const { client } = await paired();
      const first = await wa.sendFromPhone(PN_PERSON, ACCOUNT, { text: "hello?", pushName: "Ana" });
      assert.deepEqual(first.devices, [`${ACCOUNT}:1@s.whatsapp.net`]);
      const m1 = await client.receivedMessage(first.id);
      assert.equal(m1.message?.conversation, "hello?");
      assert.equal(m1.key.remoteJid, wa.jid(PN_PERSON));
      assert.equal(m1.pushName, "Ana");
      const second = await wa.sendFromPhone(PN_PERSON, ACCOUNT, { text: "anyone there" });
      assert.equal((await client.receivedMessage(second.id)).message?.conversation, "anyone there");
    }));

  it("delivers a reply quoting our message from a LID, with the number alongside", () =>
    withFake({ lidAddressed: [LID_PERSON] }, async ({ wa, paired }) => {
      const { client } = await paired();
      await client.sock.sendMessage(wa.jid(LID_PERSON), { text: "Sale today" }, { messageId: "OURS1" });
      await client.waitForStatus("OURS1", 3);
      const reply = await wa.sendFromPhone(LID_PERSON, ACCOUNT, { text: "STOP", quotedId: "OURS1" });
      const m = await client.receivedMessage(reply.id);
      assert.equal(m.key.remoteJid, wa.lidJid(LID_PERSON));
      assert.equal(m.key.remoteJidAlt, wa.jid(LID_PERSON));
      assert.equal(m.message?.extendedTextMessage?.text, "STOP");
      assert.equal(m.message?.extendedTextMessage?.contextInfo?.stanzaId, "OURS1");
    }));
});

describe("fake WhatsApp: offline queue", () => {
  it("keeps what people send while the account is offline and delivers it at the next login", () =>
    withFake({}, async ({ wa, paired, client }) => {
      const { auth, client: first } = await paired();
      first.end();
      await wa.waitUntil(() => (wa.openConnections(ACCOUNT) === 0 ? true : undefined), "the account offline");
      const sent = await wa.sendFromPhone(LID_PERSON, ACCOUNT, { text: "STOP" });
      assert.deepEqual(sent.devices, []);
      assert.deepEqual(sent.queued, [`${ACCOUNT}:1@s.whatsapp.net`]);
      const again = client(auth);
      const m = await again.receivedMessage(sent.id);
      assert.equal(m.message?.conversation, "STOP");
      assert.equal(m.upsertType, "append", "Baileys reports queued messages as appended, not notified");
      const second = await wa.sendFromPhone(LID_PERSON, ACCOUNT, { text: "again" });
      assert.deepEqual(second.queued, [], "delivered once, live, after the queue was drained");
      assert.equal((await again.receivedMessage(second.id)).upsertType, "notify");
    }));
});

describe("fake WhatsApp: media", () => {
  it("takes an image and a PDF upload that the recipient's phone decrypts byte-exact", () =>
    withFake({ media: true }, async ({ wa, paired }) => {
      const host = wa.mediaHost;
      assert.ok(host);
      const { client } = await paired(ACCOUNT, { fetchAgent: host.agent() });
      const image = randomBytes(3000);
      const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(5000)]);
      await client.sock.sendMessage(
        wa.jid(PN_PERSON),
        { image, mimetype: "image/png", caption: "our flyer", jpegThumbnail: "" },
        { messageId: "IMG1" },
      );
      await client.sock.sendMessage(
        wa.jid(PN_PERSON),
        { document: pdf, mimetype: "application/pdf", fileName: "prices.pdf" },
        { messageId: "PDF1" },
      );
      const [img, doc] = await wa.waitForMessages(2);
      assert.equal(img?.media?.error, undefined);
      assert.deepEqual(img?.media?.bytes, image);
      assert.equal(img?.text, "our flyer");
      assert.equal(doc?.media?.kind, "document");
      assert.deepEqual(doc?.media?.bytes, pdf);
      assert.equal(doc?.message?.documentMessage?.fileName, "prices.pdf");
      assert.equal(host.uploads().length, 2);
    }));

  it("fails the send when the media host refuses the upload, and nothing reaches the recipient", () =>
    withFake({ media: true }, async ({ wa, paired }) => {
      const host = wa.mediaHost;
      assert.ok(host);
      const { client } = await paired(ACCOUNT, { fetchAgent: host.agent() });
      host.rejectUploads({ status: 507, reason: "insufficient storage" });
      await assert.rejects(
        client.sock.sendMessage(wa.jid(PN_PERSON), { image: randomBytes(500), mimetype: "image/png" }),
        /upload failed/i,
      );
      assert.deepEqual(wa.sent(), []);
    }));
});

describe("fake WhatsApp: recipients with several devices", () => {
  it("encrypts a copy for the phone and for the linked desktop, and both read it", () =>
    withFake({}, async ({ wa, paired }) => {
      wa.setDevices(PN_PERSON, 2);
      const { client } = await paired();
      await client.sock.sendMessage(wa.jid(PN_PERSON), { text: "two screens" }, { messageId: "D1" });
      const [m] = await wa.waitForMessages(1);
      assert.deepEqual(
        m?.copies.map((c) => [c.device, textOf(c.message), c.decryptError]),
        [
          [0, "two screens", undefined],
          [1, "two screens", undefined],
        ],
      );
    }));
});

describe("fake WhatsApp: history sync", () => {
  it("pushes a realistic history to a new device, which Baileys reads, and the session still sends", () =>
    withFake({}, async ({ wa, paired }) => {
      const histories: { chats: number; messages: number }[] = [];
      const { client } = await paired(ACCOUNT, { shouldSyncHistoryMessage: () => true });
      client.sock.ev.on("messaging-history.set", ({ chats, messages }) => {
        histories.push({ chats: chats.length, messages: messages.length });
      });
      const push = await wa.waitUntil(
        () => wa.historySyncs(ACCOUNT).find((p) => p.ids.length > 0 && p.confirmed === p.ids.length),
        "every history chunk confirmed with hist_sync",
        30_000,
      );
      assert.equal(
        push.size.chats * push.size.messagesPerChat >= 10_000,
        true,
        "tens of thousands of messages",
      );
      await client.sock.sendMessage(wa.jid(PN_PERSON), { text: "after history" }, { messageId: "H1" });
      const [m] = await wa.waitForMessages(1);
      assert.equal(m?.text, "after history");
      assert.equal(
        histories.reduce((n, h) => n + h.chats, 0),
        push.size.chats,
        "Baileys emitted every chat of the pushed history",
      );
      assert.equal(wa.historySyncs(ACCOUNT).length, 1, "pushed once, to the new device only");
    }));
});

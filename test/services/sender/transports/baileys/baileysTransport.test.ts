// The Baileys transport as the sender sees it, against the fake WhatsApp and a real redis-server
// holding the auth state: the unit tests of addressing, receipts and inbound messages check the
// pieces on hand-built stanzas; these check that real Baileys, linked by QR through the transport,
// turns what WhatsApp sends (receipts and messages from numbers and from LIDs) into the phone
// numbers a campaign's rows carry, and that attachments reach the recipient byte for byte or fail
// the send without a message going out.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import QRCode from "qrcode";
import { NewChatMessageCappingStatusType as CappingStatus } from "@whiskeysockets/baileys";
import type { FakeWhatsAppOptions } from "../../../../fakeWhatsApp/fakeWhatsAppServer.ts";
import { buildHistorySync } from "../../../../fakeWhatsApp/historySync.ts";
import { linkByQr, transportSessionSuite, type TransportSession } from "./transportSession.ts";

const ACCOUNT = "15550003333";
/** A person WhatsApp addresses by phone number. */
const NUMBER_PERSON = "15550000201";
/** A person WhatsApp addresses by LID: receipts and messages come from `<lid>@lid`. */
const LID_PERSON = "15550000202";

describe("Baileys transport against the fake WhatsApp", { timeout: 120_000 }, () => {
  const sessions = transportSessionSuite();

  /**
   * A fresh fake and a session linked by QR the way a user links one (the transport gets through
   * WhatsApp's 515 restart by itself).
   */
  async function withLinkedSession(
    fake: FakeWhatsAppOptions,
    body: (session: TransportSession) => Promise<void>,
  ): Promise<void> {
    await sessions.withSession(
      {
        fake,
        logLevel: "warn",
        transport: (wa) => (wa.mediaHost ? { mediaAgent: wa.mediaHost.agent() } : {}),
      },
      async (session) => {
        await linkByQr(session, ACCOUNT);
        await body(session);
      },
    );
  }

  it("reports what a person sent while the session was closed once it reconnects (a STOP during a restart)", () =>
    withLinkedSession({ lidAddressed: [LID_PERSON] }, async ({ wa, connection, journal }) => {
      assert.equal((await connection.send(`+${LID_PERSON}`, "Sale today", "OUT-BEFORE")).ok, true);
      await connection.close();
      await wa.waitUntil(() => (wa.openConnections(ACCOUNT) === 0 ? true : undefined), "the session closed");
      const stop = await wa.sendFromPhone(LID_PERSON, ACCOUNT, { text: "STOP", quotedId: "OUT-BEFORE" });
      assert.equal(stop.queued.length, 1, "WhatsApp holds it for the device");
      await connection.connect();
      const inbound = await journal.waitFor(
        () => journal.inbound.find((m) => m.messageId === stop.id),
        "the queued STOP after reconnecting",
      );
      assert.equal(inbound.from, `+${LID_PERSON}`);
      assert.equal(inbound.text, "STOP");
      assert.equal(inbound.quotedMessageId, "OUT-BEFORE");
    }));

  it("reports delivered then read with the recipient's number, whether WhatsApp names them by number or by LID", () =>
    withLinkedSession({ lidAddressed: [LID_PERSON] }, async ({ connection, journal }) => {
      assert.deepEqual(await connection.send(`+${NUMBER_PERSON}`, "Sale today", "OUT-NUMBER-1"), {
        ok: true,
        messageId: "OUT-NUMBER-1",
      });
      assert.deepEqual(await connection.send(`+${LID_PERSON}`, "Sale today", "OUT-LID-1"), {
        ok: true,
        messageId: "OUT-LID-1",
      });
      await journal.waitFor(
        () =>
          ["OUT-NUMBER-1", "OUT-LID-1"].every((id) =>
            journal.receiptsFor(id).some((r) => r.status === "read"),
          ) || undefined,
        "read receipts for both messages",
      );
      assert.deepEqual(journal.receiptsFor("OUT-NUMBER-1"), [
        { messageId: "OUT-NUMBER-1", to: `+${NUMBER_PERSON}`, status: "delivered" },
        { messageId: "OUT-NUMBER-1", to: `+${NUMBER_PERSON}`, status: "read" },
      ]);
      assert.deepEqual(journal.receiptsFor("OUT-LID-1"), [
        { messageId: "OUT-LID-1", to: `+${LID_PERSON}`, status: "delivered" },
        { messageId: "OUT-LID-1", to: `+${LID_PERSON}`, status: "read" },
      ]);
      assert.equal(journal.receipts.length, 4, "no receipt for anything else, none twice");
    }));

  it("reports texts and replies to our message with the sender's number, from a number and from a LID", () =>
    withLinkedSession({ lidAddressed: [LID_PERSON] }, async ({ wa, connection, journal }) => {
      for (const person of [NUMBER_PERSON, LID_PERSON]) {
        const sent = await connection.send(`+${person}`, "Sale today", `OFFER-${person}`);
        assert.equal(sent.ok, true);
      }
      const sentFrom = Math.floor(Date.now() / 1000) * 1000;
      const numberText = await wa.sendFromPhone(NUMBER_PERSON, ACCOUNT, { text: "what time?" });
      const numberReply = await wa.sendFromPhone(NUMBER_PERSON, ACCOUNT, {
        text: "count me in",
        quotedId: `OFFER-${NUMBER_PERSON}`,
      });
      const lidText = await wa.sendFromPhone(LID_PERSON, ACCOUNT, { text: "who is this?" });
      const lidReply = await wa.sendFromPhone(LID_PERSON, ACCOUNT, {
        text: "STOP",
        quotedId: `OFFER-${LID_PERSON}`,
      });
      await journal.waitFor(
        () => (journal.inbound.length >= 4 ? true : undefined),
        "the four messages people sent",
      );
      const sentUntil = Date.now();
      assert.equal(journal.inbound.length, 4, "each message reported once");
      const inbound = [numberText, numberReply, lidText, lidReply].map(({ id }) => {
        const message = journal.inbound.find((m) => m.messageId === id);
        assert.ok(message, `message ${id} was reported`);
        return message;
      });
      assert.deepEqual(
        inbound.map(({ from, fromJid, text, quotedMessageId }) => ({ from, fromJid, text, quotedMessageId })),
        [
          {
            from: `+${NUMBER_PERSON}`,
            fromJid: wa.jid(NUMBER_PERSON),
            text: "what time?",
            quotedMessageId: undefined,
          },
          {
            from: `+${NUMBER_PERSON}`,
            fromJid: wa.jid(NUMBER_PERSON),
            text: "count me in",
            quotedMessageId: `OFFER-${NUMBER_PERSON}`,
          },
          {
            from: `+${LID_PERSON}`,
            fromJid: wa.lidJid(LID_PERSON),
            text: "who is this?",
            quotedMessageId: undefined,
          },
          {
            from: `+${LID_PERSON}`,
            fromJid: wa.lidJid(LID_PERSON),
            text: "STOP",
            quotedMessageId: `OFFER-${LID_PERSON}`,
          },
        ],
      );
      // The LID-addressed person's messages keep the JID WhatsApp used, for replying in kind.
      assert.match(inbound[2]?.fromJid ?? "", /^\d+@lid$/);
      for (const message of inbound) {
        // WhatsApp stamps messages in whole seconds.
        const at = message.sentAt.getTime();
        assert.ok(at >= sentFrom && at <= sentUntil, `${message.sentAt.toISOString()} is when it was sent`);
      }
    }));

  it("names a LID sender by number from what the client learnt sending to them, when the envelope leaves the number out", () =>
    withLinkedSession({ lidAddressed: [LID_PERSON] }, async ({ wa, connection, journal }) => {
      const sent = await connection.send(`+${LID_PERSON}`, "Sale today", "OFFER-1");
      assert.equal(sent.ok, true);
      const reply = await wa.sendFromPhone(LID_PERSON, ACCOUNT, {
        text: "tell me more",
        quotedId: "OFFER-1",
        withoutAlternateJid: true,
      });
      const message = await journal.waitFor(
        () => journal.inbound.find((m) => m.messageId === reply.id),
        "the reply without the sender's number",
      );
      assert.equal(message.from, `+${LID_PERSON}`);
      assert.equal(message.fromJid, wa.lidJid(LID_PERSON));
      assert.equal(message.text, "tell me more");
      assert.equal(message.quotedMessageId, "OFFER-1");
    }));

  it("maps a LID to the number through the linked phone's history, for someone who writes before we ever sent", () => {
    const history = { chats: 10, messagesPerChat: 2 };
    return withLinkedSession({ historySync: history }, async ({ wa, journal }) => {
      // The newest chat of the account's history: it travels in the bootstrap chunk.
      const [newest] = buildHistorySync({ phone: ACCOUNT }, history).conversations;
      const chat = newest?.pnJid ?? newest?.id ?? "";
      const contact = chat.split("@")[0] ?? "";
      assert.match(contact, /^\d+$/);
      await wa.waitUntil(
        () => wa.historySyncs(ACCOUNT).find((p) => p.ids.length > 0 && p.confirmed === p.ids.length),
        "the history push confirmed",
      );
      wa.setLidAddressed([contact]);
      const hello = await wa.sendFromPhone(contact, ACCOUNT, {
        text: "hi, is this the shop?",
        withoutAlternateJid: true,
      });
      const message = await journal.waitFor(
        () => journal.inbound.find((m) => m.messageId === hello.id),
        "the first message from a LID with no number alongside",
      );
      assert.equal(message.fromJid, wa.lidJid(contact));
      assert.equal(message.from, `+${contact}`);
    });
  });

  it("sends an image and a streamed PDF that the recipient's phone decrypts byte for byte", () =>
    withLinkedSession({ media: true }, async ({ wa, connection }) => {
      const image = await QRCode.toBuffer("https://example.com/spring-sale", { type: "png" });
      const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(200_000), Buffer.from("\n%%EOF\n")]);
      // A file read from disk or object storage arrives in chunks, and is read only once.
      const pdfStream = Readable.from([
        pdf.subarray(0, 70_000),
        pdf.subarray(70_000, 140_000),
        pdf.subarray(140_000),
      ]);

      const imageSent = await connection.sendMedia(
        `+${NUMBER_PERSON}`,
        { kind: "image", body: image, mimetype: "image/png", caption: "Spring sale" },
        "MEDIA-IMAGE-1",
      );
      assert.deepEqual(imageSent, { ok: true, messageId: "MEDIA-IMAGE-1" });
      const pdfSent = await connection.sendMedia(
        `+${NUMBER_PERSON}`,
        {
          kind: "document",
          body: pdfStream,
          mimetype: "application/pdf",
          fileName: "prices.pdf",
          caption: "Our prices",
        },
        "MEDIA-PDF-1",
      );
      assert.deepEqual(pdfSent, { ok: true, messageId: "MEDIA-PDF-1" });

      const received = await wa.waitForMessages(2);
      const imageReceived = received.find((m) => m.id === "MEDIA-IMAGE-1");
      const pdfReceived = received.find((m) => m.id === "MEDIA-PDF-1");
      assert.equal(imageReceived?.to, NUMBER_PERSON);
      assert.equal(imageReceived?.media?.error, undefined);
      assert.equal(imageReceived?.media?.kind, "image");
      assert.ok(imageReceived?.media?.bytes?.equals(image), "the recipient sees the image that was sent");
      assert.equal(imageReceived?.text, "Spring sale");

      assert.equal(pdfReceived?.to, NUMBER_PERSON);
      assert.equal(pdfReceived?.media?.error, undefined);
      assert.equal(pdfReceived?.media?.kind, "document");
      assert.ok(pdfReceived?.media?.bytes?.equals(pdf), "the recipient opens the PDF that was sent");
      const document = pdfReceived?.message?.documentMessage;
      assert.equal(document?.fileName, "prices.pdf");
      assert.equal(document?.caption, "Our prices");
      assert.equal(document?.mimetype, "application/pdf");
    }));

  it("fails the send, naming the upload, when the media host refuses it, and sends nothing to the recipient", () =>
    withLinkedSession({ media: true }, async ({ wa, connection }) => {
      const host = wa.mediaHost;
      assert.ok(host);
      host.rejectUploads({ status: 500, reason: "media host unavailable" });
      const image = await QRCode.toBuffer("https://example.com/flyer", { type: "png" });
      const result = await connection.sendMedia(
        `+${NUMBER_PERSON}`,
        { kind: "image", body: image, mimetype: "image/png", caption: "Flyer" },
        "MEDIA-REFUSED-1",
      );
      assert.equal(result.ok, false);
      assert.match(result.ok ? "" : result.reason, /upload/i);
      assert.ok(
        host.attempts().some((a) => a.status === 500),
        "the upload was tried and refused, not skipped",
      );
      assert.deepEqual(wa.messagesTo(NUMBER_PERSON), [], "the recipient got no message");
      assert.deepEqual(
        wa.sent().filter((m) => m.id === "MEDIA-REFUSED-1"),
        [],
        "WhatsApp never saw the message",
      );

      // The refusal did not break the session: once the host takes uploads again, media goes out.
      host.rejectUploads(null);
      const retried = await connection.sendMedia(
        `+${NUMBER_PERSON}`,
        { kind: "image", body: image, mimetype: "image/png", caption: "Flyer" },
        "MEDIA-RETRIED-1",
      );
      assert.deepEqual(retried, { ok: true, messageId: "MEDIA-RETRIED-1" });
      const [delivered] = await wa.waitForMessages(1);
      assert.equal(delivered?.id, "MEDIA-RETRIED-1");
      assert.ok(delivered?.media?.bytes?.equals(image));
    }));

  it("passes on WhatsApp's warnings and cap on messages to people who have not replied, with its figures", () =>
    withLinkedSession({}, async ({ wa, journal }) => {
      assert.equal(
        wa.notifyNewChatMessageCap(ACCOUNT, {
          capping_status: CappingStatus.FIRST_WARNING,
          used_quota: 40,
          total_quota: 50,
        }),
        1,
      );
      const warned = await journal.waitFor(() => journal.newChatMessageCaps[0], "the warning");
      assert.deepEqual(warned, { status: "first_warning", used: 40, quota: 50 });
      wa.notifyNewChatMessageCap(ACCOUNT, {
        capping_status: CappingStatus.CAPPED,
        used_quota: 50,
        total_quota: 50,
        cycle_end_timestamp: "1798761600",
      });
      const capped = await journal.waitFor(() => journal.newChatMessageCaps[1], "the cap");
      assert.deepEqual(capped, {
        status: "capped",
        used: 50,
        quota: 50,
        cycleEndsAt: new Date("2027-01-01T00:00:00.000Z"),
      });
    }));
});

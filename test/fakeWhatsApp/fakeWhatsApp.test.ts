// The fake WhatsApp server driven by the real Baileys client, flow by flow: what the client
// observes (connection updates, credentials, message statuses) and what the server recorded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INITIAL_PREKEY_COUNT } from "@whiskeysockets/baileys";
import { parseQr } from "./pairing.ts";
import { newAuthState } from "./testClient.ts";
import { ACCOUNT, withFake } from "./withFake.ts";

describe("fake WhatsApp: handshake and QR", () => {
  it("completes the Noise handshake and shows the server's refs as QR codes", () =>
    withFake({}, async ({ wa, client }) => {
      const auth = newAuthState();
      const c = client(auth);
      const qr = await c.qr();
      const { ref, noiseKey, identityKey, advSecret } = parseQr(qr);
      assert.ok(qr.startsWith("https://wa.me/settings/linked_devices#"), "Baileys 7 shows the QR as a link");
      assert.ok(wa.pendingQrRefs().includes(ref));
      assert.deepEqual(noiseKey, Buffer.from(auth.creds.noiseKey.public));
      assert.deepEqual(identityKey, Buffer.from(auth.creds.signedIdentityKey.public));
      assert.equal(advSecret.toString("base64"), auth.creds.advSecretKey);
      assert.deepEqual(
        wa.connectionLog().map((r) => r.kind),
        ["registration"],
      );
    }));

  it("rotates the QR through every ref, then Baileys gives up with 408", () =>
    withFake({ qrRefCount: 3 }, async ({ client }) => {
      const c = client(newAuthState(), { qrTimeout: 30 });
      assert.equal(await c.closed(), 408);
      assert.equal(new Set(c.qrs()).size, 3);
    }));
});

describe("fake WhatsApp: pairing and login", () => {
  it("pairs on scan, asks for a restart (515), then logs the device in and opens", () =>
    withFake({}, async ({ wa, client }) => {
      const auth = newAuthState();
      const first = client(auth);
      const deviceJid = await wa.scanQr(await first.qr(), `+${ACCOUNT}`);
      assert.equal(deviceJid, `${ACCOUNT}:1@s.whatsapp.net`);
      assert.equal(await first.closed(), 515);
      assert.ok(first.updates.some((u) => u.isNewLogin));
      assert.equal(auth.creds.me?.id, deviceJid);
      assert.ok(auth.creds.account?.accountSignatureKey?.length);
      assert.deepEqual(wa.linkedDevices(ACCOUNT), [deviceJid]);

      const second = client(auth);
      await second.opened();
      assert.deepEqual(second.qrs(), [], "a linked device never sees a QR");
      assert.ok(auth.creds.nextPreKeyId > INITIAL_PREKEY_COUNT, "Baileys uploaded its prekeys");
      const log = wa.connectionLog();
      assert.deepEqual(
        log.map((r) => [r.kind, r.account, r.closeReason]),
        [
          ["registration", ACCOUNT, "stream:error 515 after pairing"],
          ["login", ACCOUNT, undefined],
        ],
      );
      assert.equal(wa.openConnections(ACCOUNT), 1);
    }));

  it("lets a restarted client log in again without a QR", () =>
    withFake({}, async ({ wa, client, paired }) => {
      const { auth, client: first } = await paired();
      first.end();
      assert.equal(await first.closed(), -1, "an intentional end carries no status code");
      const again = client(auth);
      await again.opened();
      assert.equal(wa.maxConcurrentConnections(ACCOUNT), 1);
    }));

  it("refuses a device the server does not know with 401", () =>
    withFake({}, async ({ client }) => {
      const auth = newAuthState();
      auth.creds.me = { id: `${ACCOUNT}:7@s.whatsapp.net` };
      assert.equal(await client(auth).closed(), 401);
    }));

  it("pairs by phone number with the code Baileys shows", () =>
    withFake({}, async ({ wa, client }) => {
      const auth = newAuthState();
      const first = client(auth);
      await first.qr();
      const code = await first.sock.requestPairingCode(ACCOUNT);
      assert.equal(await wa.enterPairingCode(ACCOUNT, code), `${ACCOUNT}:1@s.whatsapp.net`);
      assert.equal(await first.closed(), 515);
      assert.equal(auth.creds.registered, true);
      await client(auth).opened();
    }));

  it("rejects a mistyped pairing code", () =>
    withFake({}, async ({ wa, client }) => {
      const first = client(newAuthState());
      await first.qr();
      await first.sock.requestPairingCode(ACCOUNT);
      await assert.rejects(wa.enterPairingCode(ACCOUNT, "AAAAAAAA"), /wrong pairing code/);
      assert.deepEqual(wa.linkedDevices(ACCOUNT), []);
    }));
});

describe("fake WhatsApp: sending", () => {
  it("decrypts each recipient's copy and reports delivered then read", () =>
    withFake({}, async ({ wa, paired }) => {
      const { client } = await paired();
      const recipients = ["15550000101", "15550000102", "15550000103", "15550000104", "15550000105"];
      for (const [i, phone] of recipients.entries()) {
        await client.sock.sendMessage(wa.jid(phone), { text: `hello ${i}` }, { messageId: `M${i}` });
      }
      const sent = await wa.waitForMessages(recipients.length);
      assert.deepEqual(
        sent.map((m) => [m.id, m.from, m.to, m.text, m.error, m.decryptError]),
        recipients.map((phone, i) => [`M${i}`, ACCOUNT, phone, `hello ${i}`, undefined, undefined]),
      );
      for (const i of recipients.keys()) assert.equal((await client.waitForStatus(`M${i}`, 4)).status, 4);

      // A second message rides the established Signal session (a `msg`, not a `pkmsg`).
      await client.sock.sendMessage(wa.jid(recipients[0] ?? ""), { text: "again" }, { messageId: "M9" });
      await wa.waitForMessages(recipients.length + 1);
      assert.deepEqual(
        wa.messagesTo(recipients[0] ?? "").map((m) => m.text),
        ["hello 0", "again"],
      );
    }));

  it("stops at delivered when the recipient never reads", () =>
    withFake({ receipts: { readAfterMs: null } }, async ({ wa, paired }) => {
      const { client } = await paired();
      await client.sock.sendMessage(wa.jid("15550000201"), { text: "hi" }, { messageId: "D1" });
      assert.equal((await client.waitForStatus("D1", 3)).status, 3);
      await client.sock.sendMessage(wa.jid("15550000201"), { text: "hi" }, { messageId: "D2" });
      assert.equal((await client.waitForStatus("D2", 3)).status, 3);
      assert.equal(client.status("D1")?.status, 3);
    }));

  it("answers onWhatsApp for registered numbers only", () =>
    withFake({ registeredNumbers: ["15550000301"] }, async ({ wa, paired }) => {
      const { client } = await paired();
      const found = await client.sock.onWhatsApp("+15550000301", "15550000302");
      assert.deepEqual(
        found?.map((r) => [r.jid, r.exists]),
        [["15550000301@s.whatsapp.net", true]],
      );
      wa.setRegisteredNumbers(["15550000302"]);
      const later = await client.sock.onWhatsApp("15550000301", "15550000302");
      assert.deepEqual(
        later?.map((r) => r.jid),
        ["15550000302@s.whatsapp.net"],
      );
    }));
});

describe("fake WhatsApp: faults", () => {
  it("error-acks a chosen message, which Baileys marks ERROR with the code", () =>
    withFake({}, async ({ wa, paired }) => {
      const { client } = await paired();
      wa.failMessages({ to: "+15550000401", error: "479", times: 1 });
      await client.sock.sendMessage(wa.jid("15550000401"), { text: "x" }, { messageId: "E1" });
      assert.deepEqual(await client.ack("E1"), { error: "479" });
      await client.sock.sendMessage(wa.jid("15550000401"), { text: "y" }, { messageId: "E2" });
      assert.deepEqual(await client.ack("E2"), { error: undefined });
      assert.equal((await client.waitForStatus("E2", 4)).status, 4, "the rule was for one message");
      // Baileys' own ERROR status surfaces once its event buffer flushes (here: E2's receipt).
      assert.deepEqual(client.status("E1"), { status: 0, error: "479" });
      assert.deepEqual(
        wa.sent().map((m) => [m.id, m.error]),
        [
          ["E1", "479"],
          ["E2", undefined],
        ],
      );
      assert.deepEqual(
        wa.messagesTo("15550000401").map((m) => m.id),
        ["E2"],
      );
    }));

  it("rate-restricts new contacts with 463 while known contacts still get through", () =>
    withFake({}, async ({ wa, paired }) => {
      const { client } = await paired();
      await client.sock.sendMessage(wa.jid("15550000501"), { text: "known" }, { messageId: "R1" });
      await client.waitForStatus("R1", 4);
      wa.restrictNewContacts();
      await client.sock.sendMessage(wa.jid("15550000501"), { text: "still fine" }, { messageId: "R2" });
      await client.sock.sendMessage(wa.jid("15550000502"), { text: "new" }, { messageId: "R3" });
      assert.deepEqual(await client.ack("R3"), { error: "463" });
      assert.equal((await client.waitForStatus("R2", 4)).status, 4);
      assert.deepEqual(wa.messagesTo("15550000502"), []);
    }));

  for (const [how, code] of [
    ["close", 428],
    [408, 408],
    [503, 503],
    ["replaced", 440],
  ] as const) {
    it(`drops the connection (${how}) and Baileys reports ${code}`, () =>
      withFake({}, async ({ wa, client, paired }) => {
        const { auth, client: first } = await paired();
        assert.equal(wa.disconnect(ACCOUNT, how), 1);
        assert.equal(await first.closed(), code);
        await client(auth).opened();
      }));
  }

  it("logs the device out (401) and refuses it afterwards", () =>
    withFake({}, async ({ wa, client, paired }) => {
      const { auth, client: first } = await paired();
      wa.disconnect(ACCOUNT, "logout");
      assert.equal(await first.closed(), 401);
      assert.deepEqual(wa.linkedDevices(ACCOUNT), []);
      assert.equal(await client(auth).closed(), 401);
    }));

  it("forgets a device the client logs out itself", () =>
    withFake({}, async ({ wa, paired }) => {
      const { client } = await paired();
      await client.sock.logout();
      assert.equal(await client.closed(), 401);
      await wa.waitUntil(() => (wa.linkedDevices(ACCOUNT).length === 0 ? true : undefined), "unlink");
    }));

  it("replaces the older socket when the same device logs in twice, and records the overlap", () =>
    withFake({}, async ({ wa, client, paired }) => {
      const { auth, client: first } = await paired();
      assert.equal(wa.maxConcurrentConnections(ACCOUNT), 1);
      const second = client(auth);
      await second.opened();
      assert.equal(await first.closed(), 440);
      assert.equal(wa.maxConcurrentConnections(ACCOUNT), 2);
      assert.equal(wa.openConnections(ACCOUNT), 1);
      const replaced = wa.connectionLog().find((r) => r.closeReason === "stream:error conflict replaced");
      assert.ok(replaced?.openedAt !== undefined && replaced.closedAt !== undefined);
    }));
});

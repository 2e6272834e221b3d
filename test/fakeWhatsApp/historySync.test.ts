// The history the fake pushes to a new companion, checked with Baileys 7's own code and no socket:
// if Baileys' history processing sees the configured chats, messages and names in these chunks,
// a memory measurement with them measures a real login's history, not a malformed one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inflateSync } from "node:zlib";
import {
  addTransactionCapability,
  DEFAULT_CONNECTION_CONFIG,
  downloadAndProcessHistorySyncNotification,
  downloadHistory,
  initAuthCreds,
  makeEventBuffer,
  PROCESSABLE_HISTORY_TYPES,
  proto,
  type BaileysEventMap,
} from "@whiskeysockets/baileys";
// The socket's own handler of decrypted messages; the package only exports it by path.
import processMessage from "@whiskeysockets/baileys/lib/Utils/process-message.js";
import { pino } from "pino";
import {
  buildHistorySync,
  historySyncNotificationMessages,
  historySyncUploads,
  REALISTIC_HISTORY,
  type HistorySyncSize,
} from "./historySync.ts";
import { MemoryKeyStore } from "./memoryKeyStore.ts";

const ACCOUNT = { phone: "15550000001" };
// Small enough to run in milliseconds, big enough for a bootstrap and several RECENT chunks.
const SIZE: HistorySyncSize = { chats: 120, messagesPerChat: 9, textBytes: 40 };
const CHUNK_SIZE = 250;
const { INITIAL_BOOTSTRAP, PUSH_NAME, RECENT } = proto.HistorySync.HistorySyncType;

function notificationOf(message: proto.IMessage): proto.Message.IHistorySyncNotification {
  const protocolMessage = message.protocolMessage;
  assert.equal(protocolMessage?.type, proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION);
  assert.ok(protocolMessage.historySyncNotification, "carries a historySyncNotification");
  return protocolMessage.historySyncNotification;
}

/** Baileys types a chat's id as optional; every chat from history has one. */
function idOf(chat: { id?: string | null }): string {
  assert.ok(chat.id, "a chat from history has an id");
  return chat.id;
}

/** What `messaging-history.set` would carry for each chunk, as Baileys 7 computes it. */
async function processedChunks(messages: proto.IMessage[]) {
  const processed = [];
  for (const message of messages)
    processed.push(await downloadAndProcessHistorySyncNotification(notificationOf(message), {}));
  return processed;
}

describe("history sync chunks as Baileys 7 reads them", () => {
  it("gives Baileys every configured chat, message and name, each once", async () => {
    const chunks = await processedChunks(
      await historySyncNotificationMessages(ACCOUNT, SIZE, { chunkSize: CHUNK_SIZE }),
    );
    const chats = chunks.flatMap((c) => c.chats);
    const messages = chunks.flatMap((c) => c.messages);
    assert.equal(chats.length, SIZE.chats);
    assert.equal(new Set(chats.map((c) => c.id)).size, SIZE.chats);
    assert.equal(messages.length, SIZE.chats * SIZE.messagesPerChat);
    assert.equal(new Set(messages.map((m) => `${m.key.remoteJid}/${m.key.id}`)).size, messages.length);

    const fromMe = messages.filter((m) => m.key.fromMe).length;
    assert.ok(fromMe > messages.length * 0.3 && fromMe < messages.length * 0.6, `${fromMe} of ours`);
    for (const m of messages) {
      assert.ok(Number(m.messageTimestamp) > 0, "every message has a timestamp");
      assert.ok(m.message?.conversation ?? m.message?.extendedTextMessage?.text, "every message has text");
      if (!m.key.fromMe) assert.ok(m.pushName, "received messages carry the sender's pushname");
    }
    const lidChats = chats.filter((c) => idOf(c).endsWith("@lid")).length;
    assert.ok(lidChats > 0 && lidChats < SIZE.chats, "some chats are addressed by LID, most by number");

    // Pushnames only come out of the PUSH_NAME chunk, one contact per chat.
    const pushnames = chunks.filter((c) => c.syncType === PUSH_NAME).flatMap((c) => c.contacts);
    assert.equal(pushnames.length, SIZE.chats);
    assert.ok(pushnames.every((c) => c.notify));
    assert.deepEqual(new Set(pushnames.map((c) => c.id)), new Set(chats.map((c) => c.id)));
    // Each conversation also yields a contact; saved numbers carry the address-book name.
    const chatContacts = chunks.filter((c) => c.syncType !== PUSH_NAME).flatMap((c) => c.contacts);
    assert.equal(chatContacts.length, SIZE.chats);
    const named = chatContacts.filter((c) => c.name).length;
    assert.ok(named > 0 && named < SIZE.chats, `${named} saved contacts`);
    // Every chat tells its other identity, so Baileys learns a LID mapping per chat without USync.
    assert.equal(new Set(chunks.flatMap((c) => c.lidPnMappings).map((m) => m.lid)).size, SIZE.chats);
  });

  it("sends one bootstrap, then pushnames, then RECENT chunks up to progress 100", async () => {
    const notifications = (
      await historySyncNotificationMessages(ACCOUNT, SIZE, { chunkSize: CHUNK_SIZE })
    ).map(notificationOf);
    const types = notifications.map((n) => Number(n.syncType));
    assert.deepEqual(types.slice(0, 2), [INITIAL_BOOTSTRAP, PUSH_NAME]);
    const recent = notifications.slice(2);
    assert.ok(recent.length >= 3, `${recent.length} RECENT chunks`);
    assert.ok(recent.every((n) => Number(n.syncType) === RECENT));
    assert.deepEqual(
      recent.map((n) => n.chunkOrder),
      recent.map((_, index) => index + 1),
    );
    const progress = recent.map((n) => n.progress ?? 0);
    assert.equal(progress.at(-1), 100, "Baileys marks the recent sync complete only at 100");
    assert.ok(progress.slice(0, -1).every((p, i) => p < 100 && p >= (progress[i - 1] ?? 0)));
    for (const n of notifications) {
      assert.ok(n.initialHistBootstrapInlinePayload?.length, "every chunk is inline");
      // Without this the socket would not process the chunk at all (Socket/chats.js:931-934).
      assert.ok(DEFAULT_CONNECTION_CONFIG.shouldSyncHistoryMessage(n));
      assert.ok(PROCESSABLE_HISTORY_TYPES.includes(Number(n.syncType)));
    }
    for (const n of notifications.filter((n) => Number(n.syncType) !== PUSH_NAME)) {
      const chunk = await downloadAndProcessHistorySyncNotification(n, {});
      const messages = chunk.messages.length;
      assert.ok(messages <= Math.max(CHUNK_SIZE, SIZE.messagesPerChat), `${messages} messages in a chunk`);
      if (messages) {
        const oldest = Math.min(...chunk.messages.map((m) => Number(m.messageTimestamp)));
        assert.equal(Number(n.oldestMsgInChunkTimestampSec), oldest);
      }
    }
  });

  it("is the same history for the same seed and account, another one otherwise", async () => {
    const bytes = (account: { phone: string }, seed: number) =>
      Buffer.from(proto.HistorySync.encode(buildHistorySync(account, SIZE, seed)).finish());
    assert.deepEqual(bytes(ACCOUNT, 7), bytes(ACCOUNT, 7));
    assert.notDeepEqual(bytes(ACCOUNT, 7), bytes(ACCOUNT, 8));
    assert.notDeepEqual(bytes(ACCOUNT, 7), bytes({ phone: "15550000002" }, 7));

    const payloads = async (seed: number) =>
      (await historySyncNotificationMessages(ACCOUNT, SIZE, { chunkSize: CHUNK_SIZE, seed })).map((m) =>
        Buffer.from(notificationOf(m).initialHistBootstrapInlinePayload ?? []),
      );
    assert.deepEqual(await payloads(3), await payloads(3));
  });

  it("drives Baileys' message handler to one messaging-history.set per chunk", async () => {
    const logger = pino({ level: "silent" });
    const creds = initAuthCreds();
    creds.me = { id: `${ACCOUNT.phone}:1@s.whatsapp.net`, lid: "200000000000001:1@lid" };
    const keyStore = addTransactionCapability(new MemoryKeyStore(), logger, {
      maxCommitRetries: 1,
      delayBetweenTriesMs: 1,
    });
    const signalRepository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
      { creds, keys: keyStore },
      logger,
    );
    const ev = makeEventBuffer(logger);
    const sets: BaileysEventMap["messaging-history.set"][] = [];
    ev.on("messaging-history.set", (set) => sets.push(set));
    ev.on("creds.update", (update) => Object.assign(creds, update));

    const messages = await historySyncNotificationMessages(ACCOUNT, SIZE, { chunkSize: CHUNK_SIZE });
    for (const [index, message] of messages.entries()) {
      await processMessage(
        {
          // What decode-wa-message.js makes of a stanza from our own phone: fromMe, chat = our number.
          key: { remoteJid: `${ACCOUNT.phone}@s.whatsapp.net`, fromMe: true, id: `HIST${index}` },
          messageTimestamp: 1_767_225_600 + index,
          message,
        },
        {
          shouldProcessHistoryMsg: true,
          ev,
          creds,
          keyStore,
          signalRepository,
          logger,
          options: {},
          getMessage: async () => undefined,
        },
      );
    }
    assert.equal(sets.length, messages.length);
    assert.equal(sets[0]?.isLatest, true, "the first chunk of a fresh login is the latest history");
    assert.equal(sets[1]?.isLatest, false);
    assert.equal(creds.processedHistoryMessages.length, messages.length);
    assert.equal(
      sets.reduce((sum, s) => sum + s.messages.length, 0),
      SIZE.chats * SIZE.messagesPerChat,
    );
    assert.equal(sets.at(-1)?.progress, 100);

    // Side effects that outlive the event: LID mappings and the contacts' privacy tokens.
    const someChat = sets.flatMap((s) => s.chats).find((c) => idOf(c).endsWith("@s.whatsapp.net"));
    assert.ok(someChat);
    assert.match((await signalRepository.lidMapping.getLIDForPN(idOf(someChat))) ?? "", /@lid$/);
    const withToken = sets.flatMap((s) => s.chats).filter((c) => c.tcToken?.length);
    assert.ok(withToken.length > 0);
    const tokenJids = await Promise.all(
      withToken.map(async (c) =>
        idOf(c).endsWith("@lid") ? idOf(c) : await signalRepository.lidMapping.getLIDForPN(idOf(c)),
      ),
    );
    const stored = await keyStore.get(
      "tctoken",
      tokenJids.filter((jid): jid is string => !!jid),
    );
    assert.equal(Object.keys(stored).length, withToken.length);
  });

  it("encrypts each chunk for a media host so the download path reads it too", async () => {
    const uploads = await historySyncUploads(ACCOUNT, SIZE, { chunkSize: CHUNK_SIZE, inline: false });
    const inline = await historySyncNotificationMessages(ACCOUNT, SIZE, { chunkSize: CHUNK_SIZE });
    assert.equal(uploads.length, inline.length);
    for (const [index, upload] of uploads.entries()) {
      const notification = notificationOf(upload.message);
      assert.equal(notification.initialHistBootstrapInlinePayload, undefined);
      assert.equal(notification.directPath, upload.directPath);
      assert.ok(
        notification.mediaKey?.length === 32 && notification.fileEncSha256 && notification.fileSha256,
      );
      // Baileys' own download and decryption, fed from a data: URL instead of a media host.
      const downloaded = await downloadHistory(
        {
          ...notification,
          directPath: null,
          url: `data:application/octet-stream;base64,${upload.encryptedBlob.toString("base64")}`,
        } as proto.Message.IHistorySyncNotification,
        {},
      );
      const inlinePayload = notificationOf(inline[index] ?? {}).initialHistBootstrapInlinePayload;
      assert.ok(inlinePayload);
      const expected = proto.HistorySync.decode(inflateSync(inlinePayload));
      assert.deepEqual(downloaded.toJSON(), expected.toJSON());
    }
  });

  it("sizes the realistic history in thousands of chats and tens of thousands of messages", () => {
    assert.ok(REALISTIC_HISTORY.chats >= 1_000);
    assert.ok(REALISTIC_HISTORY.chats * REALISTIC_HISTORY.messagesPerChat >= 10_000);
  });
});

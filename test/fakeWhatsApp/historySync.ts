// The history a companion receives right after its first login: the account's own phone pushes
// its chats to the new device as HISTORY_SYNC_NOTIFICATION protocol messages. Baileys decodes and
// holds all of it in memory while it processes it, so the fake needs a history of a real account's
// size to push if we want to measure what a fresh login costs the sender process.
//
// Where the bytes travel: Baileys 7 reads the zlib-deflated `HistorySync` proto from the
// notification's `initialHistBootstrapInlinePayload` when it is there (lib/Utils/history.js:119-127)
// and only downloads from the media host otherwise. Baileys 6.x never reads the inline payload: it
// always downloads `directPath` and decrypts it with `mediaKey` as media of type 'md-msg-hist'
// (baileys6 lib/Utils/history.js:10-21, 76-78). `historySyncNotificationMessages` gives every chunk inline,
// which is all Baileys 7 needs; `historySyncUploads` adds the encrypted blob and the download
// fields for a media host, which 6.x would need (the fake has no media host yet).
import { getMediaKeys, proto } from "@whiskeysockets/baileys";
import { createCipheriv, createHash, createHmac } from "node:crypto";
import { promisify } from "node:util";
import { deflate } from "node:zlib";
import { lidJid, lidOf, userJid } from "./fakePhones.ts";

const deflateAsync = promisify(deflate);

export interface HistorySyncSize {
  /** One-to-one conversations on the phone. */
  chats: number;
  messagesPerChat: number;
  /** Average length of a message text in bytes (each message varies around it); 60 when omitted. */
  textBytes?: number;
}

/**
 * What a campaign account's phone pushes to a new companion: 2,000 chats × 15 messages of ~60 bytes,
 * 30,000 messages.
 *
 * Why this size. What Baileys asks for when it registers a companion (lib/Utils/validate-connection.js:
 * 86-103): `requireFullSync: syncFullHistory` (true by default, Defaults/index.js:63),
 * `storageQuotaMb: 10240` and no `recentSyncDaysLimit`, so the phone uses its own recent-history
 * window and sends INITIAL_BOOTSTRAP, PUSH_NAME and RECENT chunks; FULL chunks may follow but the
 * default `shouldSyncHistoryMessage` drops them (Defaults/index.js:65-67), so what Baileys holds is
 * bootstrap + recent. An account that sends campaigns has a 1:1 chat with every recipient it ever
 * messaged, and the recent window of months covers several campaigns per recipient plus their
 * replies: thousands of chats with a dozen or two messages each. Chat texts are short; 60 bytes is
 * a typical line of a conversation. The Baileys source says nothing about chunk sizes (the only
 * hint is that the companion declares `supportRecentSyncChunkMessageCountTuning`, i.e. the phone
 * bounds a RECENT chunk by a message count); see `DEFAULT_CHUNK_MESSAGES`.
 */
export const REALISTIC_HISTORY: HistorySyncSize = { chats: 2_000, messagesPerChat: 15, textBytes: 60 };

/**
 * Messages per chunk when the caller does not say. An assumption, not a measured WhatsApp value:
 * it puts the realistic history in fifteen RECENT chunks of ~130 KB deflated (~360 KB of proto)
 * each, small enough for one Signal message per chunk and enough chunks to exercise Baileys'
 * per-chunk handling.
 */
export const DEFAULT_CHUNK_MESSAGES = 2_000;

/**
 * The newest message of every generated history is this old (2026-01-01T00:00:00Z): a fixed
 * anchor instead of the clock keeps a seed's history byte for byte the same on every run.
 */
export const HISTORY_ENDS_AT_SECONDS = 1_767_225_600;

/** How far back the phone's recent window reaches for the chats we generate. */
const RECENT_WINDOW_SECONDS = 90 * 24 * 3600;

/** mulberry32: small, fast and good enough to make conversations look varied. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Two accounts with the same seed should still have different contacts. */
function seedFor(account: { phone: string }, seed: number): number {
  return createHash("sha256").update(`history:${account.phone}:${seed}`).digest().readUInt32BE(0);
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const hexDigits = (random: () => number, length: number): string =>
  Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join("");

const decimalDigits = (random: () => number, length: number): string =>
  Array.from({ length }, () => Math.floor(random() * 10)).join("");

const randomBytesFrom = (random: () => number, length: number): Buffer =>
  Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));

// Real-language words so the deflated payload shrinks like real chat text does, not like noise.
const WORDS: readonly string[] = (
  "hi hello ok thanks yes no see you tomorrow today the order is ready can we talk later please " +
  "send me price list how much for delivery address when will it arrive great perfect sure call at " +
  "pm morning good night week next payment received invoice attached discount offer valid until " +
  "friday store open closed sunday thank so much i need two more size color blue black available " +
  "stock again soon new collection link here check this out promo code free shipping above reply " +
  "stop to unsubscribe did get my message what time are there"
).split(" ");

const FIRST_NAMES: readonly string[] = (
  "Ana Bruno Carla Diego Elena Felipe Gabi Hugo Ines João Karin Lucas Marta Nuno Olga Pedro Rita " +
  "Sofia Tiago Vera Wagner Yara Zoe Amir Priya Chen Fatima Kwame Liam Mia"
).split(" ");
const LAST_NAMES: readonly string[] = (
  "Silva Santos Oliveira Souza Costa Pereira Almeida Ferreira Rodrigues Gomes Martins Lopes Smith " +
  "Müller Khan Okafor Nguyen García"
).split(" ");

/** Country code and subscriber-number length, so numbers have plausible lengths. */
const NUMBERING_PLANS = [
  { countryCode: "55", digits: 11 },
  { countryCode: "1", digits: 10 },
  { countryCode: "44", digits: 10 },
  { countryCode: "49", digits: 11 },
  { countryCode: "91", digits: 10 },
  { countryCode: "234", digits: 10 },
  { countryCode: "52", digits: 10 },
] as const;

function textOfAbout(random: () => number, averageBytes: number): string {
  // Between 0.4× and 1.6× the average, uniformly, so the mean stays the configured one.
  const target = Math.max(2, Math.round(averageBytes * (0.4 + random() * 1.2)));
  let text = "";
  while (Buffer.byteLength(text) < target) text += (text ? " " : "") + pick(random, WORDS);
  return text.charAt(0).toUpperCase() + text.slice(1) + pick(random, [".", "!", "?", "", ""]);
}

/** A contact of the account, as both of its WhatsApp identities. */
interface HistoryContact {
  readonly phone: string;
  readonly lid: string;
  /** Newer chats are addressed by LID; WhatsApp then tells the companion the PN alongside. */
  readonly addressedByLid: boolean;
  readonly pushname: string;
  /** The name in the account owner's address book; unsaved numbers have none. */
  readonly savedName: string | undefined;
}

const chatJidOf = (contact: HistoryContact): string =>
  contact.addressedByLid ? lidJid(contact.lid) : userJid(contact.phone);

function contactsOf(account: { phone: string }, count: number, random: () => number): HistoryContact[] {
  const taken = new Set<string>([account.phone]);
  const contacts: HistoryContact[] = [];
  while (contacts.length < count) {
    const plan = pick(random, NUMBERING_PLANS);
    const phone =
      plan.countryCode + String(Math.floor(random() * 9) + 1) + decimalDigits(random, plan.digits - 1);
    if (taken.has(phone)) continue;
    taken.add(phone);
    const first = pick(random, FIRST_NAMES);
    const last = pick(random, LAST_NAMES);
    contacts.push({
      phone,
      lid: lidOf(phone),
      addressedByLid: random() < 0.2,
      pushname: random() < 0.7 ? first : `${first} ${last}`,
      savedName: random() < 0.5 ? `${first} ${last}` : undefined,
    });
  }
  return contacts;
}

function conversationOf(
  contact: HistoryContact,
  size: Required<HistorySyncSize>,
  random: () => number,
): proto.IConversation {
  const chatJid = chatJidOf(contact);
  // Skewed towards the present: most chats were active recently, a long tail is older.
  const newestAt = HISTORY_ENDS_AT_SECONDS - Math.floor(RECENT_WINDOW_SECONDS * random() ** 2);
  const unread = random() < 0.15;
  const messages: proto.IHistorySyncMsg[] = [];
  let at = newestAt;
  let unreadCount = 0;
  let stillUnread = unread;
  // WhatsApp lists a conversation's messages newest first; Baileys relies on that when it keeps
  // only `messages[0]` on the chat (lib/Utils/history.js:80-90).
  for (let index = 0; index < size.messagesPerChat; index++) {
    const fromMe = random() < 0.45;
    if (fromMe) stillUnread = false;
    if (stillUnread) unreadCount++;
    const message: proto.IWebMessageInfo = {
      key: {
        remoteJid: chatJid,
        fromMe,
        // Phones mint 32 hex digits (Android) or "3A" + 18 (iPhone).
        id: random() < 0.6 ? hexDigits(random, 32).toUpperCase() : `3A${hexDigits(random, 18).toUpperCase()}`,
      },
      message:
        random() < 0.85
          ? { conversation: textOfAbout(random, size.textBytes) }
          : { extendedTextMessage: { text: textOfAbout(random, size.textBytes) } },
      messageTimestamp: at,
      status: fromMe
        ? index === 0 && random() < 0.3
          ? proto.WebMessageInfo.Status.DELIVERY_ACK
          : proto.WebMessageInfo.Status.READ
        : stillUnread
          ? proto.WebMessageInfo.Status.DELIVERY_ACK
          : proto.WebMessageInfo.Status.READ,
      ...(fromMe
        ? {
            userReceipt: [
              { userJid: userJid(contact.phone), receiptTimestamp: at + 2, readTimestamp: at + 60 },
            ],
          }
        : { pushName: contact.pushname }),
    };
    messages.push({ message, msgOrderId: size.messagesPerChat - index });
    // Gaps from half a minute to about two days between consecutive messages.
    at -= 30 + Math.floor(172_800 * random() ** 3);
  }
  const hasPrivacyToken = random() < 0.7;
  return {
    id: chatJid,
    messages,
    unreadCount,
    conversationTimestamp: newestAt,
    lastMsgTimestamp: newestAt,
    ...(contact.savedName ? { displayName: contact.savedName } : {}),
    ...(contact.addressedByLid ? { pnJid: userJid(contact.phone) } : { lidJid: lidJid(contact.lid) }),
    // The privacy token a contact issued us; Baileys stores these from history (process-message.js:17-62).
    ...(hasPrivacyToken
      ? {
          tcToken: randomBytesFrom(random, 26),
          tcTokenTimestamp: newestAt - 3600,
          tcTokenSenderTimestamp: newestAt - 3600,
        }
      : {}),
    archived: random() < 0.03,
    // Older messages stay on the phone: the FULL sync that would carry them is not processed.
    endOfHistoryTransfer: true,
    endOfHistoryTransferType:
      proto.Conversation.EndOfHistoryTransferType.COMPLETE_BUT_MORE_MESSAGES_REMAIN_ON_PRIMARY,
  };
}

/**
 * The account's whole history as one `HistorySync`, newest conversation first, with every
 * contact's pushname. The phone never sends it in one piece: `historySyncNotificationMessages`
 * splits it into the chunks it does send. Deterministic for (account, size, seed).
 */
export function buildHistorySync(
  account: { phone: string },
  size: HistorySyncSize,
  seed = 1,
): proto.HistorySync {
  const random = seededRandom(seedFor(account, seed));
  const complete: Required<HistorySyncSize> = { ...size, textBytes: size.textBytes ?? 60 };
  const contacts = contactsOf(account, size.chats, random);
  const conversations = contacts.map((contact) => conversationOf(contact, complete, random));
  conversations.sort((a, b) => Number(b.conversationTimestamp) - Number(a.conversationTimestamp));
  return proto.HistorySync.create({
    syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
    conversations,
    pushnames: contacts.map((contact) => ({ id: chatJidOf(contact), pushname: contact.pushname })),
  });
}

export interface HistorySyncChunkOptions {
  /** At most this many messages per chunk (whole conversations; a bigger one goes alone). */
  chunkSize?: number;
  seed?: number;
}

/**
 * The order WhatsApp pushes a new companion's history in, and what Baileys looks at:
 * 1. one INITIAL_BOOTSTRAP chunk with the newest chats. Baileys reports the bootstrap complete on
 *    the first one it sees, whatever its progress (lib/Socket/chats.js:937-946).
 * 2. one PUSH_NAME chunk: the only place Baileys reads `pushnames` (lib/Utils/history.js:103-107).
 * 3. RECENT chunks with the rest. Baileys counts the recent sync complete only when a RECENT chunk
 *    says `progress: 100` (chats.js:947-958) and otherwise waits 120 s after each RECENT chunk
 *    before reporting it paused (chats.js:960-974), so the last one says 100 and none before it
 *    does; at least one is sent, empty if the bootstrap took every chat.
 * `chunkOrder` counts each type's chunks from 1; Baileys only passes it on in `messaging-history.set`.
 */
function chunksOf(history: proto.HistorySync, chunkSize: number): proto.IHistorySync[] {
  const groups: proto.IConversation[][] = [];
  let group: proto.IConversation[] = [];
  let groupMessages = 0;
  for (const conversation of history.conversations) {
    const count = conversation.messages?.length ?? 0;
    if (group.length > 0 && groupMessages + count > chunkSize) {
      groups.push(group);
      group = [];
      groupMessages = 0;
    }
    group.push(conversation);
    groupMessages += count;
  }
  if (group.length > 0) groups.push(group);

  const [bootstrap = [], ...recent] = groups;
  if (recent.length === 0) recent.push([]);
  const recentTotal = recent.reduce((sum, g) => sum + messageCount(g), 0);
  let recentSent = 0;
  return [
    {
      syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
      chunkOrder: 1,
      conversations: bootstrap,
    },
    { syncType: proto.HistorySync.HistorySyncType.PUSH_NAME, chunkOrder: 1, pushnames: history.pushnames },
    ...recent.map((conversations, index): proto.IHistorySync => {
      recentSent += messageCount(conversations);
      const last = index === recent.length - 1;
      return {
        syncType: proto.HistorySync.HistorySyncType.RECENT,
        chunkOrder: index + 1,
        progress: last ? 100 : Math.min(99, Math.floor((100 * recentSent) / Math.max(1, recentTotal))),
        conversations,
      };
    }),
  ];
}

const messageCount = (conversations: proto.IConversation[]): number =>
  conversations.reduce((sum, c) => sum + (c.messages?.length ?? 0), 0);

function oldestMessageAt(conversations: proto.IConversation[] | null | undefined): number | undefined {
  let oldest: number | undefined;
  for (const conversation of conversations ?? []) {
    for (const item of conversation.messages ?? []) {
      const at = Number(item.message?.messageTimestamp ?? 0);
      if (at > 0 && (oldest === undefined || at < oldest)) oldest = at;
    }
  }
  return oldest;
}

// The notification's type enum is a different TS enum with the same numbers as the payload's.
const notificationSyncType = (type: proto.HistorySync.HistorySyncType | null | undefined) =>
  (type ?? proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP) as number as proto.Message.HistorySyncType;

interface PreparedChunk {
  readonly notification: proto.Message.IHistorySyncNotification;
  /** The deflated `HistorySync`: the inline payload, and the plaintext of the media blob. */
  readonly deflated: Buffer;
}

async function preparedChunks(
  account: { phone: string },
  size: HistorySyncSize,
  options: HistorySyncChunkOptions,
): Promise<PreparedChunk[]> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_MESSAGES;
  if (!(chunkSize >= 1)) throw new Error(`chunkSize must be at least 1, got ${chunkSize}`);
  const chunks = chunksOf(buildHistorySync(account, size, options.seed), chunkSize);
  return Promise.all(
    chunks.map(async (chunk): Promise<PreparedChunk> => {
      const deflated = await deflateAsync(proto.HistorySync.encode(chunk).finish());
      const oldest = oldestMessageAt(chunk.conversations);
      return {
        deflated,
        notification: {
          syncType: notificationSyncType(chunk.syncType),
          chunkOrder: chunk.chunkOrder ?? null,
          ...(chunk.progress !== undefined ? { progress: chunk.progress } : {}),
          ...(oldest !== undefined ? { oldestMsgInChunkTimestampSec: oldest } : {}),
          initialHistBootstrapInlinePayload: deflated,
        },
      };
    }),
  );
}

const protocolMessageOf = (notification: proto.Message.IHistorySyncNotification): proto.IMessage => ({
  protocolMessage: {
    type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
    historySyncNotification: notification,
  },
});

/**
 * The messages the account's phone (device 0) sends the new companion, in sending order, each
 * chunk's payload inline. Real WhatsApp inlines only INITIAL_BOOTSTRAP, INITIAL_STATUS_V3 and
 * PUSH_NAME (WA Web's `maybeGetInlinePayload` ignores the field on other types) and makes RECENT
 * chunks downloads; Baileys 7 reads the inline payload on any type, so the fake inlines them all
 * and needs no media host. Baileys 6.x cannot read these: see `historySyncUploads`.
 */
export async function historySyncNotificationMessages(
  account: { phone: string },
  size: HistorySyncSize,
  options: HistorySyncChunkOptions = {},
): Promise<proto.IMessage[]> {
  const chunks = await preparedChunks(account, size, options);
  return chunks.map((chunk) => protocolMessageOf(chunk.notification));
}

/** One chunk as a media host would serve it, and the notification that points at it. */
export interface HistorySyncUpload {
  readonly message: proto.IMessage;
  /** The path the notification names; a media host serves `encryptedBlob` there. */
  readonly directPath: string;
  /** AES-256-CBC of the deflated proto, then the first 10 bytes of its HMAC-SHA256, like all WA media. */
  readonly encryptedBlob: Buffer;
}

/**
 * The same chunks with the download fields Baileys 6.x needs (`directPath`, `mediaKey`,
 * `fileSha256`, `fileEncSha256`, `fileLength`) and the blobs to serve. With `inline` (the default)
 * the inline payload stays too, so one set of messages serves both majors; `inline: false` makes
 * Baileys 7 download as well. Keys are derived from the seed, so blobs are reproducible.
 */
export async function historySyncUploads(
  account: { phone: string },
  size: HistorySyncSize,
  options: HistorySyncChunkOptions & { inline?: boolean } = {},
): Promise<HistorySyncUpload[]> {
  const chunks = await preparedChunks(account, size, options);
  const keySeed = seedFor(account, options.seed ?? 1);
  return Promise.all(
    chunks.map(async ({ notification, deflated }, index): Promise<HistorySyncUpload> => {
      const mediaKey = createHash("sha256").update(`history-media:${keySeed}:${index}`).digest();
      const { iv, cipherKey, macKey } = await getMediaKeys(mediaKey, "md-msg-hist");
      // getMediaKeys always derives all three; only its type leaves the MAC key optional.
      if (!macKey) throw new Error("getMediaKeys derived no MAC key");
      const cipher = createCipheriv("aes-256-cbc", cipherKey, iv);
      const encrypted = Buffer.concat([cipher.update(deflated), cipher.final()]);
      const mac = createHmac("sha256", macKey).update(iv).update(encrypted).digest().subarray(0, 10);
      const encryptedBlob = Buffer.concat([encrypted, mac]);
      const fileEncSha256 = createHash("sha256").update(encryptedBlob).digest();
      // Shaped like the paths WhatsApp's media CDN hands out for history blobs.
      const directPath = `/v/t62.36145-24/${fileEncSha256.toString("hex").slice(0, 40)}.enc?ccb=11-4`;
      const { initialHistBootstrapInlinePayload, ...withoutPayload } = notification;
      return {
        directPath,
        encryptedBlob,
        message: protocolMessageOf({
          ...(options.inline === false
            ? withoutPayload
            : { ...withoutPayload, initialHistBootstrapInlinePayload }),
          mediaKey,
          directPath,
          fileSha256: createHash("sha256").update(deflated).digest(),
          fileEncSha256,
          fileLength: deflated.length,
        }),
      };
    }),
  );
}

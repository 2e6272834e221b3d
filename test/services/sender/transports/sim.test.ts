// The sim transport as a demo, a load test or an end-to-end test sees it: what the outbox says
// was sent, which sends it refuses, and the people who write to a session or answer a blast.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, describe, it } from "node:test";
import {
  simTransport,
  type OutboxLine,
  type SimOptions,
  type SimTransport,
} from "../../../../services/sender/transports/sim.ts";
import { defaultSimReplyTexts, simFails } from "../../../../services/sender/transports/simPeople.ts";
import type {
  InboundMessage,
  SessionConnection,
  SessionListener,
} from "../../../../services/sender/transports/transport.ts";

const dir = mkdtempSync(join(tmpdir(), "wa-blast-sim-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let outboxes = 0;

interface OpenSim {
  readonly transport: SimTransport;
  readonly connection: SessionConnection;
  readonly outboxPath: string;
  readonly inbound: InboundMessage[];
}

function simFor(options: Partial<SimOptions> = {}): { transport: SimTransport; outboxPath: string } {
  const outboxPath = join(dir, `outbox-${++outboxes}`, "sim-outbox.jsonl");
  const paired = new Set<string>();
  const transport = simTransport({
    latencyMs: 0,
    failureRate: 0,
    notOnWhatsApp: [],
    outboxPath,
    scanAfterMs: 0,
    pairing: {
      isPaired: async (id) => paired.has(id),
      setPaired: async (id, isPaired) => void (isPaired ? paired.add(id) : paired.delete(id)),
    },
    ...options,
  });
  return { transport, outboxPath };
}

function listenerRecording(): { listener: SessionListener; inbound: InboundMessage[] } {
  const inbound: InboundMessage[] = [];
  return {
    inbound,
    listener: {
      onStatus: () => undefined,
      onQr: () => undefined,
      onReceipt: () => undefined,
      onInbound: (message) => inbound.push(message),
      onNewChatMessageCap: () => undefined,
    },
  };
}

async function openSim(options: Partial<SimOptions> = {}, sessionId = "s1"): Promise<OpenSim> {
  const { transport, outboxPath } = simFor(options);
  const { listener, inbound } = listenerRecording();
  const connection = transport.open(sessionId, listener, { leaseToken: 1 });
  await connection.connect();
  return { transport, connection, outboxPath, inbound };
}

function outboxOf(path: string): OutboxLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxLine);
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const phones = Array.from({ length: 200 }, (_, i) => `+1202555${String(1000 + i)}`);

describe("sim transport: media", () => {
  it("records an attachment given as bytes with its size, SHA-256 and caption", async () => {
    const { connection, outboxPath } = await openSim();
    const photo = new Uint8Array(Array.from({ length: 3000 }, (_, i) => i % 251));

    const result = await connection.sendMedia(
      "+12025550100",
      { kind: "image", body: photo, mimetype: "image/jpeg", caption: "Our new menu" },
      "m-photo",
    );

    assert.deepEqual(result, { ok: true, messageId: "m-photo" });
    const [line, ...rest] = outboxOf(outboxPath);
    assert.equal(rest.length, 0);
    assert.equal(line?.to, "+12025550100");
    assert.equal(line?.messageId, "m-photo");
    assert.equal(line?.sessionId, "s1");
    assert.equal(line?.text, "Our new menu");
    assert.deepEqual(line?.media, {
      kind: "image",
      mimetype: "image/jpeg",
      caption: "Our new menu",
      bytes: 3000,
      sha256: sha256(photo),
    });
  });

  it("reads a streamed body to its end and fingerprints all of it", async () => {
    const { connection, outboxPath } = await openSim();
    const chunks = [Buffer.from("%PDF-1.7 "), Buffer.alloc(70_000, 7), Buffer.from(" %%EOF")];
    const whole = Buffer.concat(chunks);

    const document = await connection.sendMedia(
      "+12025550101",
      {
        kind: "document",
        body: Readable.from(chunks),
        mimetype: "application/pdf",
        fileName: "price-list.pdf",
      },
      "m-doc",
    );
    const voiceNote = await connection.sendMedia(
      "+12025550101",
      {
        kind: "audio",
        body: Readable.from([Buffer.from("OggS-voice")]),
        mimetype: "audio/ogg",
        voiceNote: true,
      },
      "m-voice",
    );

    assert.deepEqual(document, { ok: true, messageId: "m-doc" });
    assert.deepEqual(voiceNote, { ok: true, messageId: "m-voice" });
    const [pdf, voice] = outboxOf(outboxPath);
    assert.equal(pdf?.text, "", "a caption-less attachment still has a text for text-only readers");
    assert.deepEqual(pdf?.media, {
      kind: "document",
      mimetype: "application/pdf",
      fileName: "price-list.pdf",
      bytes: whole.byteLength,
      sha256: sha256(whole),
    });
    assert.deepEqual(voice?.media, {
      kind: "audio",
      mimetype: "audio/ogg",
      voiceNote: true,
      bytes: 10,
      sha256: sha256(Buffer.from("OggS-voice")),
    });
  });

  it("keeps text lines as they were: no media field", async () => {
    const { connection, outboxPath } = await openSim();
    await connection.send("+12025550102", "Hello", "m-text");
    const [line] = outboxOf(outboxPath);
    assert.equal(line?.text, "Hello");
    assert.equal(line !== undefined && "media" in line, false);
  });

  it("refuses media as it refuses text, and writes nothing to the outbox", async () => {
    const image = () => ({ kind: "image" as const, body: Buffer.from("jpeg"), mimetype: "image/jpeg" });

    const notOpen = simFor();
    const unconnected = notOpen.transport.open("s1", listenerRecording().listener, { leaseToken: 1 });
    const stream = Readable.from([Buffer.from("jpeg")]);
    assert.deepEqual(await unconnected.sendMedia("+12025550103", { ...image(), body: stream }, "m-1"), {
      ok: false,
      reason: "session_not_open",
      accountDown: true,
    });
    assert.equal(stream.destroyed, true, "an unread stream is not left holding its source open");

    const noWhatsApp = await openSim({ notOnWhatsApp: ["+1202555*"] });
    assert.deepEqual(await noWhatsApp.connection.sendMedia("+12025550103", image(), "m-2"), {
      ok: false,
      reason: "not_on_whatsapp",
    });

    const failing = await openSim({ failureRate: 1 });
    assert.deepEqual(await failing.connection.sendMedia("+12025550103", image(), "m-3"), {
      ok: false,
      reason: "sim_failure",
    });

    const closed = await openSim();
    await closed.connection.close();
    assert.deepEqual(await closed.connection.sendMedia("+12025550103", image(), "m-4"), {
      ok: false,
      reason: "session_not_open",
      accountDown: true,
    });

    for (const sim of [notOpen, noWhatsApp, failing, closed]) assert.deepEqual(outboxOf(sim.outboxPath), []);
  });

  it("fails the same numbers for media as for text", async () => {
    const { connection } = await openSim({ failureRate: 0.3 });
    for (const phone of phones.slice(0, 40)) {
      const result = await connection.sendMedia(
        phone,
        { kind: "image", body: Buffer.from("jpeg"), mimetype: "image/jpeg" },
        `m-${phone}`,
      );
      assert.equal(result.ok, !simFails(phone, 0.3), phone);
    }
  });

  it("rejects an empty body, in memory or streamed, and a stream that breaks", async () => {
    const { connection, outboxPath } = await openSim();
    const empty = { kind: "video" as const, mimetype: "video/mp4" };

    assert.deepEqual(
      await connection.sendMedia("+12025550104", { ...empty, body: new Uint8Array(0) }, "m-1"),
      {
        ok: false,
        reason: "empty media",
      },
    );
    assert.deepEqual(
      await connection.sendMedia("+12025550104", { ...empty, body: Readable.from([]) }, "m-2"),
      {
        ok: false,
        reason: "empty media",
      },
    );
    const broken = new Readable({
      read() {
        this.destroy(new Error("disk read error"));
      },
    });
    const result = await connection.sendMedia("+12025550104", { ...empty, body: broken }, "m-3");
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.reason, /disk read error/);
    assert.deepEqual(outboxOf(outboxPath), []);
  });
});

describe("sim transport: inbound messages", () => {
  it("hands a person's message to the open session's listener", async () => {
    const { transport, inbound } = await openSim();
    const before = Date.now();

    assert.equal(transport.deliverInbound("s1", { from: "+12025550105", text: "Is this still on?" }), true);
    assert.equal(
      transport.deliverInbound("s1", {
        from: "+12025550106",
        text: "STOP",
        quotedMessageId: "m-blast-1",
        messageId: "3AFIXEDID",
        fromJid: "123456789012345@lid",
      }),
      true,
    );

    const [question, optOut] = inbound;
    assert.equal(inbound.length, 2);
    assert.equal(question?.from, "+12025550105");
    assert.equal(question?.fromJid, "12025550105@s.whatsapp.net");
    assert.equal(question?.text, "Is this still on?");
    assert.equal(question?.quotedMessageId, undefined);
    assert.match(question?.messageId ?? "", /^[0-9A-F]{8,}$/);
    assert.ok(question !== undefined && question.sentAt.getTime() >= before);
    assert.ok(question.sentAt.getTime() <= Date.now());
    assert.deepEqual(
      { ...optOut, sentAt: undefined },
      {
        messageId: "3AFIXEDID",
        from: "+12025550106",
        fromJid: "123456789012345@lid",
        text: "STOP",
        quotedMessageId: "m-blast-1",
        sentAt: undefined,
      },
    );

    transport.deliverInbound("s1", { from: "+12025550105", text: "again" });
    assert.notEqual(inbound[2]?.messageId, question.messageId, "each message gets its own id");
  });

  it("reports false for a session that is not open in this transport", async () => {
    const { transport, connection, inbound } = await openSim();
    const message = { from: "+12025550107", text: "hello?" };

    assert.equal(transport.deliverInbound("other-session", message), false);
    assert.equal(simFor().transport.deliverInbound("s1", message), false, "another transport's session");

    const pending = transport.open("s2", listenerRecording().listener, { leaseToken: 1 });
    assert.equal(transport.deliverInbound("s2", message), false, "opened but never connected");
    await pending.connect();
    assert.equal(transport.deliverInbound("s2", message), true);

    await connection.close();
    assert.equal(transport.deliverInbound("s1", message), false, "closed");
    await connection.connect();
    assert.equal(transport.deliverInbound("s1", message), true, "reconnected");
    await connection.logout();
    assert.equal(transport.deliverInbound("s1", message), false, "logged out");
    assert.equal(inbound.length, 1);
  });

  it("keeps delivering to a session's newer connection when a stale one closes", async () => {
    const { transport, connection: stale } = await openSim();
    const newer = listenerRecording();
    await transport.open("s1", newer.listener, { leaseToken: 2 }).connect();

    await stale.close();

    assert.equal(transport.deliverInbound("s1", { from: "+12025550108", text: "hi" }), true);
    assert.equal(newer.inbound.length, 1);
  });
});

describe("sim transport: simulated replies", () => {
  const REPLY_AFTER_MS = 50;

  interface Reply {
    readonly from: string | undefined;
    readonly fromJid: string;
    readonly text: string;
    readonly quotedMessageId: string | undefined;
    readonly messageId: string;
  }
  const replyOf = ({ from, fromJid, text, quotedMessageId, messageId }: InboundMessage): Reply => ({
    from,
    fromJid,
    text,
    quotedMessageId,
    messageId,
  });
  const messageIdFor = (phone: string) => `m-${phone.slice(1)}`;

  it("has about the configured share of recipients answer, the same ones every run", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const run = async () => {
      const { connection, inbound } = await openSim({ replyRate: 0.25, replyAfterMs: REPLY_AFTER_MS });
      for (const phone of phones) await connection.send(phone, "Big sale today", messageIdFor(phone));
      t.mock.timers.tick(REPLY_AFTER_MS - 1);
      assert.equal(inbound.length, 0, "nobody answers before the reply delay");
      t.mock.timers.tick(1);
      await connection.close();
      return inbound.map(replyOf);
    };

    const first = await run();
    const second = await run();

    assert.deepEqual(second, first, "a rerun gets the same replies from the same people");
    assert.ok(first.length >= 30 && first.length <= 70, `${first.length} of 200 replied at a 25% rate`);
    assert.equal(new Set(first.map((r) => r.from)).size, first.length, "one answer per message");
    for (const reply of first) {
      assert.ok(reply.from !== undefined);
      assert.equal(reply.quotedMessageId, messageIdFor(reply.from), "quotes the message it answers");
      assert.equal(reply.fromJid, `${reply.from.slice(1)}@s.whatsapp.net`);
      assert.ok(defaultSimReplyTexts.includes(reply.text), reply.text);
      assert.notEqual(reply.messageId, reply.quotedMessageId);
    }
    assert.equal(new Set(first.map((r) => r.messageId)).size, first.length, "replies have distinct ids");
    assert.ok(new Set(first.map((r) => r.text)).size > 1, "not everybody says the same thing");
  });

  it("sends no replies by default", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { connection, inbound } = await openSim();
    for (const phone of phones) await connection.send(phone, "Big sale today", messageIdFor(phone));
    t.mock.timers.tick(10_000);
    assert.deepEqual(inbound, []);
  });

  it("picks who answers independently of whose sends fail, and failed sends get no answer", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { connection, inbound } = await openSim({
      failureRate: 0.3,
      replyRate: 0.3,
      replyAfterMs: REPLY_AFTER_MS,
    });
    for (const phone of phones) await connection.send(phone, "Big sale today", messageIdFor(phone));
    t.mock.timers.tick(REPLY_AFTER_MS);

    // Were the two decided by the same hash, the failing third would be exactly the answering one.
    assert.ok(inbound.length >= 20, `${inbound.length} replies`);
    for (const reply of inbound) assert.equal(simFails(reply.from ?? "", 0.3), false, reply.from);
  });

  it("answers with the configured texts, and answers media too", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const texts = ["Yes please", "No thanks", "How much?", "unsubscribe"];
    const { connection, inbound } = await openSim({
      replyRate: 1,
      replyTexts: texts,
      replyAfterMs: REPLY_AFTER_MS,
    });
    for (const phone of phones.slice(0, 40)) {
      await connection.sendMedia(
        phone,
        { kind: "image", body: Buffer.from("jpeg"), mimetype: "image/jpeg", caption: "Sale" },
        messageIdFor(phone),
      );
    }
    t.mock.timers.tick(REPLY_AFTER_MS);

    assert.equal(inbound.length, 40);
    for (const reply of inbound) {
      assert.ok(texts.includes(reply.text), reply.text);
      assert.equal(reply.quotedMessageId, messageIdFor(reply.from ?? ""));
    }
    assert.ok(new Set(inbound.map((r) => r.text)).size > 1);
  });

  it("drops pending replies when the session closes or logs out", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    for (const end of ["close", "logout"] as const) {
      const { connection, inbound } = await openSim({ replyRate: 1, replyAfterMs: REPLY_AFTER_MS });
      for (const phone of phones.slice(0, 10)) await connection.send(phone, "Hi", messageIdFor(phone));
      await connection[end]();
      t.mock.timers.tick(REPLY_AFTER_MS * 10);
      assert.deepEqual(inbound, [], `no reply arrives after ${end}`);
    }
  });

  it("leaves no reply timer running after close, so a process can exit", async () => {
    const { connection } = await openSim({ replyRate: 1, replyAfterMs: 5_000 });
    const pendingTimeouts = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = pendingTimeouts();

    for (const phone of phones.slice(0, 5)) await connection.send(phone, "Hi", messageIdFor(phone));
    assert.equal(pendingTimeouts(), before + 5);
    await connection.close();

    assert.equal(pendingTimeouts(), before);
  });
});

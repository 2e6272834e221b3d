// People answering a blast, through the real Baileys client and the fake WhatsApp: replies are
// counted on the blast (quoted or not, from a number WhatsApp names by LID too), "Stop" puts the
// number on the suppression list so the next blast rejects it and a queued message never reaches
// it, "don't stop" is only a reply, and START takes the person's own opt-out back. A webhook
// receiver is told of the messages and the opt-out, signed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { INBOUND_MESSAGES } from "../../shared/nats/topology.ts";
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { consentHistory, inboundProcessed } from "../harness/inspect.ts";
import { eventually, startPlatform, untilBlastCompleted, type Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession } from "../harness/sessionWatch.ts";
import { WebhookReceiver } from "../harness/webhookReceiver.ts";

const ACCOUNT = "+15550003333";
const LID_PERSON = "+12025550101";
const PLAIN_PERSON = "+12025550102";
const CHATTY_PERSON = "+12025550103";
const CONFIRMATION = "You will not get our campaigns any more. Reply START to undo.";
/** The blasts' messages a person got (a confirmation is not one). */
const blastMessages = (wa: FakeWhatsApp, phone: string) =>
  wa.messagesTo(phone).filter((m) => m.text?.startsWith("Hello"));

interface BlastView {
  status: string;
  sent: number;
  failed: number;
  replied: number;
}

interface Preview {
  total: number;
  rejected: { count: number; sample: Array<{ phone: string; reason: string }> };
}

describe("replies and opt-outs from people a blast reached", () => {
  let servers: Servers;
  let wa: FakeWhatsApp;
  let platform: Platform;
  let nats: Nats;
  let receiver: WebhookReceiver;

  before(async () => {
    servers = await startServers();
    wa = await startFakeWhatsApp({ receipts: { deliveredAfterMs: null, readAfterMs: null } });
    wa.setLidAddressed([LID_PERSON]);
    platform = await startPlatform(servers, {
      WA_TRANSPORT: "baileys",
      WA_WEBSOCKET_URL: wa.url,
      SESSION_IDS: "s1",
      SEND_CHECK_NUMBERS: "false",
      SEND_MIN_DELAY_MS: "0",
      SEND_MAX_DELAY_MS: "0",
      SEND_TYPING: "false",
      OPT_OUT_CONFIRMATION: CONFIRMATION,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
    });
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
    await platform.start("webhooks");
    receiver = await WebhookReceiver.start();
    nats = await connectNats(servers.nats.url, "consent-test");
    const watch = await watchSession(platform, "s1");
    try {
      await wa.scanQr((await watch.next(isQr)).qr, ACCOUNT);
      await watch.next(hasStatus("open"));
    } finally {
      watch.close();
    }
  });

  after(async () => {
    await nats?.nc.close();
    await platform?.stop();
    await receiver?.close();
    await wa?.close();
    await servers?.dispose();
  });

  const json = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await platform.api(path, init);
    assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const post = (path: string, body: unknown) =>
    platform.api(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const blastTo = async (phones: string[], extra: Record<string, unknown> = {}) => {
    const res = await post("/api/blasts", {
      sessionId: "s1",
      message: "Hello {name}",
      recipients: phones.map((phone) => ({ phone, name: "friend" })),
      ...extra,
    });
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()) as { blastId: string; rejected: Preview["rejected"] };
  };
  const isSuppressed = async (phone: string) =>
    (await platform.api(`/api/suppression/${encodeURIComponent(phone)}`)).status === 200;

  it("counts replies, quoted or not, and acts on an opt-out keyword and nothing else", async () => {
    const hook = await post("/api/webhooks", {
      url: receiver.url("/crm"),
      events: ["inbound.message", "consent.optout", "recipient.replied"],
    });
    assert.equal(hook.status, 201, await hook.clone().text());
    receiver.trust("/crm", ((await hook.json()) as { secret: string }).secret);
    const { blastId } = await blastTo([LID_PERSON, PLAIN_PERSON, CHATTY_PERSON]);
    await untilBlastCompleted(platform, blastId, 60_000);
    const ours = (phone: string) => wa.messagesTo(phone)[0]?.id ?? assert.fail(`nothing sent to ${phone}`);

    // The LID-addressed person quotes our message; the others just write back.
    await wa.sendFromPhone(LID_PERSON, ACCOUNT, { text: "Stop", quotedId: ours(LID_PERSON) });
    await wa.sendFromPhone(PLAIN_PERSON, ACCOUNT, { text: "Thanks, see you there!" });
    await wa.sendFromPhone(CHATTY_PERSON, ACCOUNT, { text: "don't stop" });

    await eventually(
      async () => ((await json<BlastView>(`/api/blasts/${blastId}`)).replied === 3 ? true : undefined),
      20_000,
      "three replies counted",
    );
    await eventually(
      async () => ((await isSuppressed(LID_PERSON)) ? true : undefined),
      20_000,
      "opt-out kept",
    );
    assert.equal(await isSuppressed(PLAIN_PERSON), false);
    assert.equal(await isSuppressed(CHATTY_PERSON), false, '"don\'t stop" is not an opt-out');

    // The person is told, once, from the account they wrote to.
    await eventually(
      async () => (wa.messagesTo(LID_PERSON).some((m) => m.text === CONFIRMATION) ? true : undefined),
      20_000,
      "the opt-out confirmed",
    );
    assert.equal(wa.messagesTo(LID_PERSON).filter((m) => m.text === CONFIRMATION).length, 1);
    assert.equal(wa.messagesTo(PLAIN_PERSON).length, 1, "no confirmation for an ordinary reply");

    const optOuts = (await consentHistory(nats)).filter((e) => e.type === "consent.optout");
    assert.equal(optOuts.length, 1);
    assert.equal(optOuts[0]?.data.phone, LID_PERSON);
    assert.equal(optOuts[0]?.data.source, "keyword");
    assert.equal(optOuts[0]?.data.sessionId, "s1");
    assert.equal(optOuts[0]?.data.text, "Stop");

    // The CRM behind the webhook hears of all three messages, the three replies and the opt-out.
    const heard = async () => {
      const types = receiver
        .requestsTo("/crm")
        .filter((r) => r.signatureValid)
        .map((r) => r.type);
      const count = (type: string) =>
        new Set(
          receiver
            .requestsTo("/crm")
            .filter((r) => r.type === type)
            .map((r) => r.eventId),
        ).size;
      return count("inbound.message") === 3 &&
        count("recipient.replied") === 3 &&
        count("consent.optout") === 1
        ? types
        : undefined;
    };
    await eventually(heard, 30_000, "the webhook told of the messages and the opt-out");
    assert.ok(
      receiver.requestsTo("/crm").every((r) => r.signatureValid),
      "every request signed",
    );
    // The inbound event names the blast recipient each message answers.
    const inbound = receiver
      .requestsTo("/crm")
      .filter((r) => r.type === "inbound.message")
      .map((r) => (JSON.parse(r.body) as { data: { phone?: string; blastId?: string } }).data);
    for (const message of inbound) assert.equal(message.blastId, blastId, JSON.stringify(message));
    const optOutHook = receiver.requestsTo("/crm").find((r) => r.type === "consent.optout");
    assert.match(optOutHook?.body ?? "", new RegExp(`"phone":"\\${LID_PERSON}"`));

    // The results name the first reply of each recipient.
    const csv = await (await platform.api(`/api/blasts/${blastId}/results.csv`)).text();
    const lines = csv.split("\r\n");
    const header = lines[0]?.split(",") ?? [];
    const reply = header.indexOf("reply");
    assert.ok(reply > 0, header.join());
    const row = lines.find((line) => line.includes(LID_PERSON))?.split(",") ?? [];
    assert.equal(row[reply], "Stop");

    // The next blast rejects the number before anything is queued.
    const preview = (await (
      await post("/api/blasts/preview", {
        sessionId: "s1",
        message: "Hello {name}",
        recipients: [LID_PERSON, PLAIN_PERSON].map((phone) => ({ phone, name: "friend" })),
      })
    ).json()) as Preview;
    assert.equal(preview.total, 1);
    assert.deepEqual(
      preview.rejected.sample.map((r) => [r.phone, r.reason]),
      [[LID_PERSON, "suppressed"]],
    );
  });

  it("never sends a queued message to someone who opts out while the blast runs, and START undoes their own opt-out", async () => {
    const queue = Array.from({ length: 6 }, (_, i) => `+1202555020${i}`);
    const late = queue[5] ?? "";
    // The recipient last in line writes STOP after the blast has queued them.
    const { blastId } = await blastTo(queue, { pacing: { minDelayMs: 700, maxDelayMs: 800 } });
    await wa.sendFromPhone(late, ACCOUNT, { text: "STOP!" });
    await eventually(async () => ((await isSuppressed(late)) ? true : undefined), 20_000, "opt-out kept");
    const done = await untilBlastCompleted(platform, blastId, 60_000);
    assert.equal(done.sent, 5);
    assert.equal(done.failed, 1);
    assert.equal(blastMessages(wa, late).length, 0, "never sent the campaign");
    const csv = await (await platform.api(`/api/blasts/${blastId}/results.csv`)).text();
    assert.match(csv.split("\r\n").find((line) => line.includes(late)) ?? "", /opted_out/);

    await wa.sendFromPhone(late, ACCOUNT, { text: "start" });
    await eventually(async () => ((await isSuppressed(late)) ? undefined : true), 20_000, "opted back in");
    const again = await blastTo([late]);
    assert.equal(again.rejected.count, 0);
    await untilBlastCompleted(platform, again.blastId, 30_000);
    assert.equal(blastMessages(wa, late).length, 1);
    const changes = (await consentHistory(nats)).filter((e) => e.data.phone === late).map((e) => e.type);
    assert.deepEqual(changes, ["consent.optout", "consent.optin"]);
  });

  it("keeps an operator's opt-out when the person writes START", async () => {
    const phone = "+12025550301";
    const res = await post("/api/suppression", { phones: [phone], reason: "asked by phone" });
    assert.ok(res.ok, await res.clone().text());
    const before = (await nats.jsm.streams.info(INBOUND_MESSAGES)).state.messages;
    await wa.sendFromPhone(phone, ACCOUNT, { text: "START" });
    await eventually(
      async () =>
        (await nats.jsm.streams.info(INBOUND_MESSAGES)).state.messages > before ? true : undefined,
      20_000,
      "the message stored",
    );
    await eventually(() => inboundProcessed(nats), 20_000, "the message processed");
    assert.equal(await isSuppressed(phone), true);
  });
});

// The blast API through app.inject against real NATS and Redis: what a client sees, and that a
// rejected request leaves nothing in the log, the work queue or Redis.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decide } from "../../../shared/domain/blast.ts";
import { decodeSendWork } from "../../../shared/messages/sendWork.ts";
import { appendEvents, encodeEvent, readEvents } from "../../../shared/nats/eventLog.ts";
import { SEND_WORK, BLAST_EVENTS, subjects } from "../../../shared/nats/topology.ts";
import { parseCsv } from "../../harness/csvText.ts";
import {
  dataKeyCount,
  multipart,
  startGatewayWithServers,
  type GatewayUnderTest,
} from "../../harness/gatewayApp.ts";
import { eventually } from "../../harness/platform.ts";

describe("blast API", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  async function queued(subject: string): Promise<number> {
    const info = await gw.nats.jsm.streams.info(SEND_WORK, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  async function streamMessages(name: string): Promise<number> {
    return (await gw.nats.jsm.streams.info(name)).state.messages;
  }

  async function assertNothingMade(before: { events: number; work: number; keys: number }) {
    assert.equal(await streamMessages(BLAST_EVENTS), before.events, "no event appended");
    assert.equal(await streamMessages(SEND_WORK), before.work, "no work queued");
    assert.equal(await dataKeyCount(gw.redis), before.keys, "no Redis key written");
  }

  async function snapshot() {
    return {
      events: await streamMessages(BLAST_EVENTS),
      work: await streamMessages(SEND_WORK),
      keys: await dataKeyCount(gw.redis),
    };
  }

  const post = (payload: unknown) =>
    gw.inject({ method: "POST", url: "/api/blasts", payload: payload as object });

  it("rejects bad requests with a clear JSON error and leaves nothing behind", async () => {
    const start = await snapshot();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ sessionId: "s1.x", message: "hi", recipients: [{ phone: "+12025550100" }] }, 400, /sessionId/],
      [{ sessionId: "s>", message: "hi", recipients: [{ phone: "+12025550100" }] }, 400, /sessionId/],
      [
        { sessionId: "nope", message: "hi", recipients: [{ phone: "+12025550100" }] },
        404,
        /session nope not found/,
      ],
      [{ sessionId: "s1", message: "hi", campaignId: "missing" }, 404, /campaign missing not found/],
      [{ sessionId: "s1", message: "hi" }, 400, /campaignId, a recipientsFile/],
      [
        { sessionId: "s1", message: "Hi {city}", recipients: [{ phone: "+12025550100", name: "A" }] },
        400,
        /\{city\}, which no recipient has/,
      ],
      [{ sessionId: "s1", message: "Hi {name", recipients: [{ phone: "+12025550100" }] }, 400, /unclosed/],
      [
        { sessionId: "s1", message: "hi", recipients: [{ phone: "nope" }, { phone: "123" }] },
        400,
        /no valid recipients/,
      ],
      [
        { sessionId: "s1", message: "x".repeat(5000), recipients: [{ phone: "+12025550100" }] },
        400,
        /message/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, status, `${JSON.stringify(body).slice(0, 80)} -> ${res.body}`);
      const json = res.json<{ statusCode: number; message: string; error: string }>();
      assert.equal(json.statusCode, status);
      assert.match(json.message, message);
    }
    await assertNothingMade(start);
  });

  it("refuses a bad pool with the reason and queues nothing", async () => {
    const start = await snapshot();
    const one = [{ phone: "+12025550100" }];
    const cases: Array<[unknown, number, RegExp]> = [
      [{ sessionIds: [], message: "hi", recipients: one }, 400, /pool is empty/],
      [{ message: "hi", recipients: one }, 400, /pool is empty/],
      [
        { sessionIds: ["s1", "ghost", "gone"], message: "hi", recipients: one },
        400,
        /unknown account\(s\) in the pool: ghost, gone/,
      ],
      [{ sessionIds: ["s1", "s1"], message: "hi", recipients: one }, 400, /s1 is listed twice/],
      [{ sessionId: "s1", sessionIds: ["s1"], message: "hi", recipients: one }, 400, /not both/],
      [{ sessionIds: ["s1", "a.b"], message: "hi", recipients: one }, 400, /sessionIds/],
      [
        { sessionIds: Array.from({ length: 101 }, (_, i) => `p${i}`), message: "hi", recipients: one },
        400,
        /sessionIds/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, status, `${JSON.stringify(body).slice(0, 80)} -> ${res.body}`);
      assert.match(res.json<{ message: string }>().message, message);
    }
    const form = multipart(
      { sessionIds: "s1,ghost", message: "hi" },
      { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550100\n" },
    );
    const res = await gw.inject({ method: "POST", url: "/api/blasts", ...form });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json<{ message: string }>().message, /unknown account\(s\) in the pool: ghost/);
    await assertNothingMade(start);
  });

  it("queues a pool's work once for the whole pool, from JSON or a form", async () => {
    const added = await gw.inject({ method: "POST", url: "/api/sessions", payload: { sessionId: "s2" } });
    assert.ok(added.statusCode < 300, added.body);
    const res = await post({
      sessionIds: ["s1", "s2"],
      message: "hi",
      recipients: [{ phone: "+12025550120" }, { phone: "+12025550121" }],
    });
    assert.equal(res.statusCode, 202, res.body);
    const { blastId } = res.json<{ blastId: string }>();
    assert.equal(await queued(subjects.sendWork(blastId)), 2);
    const view = await eventually(async () => {
      const r = await gw.inject({ url: `/api/blasts/${blastId}` });
      return r.statusCode === 200
        ? r.json<{ sessionIds: string[]; bySession: Record<string, unknown> }>()
        : undefined;
    });
    assert.deepEqual(view.sessionIds, ["s1", "s2"]);
    assert.deepEqual(Object.keys(view.bySession), ["s1", "s2"]);

    const form = multipart(
      { sessionIds: "s2, s1", message: "hi" },
      { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550130\n" },
    );
    const fromForm = await gw.inject({ method: "POST", url: "/api/blasts", ...form });
    assert.equal(fromForm.statusCode, 202, fromForm.body);
    const formBlast = fromForm.json<{ blastId: string }>().blastId;
    const formView = await eventually(async () => {
      const r = await gw.inject({ url: `/api/blasts/${formBlast}` });
      return r.statusCode === 200 ? r.json<{ sessionIds: string[] }>() : undefined;
    });
    assert.deepEqual(formView.sessionIds, ["s2", "s1"]);
  });

  it("takes a frequency cap of the blast's own, or none, from JSON or a form, and refuses an unusable one", async () => {
    const start = await snapshot();
    const one = [{ phone: "+12025550140" }];
    const bad: Array<[unknown, RegExp]> = [
      [{ max: 0, periodHours: 24 }, /frequencyCap/],
      [{ max: 1, periodHours: 745 }, /frequencyCap/],
      [{ max: 1 }, /frequencyCap/],
      [{ max: 1, periodHours: 24, perNumber: true }, /frequencyCap/],
      ["weekly", /frequencyCap/],
    ];
    for (const [frequencyCap, message] of bad) {
      const res = await post({ sessionId: "s1", message: "hi", recipients: one, frequencyCap });
      assert.equal(res.statusCode, 400, `${JSON.stringify(frequencyCap)} -> ${res.body}`);
      assert.match(res.json<{ message: string }>().message, message);
    }
    const badForm = multipart(
      { sessionId: "s1", message: "hi", frequencyCap: '{"max":-1,"periodHours":24}' },
      { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550140\n" },
    );
    assert.equal((await gw.inject({ method: "POST", url: "/api/blasts", ...badForm })).statusCode, 400);
    await assertNothingMade(start);

    const settingsOf = (blastId: string) =>
      eventually(async () => {
        const r = await gw.inject({ url: `/api/blasts/${blastId}` });
        return r.statusCode === 200 ? gw.projection.sendingSettings(blastId) : undefined;
      });
    const capped = await post({
      sessionId: "s1",
      message: "hi",
      recipients: one,
      frequencyCap: { max: 2, periodHours: 168 },
    });
    assert.equal(capped.statusCode, 202, capped.body);
    assert.deepEqual(await settingsOf(capped.json<{ blastId: string }>().blastId), {
      pacing: {},
      frequencyCap: { max: 2, periodHours: 168 },
    });
    const form = multipart(
      { sessionId: "s1", message: "hi", frequencyCap: "null" },
      { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550141\n" },
    );
    const uncapped = await gw.inject({ method: "POST", url: "/api/blasts", ...form });
    assert.equal(uncapped.statusCode, 202, uncapped.body);
    assert.deepEqual(await settingsOf(uncapped.json<{ blastId: string }>().blastId), {
      pacing: {},
      frequencyCap: null,
    });
    const plain = await post({ sessionId: "s1", message: "hi", recipients: one });
    assert.deepEqual(await settingsOf(plain.json<{ blastId: string }>().blastId), { pacing: {} });
  });

  it("spools uploads to disk and removes them once answered, accepted or refused", async () => {
    const spool = await mkdtemp(join(tmpdir(), "wa-blast-spool-"));
    const before = process.env.TMPDIR;
    process.env.TMPDIR = spool;
    try {
      const good = multipart(
        { sessionId: "s1", message: "hi" },
        { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550140\n" },
      );
      assert.equal((await gw.inject({ method: "POST", url: "/api/blasts", ...good })).statusCode, 202);
      const bad = multipart(
        { sessionId: "s1", message: "hi" },
        { field: "recipientsFile", filename: "l.csv", data: "name\nAna\n" },
      );
      assert.equal((await gw.inject({ method: "POST", url: "/api/blasts", ...bad })).statusCode, 400);
      const preview = multipart(
        { sessionId: "s1", message: "hi" },
        { field: "recipientsFile", filename: "l.csv", data: "phone\n+12025550141\n" },
      );
      assert.equal(
        (await gw.inject({ method: "POST", url: "/api/blasts/preview", ...preview })).statusCode,
        200,
      );
      assert.deepEqual(await readdir(spool), []);
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
      await rm(spool, { recursive: true, force: true });
    }
  });

  it("rejects bad uploads: wrong type 415, damaged file 400, too large 413, no phone column 400", async () => {
    const start = await snapshot();
    const fields = { sessionId: "s1", message: "Hi {name}" };
    const cases: Array<[ReturnType<typeof multipart>, number, RegExp]> = [
      [
        multipart(fields, { field: "recipientsFile", filename: "list.pdf", data: "%PDF-1.4" }),
        415,
        /unsupported file type/,
      ],
      [
        multipart(fields, { field: "recipientsFile", filename: "list.xlsx", data: "not a zip" }),
        400,
        /damaged/,
      ],
      [
        multipart(fields, { field: "recipientsFile", filename: "list.csv", data: "name\nAna\n" }),
        400,
        /no "phone" column/,
      ],
      [
        multipart(fields, {
          field: "recipientsFile",
          filename: "big.csv",
          data: "phone\n" + "+12025550100\n".repeat(20_000),
        }),
        413,
        /too large|limit/i,
      ],
      [
        multipart(fields, { field: "other", filename: "a.csv", data: "phone\n+12025550100\n" }),
        400,
        /recipientsFile/,
      ],
    ];
    for (const [request, status, message] of cases) {
      const res = await gw.inject({ method: "POST", url: "/api/blasts", ...request });
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.json<{ message: string }>().message, message);
    }
    await assertNothingMade(start);
  });

  it("accepts a CSV upload merged with a campaign, deduplicated by normalized phone", async () => {
    const campaign = await gw.inject({
      method: "POST",
      url: "/api/campaigns",
      payload: {
        campaignId: "vip",
        name: "VIP",
        recipients: [
          { phone: "+1 202 555 0100", name: "Ana" },
          { phone: "(202) 555-0101", name: "Bob" },
        ],
      },
    });
    assert.equal(campaign.statusCode, 201, campaign.body);
    const csv = "Phone,Name\n2025550101,Bobby\n+12025550102,Cy\nbad,Dee\n";
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      ...multipart(
        { sessionId: "s1", message: "Hi {name}", campaignId: "vip" },
        { field: "recipientsFile", filename: "more.csv", data: csv },
      ),
    });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json<{
      blastId: string;
      total: number;
      duplicates: number;
      rejected: { count: number; sample: Array<{ row: number; reason: string }> };
    }>();
    assert.equal(body.total, 3);
    assert.equal(body.duplicates, 1);
    assert.deepEqual(body.rejected.sample, [
      { source: "file", row: 4, phone: "bad", reason: "phone has invalid characters" },
    ]);
    assert.equal(await queued(subjects.sendWork(body.blastId)), 3);
    const blast = await eventually(async () => {
      const r = await gw.inject({ url: `/api/blasts/${body.blastId}` });
      return r.statusCode === 200 ? r.json<Record<string, unknown>>() : undefined;
    });
    assert.equal(blast.total, 3);
    assert.equal(blast.campaignId, "vip");
    assert.equal(blast.pending, 3);
    assert.equal(blast.status, "running");
  });

  it("pauses, resumes and cancels, refusing transitions the state does not allow", async () => {
    const res = await post({
      sessionId: "s1",
      message: "hi",
      recipients: [{ phone: "+12025550110" }, { phone: "+12025550111" }],
    });
    const { blastId } = res.json<{ blastId: string }>();
    assert.equal(await queued(subjects.sendWork(blastId)), 2);
    await eventually(async () =>
      (await gw.projection.state(blastId)).status === "running" ? true : undefined,
    );
    const act = (what: string) => gw.inject({ method: "POST", url: `/api/blasts/${blastId}/${what}` });

    assert.equal((await act("resume")).statusCode, 409);
    const paused = await act("pause");
    assert.equal(paused.statusCode, 200);
    assert.equal(paused.json<{ status: string }>().status, "paused");
    await eventually(async () =>
      (await gw.projection.state(blastId)).status === "paused" ? true : undefined,
    );
    assert.equal((await act("pause")).statusCode, 409);
    assert.equal((await act("resume")).json<{ status: string }>().status, "running");
    await eventually(async () =>
      (await gw.projection.state(blastId)).status === "running" ? true : undefined,
    );
    const cancelled = await act("cancel");
    assert.equal(cancelled.statusCode, 200);
    assert.deepEqual(
      {
        status: cancelled.json<{ status: string }>().status,
        pending: cancelled.json<{ pending: number }>().pending,
      },
      { status: "cancelled", pending: 0 },
    );
    assert.equal(await queued(subjects.sendWork(blastId)), 0, "cancelled work is purged");
    await eventually(async () =>
      (await gw.projection.state(blastId)).status === "cancelled" ? true : undefined,
    );
    const again = await act("cancel");
    assert.equal(again.statusCode, 409);
    assert.match(again.json<{ message: string }>().message, /cancel a cancelled blast/);
    assert.equal((await gw.inject({ method: "POST", url: "/api/blasts/nope/pause" })).statusCode, 404);
    assert.equal((await gw.inject({ method: "POST", url: "/api/blasts/a.b/pause" })).statusCode, 400);
  });

  it("starts one blast per Idempotency-Key, however often the client retries", async () => {
    const body = { sessionId: "s1", message: "once", recipients: [{ phone: "+12025550150" }] };
    const send = (key: string) =>
      gw.inject({
        method: "POST",
        url: "/api/blasts",
        payload: body,
        headers: { "idempotency-key": key },
      });
    const first = await send("order-42");
    const retry = await send("order-42");
    assert.equal(first.statusCode, 202);
    assert.equal(retry.statusCode, 202);
    assert.equal(retry.headers["idempotent-replayed"], "true");
    assert.equal(retry.json<{ blastId: string }>().blastId, first.json<{ blastId: string }>().blastId);
    assert.equal(await queued(subjects.sendWork(first.json<{ blastId: string }>().blastId)), 1);
    const other = await send("order-43");
    assert.notEqual(other.json<{ blastId: string }>().blastId, first.json<{ blastId: string }>().blastId);
    assert.equal((await send("bad key!")).statusCode, 400);
  });

  it("lists blasts newest first with pagination", async () => {
    const res = await gw.inject({ url: "/api/blasts?page=1&pageSize=1" });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ items: Array<{ blastId: string }>; total: number; pageSize: number }>();
    assert.equal(body.items.length, 1);
    assert.ok(body.total >= 2);
    assert.equal((await gw.inject({ url: "/api/blasts?pageSize=0" })).statusCode, 400);
  });

  it("counts each recipient's first reply once and lists, shows and exports it", async () => {
    const phones = ["+12025550160", "+12025550161", "+12025550162"];
    const res = await post({
      sessionIds: ["s1", "s2"],
      message: "hi",
      recipients: phones.map((phone) => ({ phone })),
    });
    assert.equal(res.statusCode, 202, res.body);
    const { blastId } = res.json<{ blastId: string }>();
    await eventually(async () =>
      (await gw.projection.state(blastId)).status === "running" ? true : undefined,
    );
    const published: Array<{ replied: number }> = [];
    const progress = gw.nats.nc.subscribe(subjects.blastProgress(blastId), {
      callback: (err, msg) => {
        if (!err) published.push(msg.json<{ replied: number }>());
      },
    });

    // What the sender's inbound processor appends: decide on the projected state, then append.
    const recordReply = async (idx: number, text: string, sessionId: string, at: string) => {
      const command = {
        type: "record_reply",
        idx,
        phone: phones[idx] ?? "",
        sessionId,
        messageId: `in-${idx}-${at}`,
        text,
        now: new Date(at),
      } as const;
      const events = decide(command, await gw.projection.state(blastId));
      await appendEvents(gw.nats.js, events);
      return events;
    };
    await recordReply(1, '=HYPERLINK("http://x")', "s2", "2026-12-01T10:00:00.000Z");
    await recordReply(0, "Yes,\nplease", "s1", "2026-12-01T11:00:00.000Z");
    // A second reply of the same recipient: the log's dedupe drops it within its window...
    await recordReply(0, "and again", "s1", "2026-12-01T12:00:00.000Z");
    // ...and one appended past that window reaches the log, where the folds count it nothing.
    const [past] = decide(
      {
        type: "record_reply",
        idx: 1,
        phone: phones[1] ?? "",
        sessionId: "s2",
        messageId: "in-1-late",
        text: "much later",
        now: new Date("2026-12-02T10:00:00.000Z"),
      },
      await gw.projection.state(blastId),
    );
    assert.ok(past);
    await gw.nats.js.publish(subjects.blastEvent(blastId, past.type), encodeEvent(past));
    await eventually(async () =>
      (await gw.projection.lastSeq()) >= (await gw.nats.jsm.streams.info(BLAST_EVENTS)).state.last_seq
        ? true
        : undefined,
    );

    const blast = (await gw.inject({ url: `/api/blasts/${blastId}` })).json<{
      replied: number;
      pending: number;
    }>();
    assert.deepEqual({ replied: blast.replied, pending: blast.pending }, { replied: 2, pending: 3 });
    const listed = (await gw.inject({ url: "/api/blasts?pageSize=50" })).json<{
      items: Array<{ blastId: string; replied: number }>;
    }>();
    assert.equal(listed.items.find((b) => b.blastId === blastId)?.replied, 2);
    // The projector's throttled snapshot, which WebSocket watchers get, carries it too.
    await eventually(async () => (published.some((p) => p.replied === 2) ? true : undefined));
    progress.unsubscribe();

    const replies = await gw.inject({ url: `/api/blasts/${blastId}/replies` });
    assert.equal(replies.statusCode, 200, replies.body);
    assert.deepEqual(replies.json(), {
      items: [
        { idx: 0, phone: phones[0], sessionId: "s1", text: "Yes,\nplease", at: "2026-12-01T11:00:00.000Z" },
        {
          idx: 1,
          phone: phones[1],
          sessionId: "s2",
          text: '=HYPERLINK("http://x")',
          at: "2026-12-01T10:00:00.000Z",
        },
      ],
      total: 2,
      page: 1,
      pageSize: 50,
    });
    const second = (await gw.inject({ url: `/api/blasts/${blastId}/replies?page=2&pageSize=1` })).json<{
      items: Array<{ idx: number }>;
      total: number;
    }>();
    assert.deepEqual({ idxs: second.items.map((r) => r.idx), total: second.total }, { idxs: [1], total: 2 });
    assert.equal((await gw.inject({ url: "/api/blasts/b_missing/replies" })).statusCode, 404);
    assert.equal((await gw.inject({ url: `/api/blasts/${blastId}/replies?pageSize=0` })).statusCode, 400);

    const csv = await gw.inject({ url: `/api/blasts/${blastId}/results.csv` });
    const [header, ...rows] = parseCsv(csv.body);
    const column = (name: string) => (header ?? []).indexOf(name);
    assert.deepEqual(
      rows.map((r) => [r[column("replied_at")], r[column("reply")]]),
      [
        ["2026-12-01T11:00:00.000Z", "Yes,\nplease"],
        ["2026-12-01T10:00:00.000Z", '\'=HYPERLINK("http://x")'],
        ["", ""],
      ],
    );
  });

  it("rotates message variants: refuses bad ones, previews the split, fixes each recipient's in the log and the work", async () => {
    const start = await snapshot();
    const one = [{ phone: "+12025550100", name: "A" }];
    const cases: Array<[unknown, RegExp]> = [
      [{ sessionId: "s1", recipients: one }, /give message \(one template\) or variants/],
      [{ sessionId: "s1", message: "hi", variants: [{ text: "yo" }], recipients: one }, /not both/],
      [{ sessionId: "s1", variants: [], recipients: one }, /variants/],
      [{ sessionId: "s1", variants: [{ text: "a", weight: 0 }], recipients: one }, /weight/],
      [{ sessionId: "s1", variants: [{ text: "a" }, { text: "Hi {city}" }], recipients: one }, /\{city\}/],
      [{ sessionId: "s1", message: "[[Hi|[[Hey|Yo]]]]", recipients: one }, /cannot nest/],
      [{ sessionId: "s1", message: "[[SALE]]", recipients: one }, /one option/],
    ];
    for (const [body, message] of cases) {
      for (const url of ["/api/blasts", "/api/blasts/preview"]) {
        const res = await gw.inject({ method: "POST", url, payload: body as object });
        assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(body)} -> ${res.body}`);
        assert.match(res.json<{ message: string }>().message, message);
      }
    }
    await assertNothingMade(start);

    const recipients = Array.from({ length: 300 }, (_, i) => ({
      phone: `+1202555${String(3000 + i)}`,
      name: `N${i}`,
    }));
    const variants = [
      { text: "A {name}", weight: 1 },
      { text: "B {name}", weight: 3 },
    ];
    const form = multipart(
      { sessionId: "s1", variants: JSON.stringify(variants) },
      {
        field: "recipientsFile",
        filename: "l.csv",
        data: `phone,name\n${recipients.map((r) => `${r.phone},${r.name}`).join("\n")}\n`,
      },
    );
    const preview = await gw.inject({ method: "POST", url: "/api/blasts/preview", ...form });
    assert.equal(preview.statusCode, 200, preview.body);
    const plan = preview.json<{
      total: number;
      messages: Array<{ phone: string; text: string; variant?: string }>;
      variants: Array<{ variant: string; count: number; sample?: string }>;
    }>();
    assert.equal(plan.total, 300);
    assert.deepEqual(
      plan.variants.map((v) => v.variant),
      ["1", "2"],
    );
    assert.equal(
      plan.variants.reduce((sum, v) => sum + v.count, 0),
      300,
    );
    assert.ok(Math.abs((plan.variants[1]?.count ?? 0) / 300 - 0.75) < 0.1, JSON.stringify(plan.variants));
    assert.match(plan.variants[0]?.sample ?? "", /^A N\d+$/);
    assert.match(plan.variants[1]?.sample ?? "", /^B N\d+$/);
    for (const m of plan.messages) assert.equal(m.text[0], m.variant === "1" ? "A" : "B");

    const spun = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      payload: {
        sessionId: "s1",
        message: "[[Hi|Hey]] {name} \\[[sic\\]]",
        recipients: recipients.slice(0, 50),
      },
    });
    assert.equal(spun.statusCode, 200, spun.body);
    const spunPlan = spun.json<{ variants: Array<{ variant: string; count: number; sample: string }> }>();
    assert.deepEqual(
      spunPlan.variants.map((v) => [v.variant, v.sample.replace(/N\d+/, "N")]),
      [
        ["1", "Hi N [[sic]]"],
        ["2", "Hey N [[sic]]"],
      ],
    );
    const plain = await gw.inject({
      method: "POST",
      url: "/api/blasts/preview",
      payload: { sessionId: "s1", message: "Hi {name}", recipients: one },
    });
    assert.equal(plain.json<{ variants?: unknown }>().variants, undefined, "one message has no split");

    const res = await gw.inject({ method: "POST", url: "/api/blasts", ...form });
    assert.equal(res.statusCode, 202, res.body);
    const { blastId } = res.json<{ blastId: string }>();
    // The preview and the blast agree recipient by recipient: the choice hangs on the number.
    const previewed = new Map(plan.messages.map((m) => [m.phone, m.text]));
    const variantOf = new Map<number, string | undefined>();
    let created: unknown;
    await readEvents(gw.nats.js, subjects.blastHistory(blastId), ({ event }) => {
      if (event.type === "blast.recipients_added")
        for (const r of event.data.recipients) variantOf.set(r.idx, r.variant);
      if (event.type === "blast.created") created = event.data.variants;
    });
    assert.deepEqual(created, variants);
    assert.equal(variantOf.size, 300);
    // What a redelivery after a crash sends is the durable work message: it holds the chosen
    // variant's text, the one the log recorded for that recipient.
    const work = await gw.nats.jsm.streams.info(SEND_WORK, { subjects_filter: subjects.sendWork(blastId) });
    assert.equal(work.state.subjects?.[subjects.sendWork(blastId)], 300);
    let seen = 0;
    for (let seq = work.state.first_seq; seq <= work.state.last_seq && seen < 300; seq++) {
      const stored = await gw.nats.jsm.streams.getMessage(SEND_WORK, { seq }).catch(() => undefined);
      if (!stored || stored.subject !== subjects.sendWork(blastId)) continue;
      const item = decodeSendWork(stored.data);
      seen++;
      assert.equal(item.text, `${variantOf.get(item.idx) === "1" ? "A" : "B"} N${item.idx}`);
      const shown = previewed.get(item.phone);
      if (shown !== undefined) assert.equal(item.text, shown);
    }
    assert.equal(seen, 300);

    const csv = await gw.inject({ url: `/api/blasts/${blastId}/results.csv` });
    const [header, ...rows] = parseCsv(csv.body);
    const column = (header ?? []).indexOf("variant");
    assert.ok(column > 0);
    assert.deepEqual(
      rows.map((r) => r[column]),
      [...variantOf.keys()].sort((a, b) => a - b).map((idx) => variantOf.get(idx)),
    );
  });
});

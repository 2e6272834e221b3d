// Scheduled blasts and drafts through the API (app.inject, the gateway's own schedule timer, real
// NATS and Redis): a scheduled blast queues nothing until its time and then all of it once; a
// draft waits until started; edits replace the plan and are checked against every kept recipient;
// a blast that started cannot be edited; bad times are a 400 that leaves nothing behind.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeSendWork } from "../../../shared/messages/sendWork.ts";
import { SCHEDULES, SEND_WORK, BLAST_EVENTS, subjects } from "../../../shared/nats/topology.ts";
import { dataKeyCount, startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { eventsOf } from "../../harness/inspect.ts";
import { eventually } from "../../harness/platform.ts";

const recipients = Array.from({ length: 30 }, (_, i) => ({
  phone: `+1202555${String(1000 + i)}`,
  name: `Guest ${i}`,
  city: i % 2 === 0 ? "Jakarta" : "Bandung",
}));

describe("scheduled blasts and drafts through the API", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers();
  });
  after(async () => {
    await gw?.close();
  });

  async function queuedWork(blastId: string): Promise<Array<{ idx: number; text: string }>> {
    const subject = subjects.sendWork(blastId);
    const info = await gw.nats.jsm.streams.info(SEND_WORK, { subjects_filter: subject });
    const items: Array<{ idx: number; text: string }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const stored = await gw.nats.jsm.streams.getMessage(SEND_WORK, { seq }).catch(() => undefined);
      if (!stored || stored.subject !== subject) continue;
      const { idx, text } = decodeSendWork(stored.data);
      items.push({ idx, text });
    }
    return items.sort((a, b) => a.idx - b.idx);
  }

  const post = (payload: object) => gw.inject({ method: "POST", url: "/api/blasts", payload });
  const patch = (blastId: string, payload: object) =>
    gw.inject({ method: "PATCH", url: `/api/blasts/${blastId}`, payload });
  const summary = async (blastId: string) =>
    (await gw.inject({ url: `/api/blasts/${blastId}` })).json<Record<string, unknown>>();

  it("a scheduled blast keeps its recipients and queues nothing until its time, then each once", async () => {
    const sendAt = new Date(Date.now() + 4000);
    const res = await post({
      sessionId: "s1",
      message: "Hi {name}",
      recipients,
      sendAt: sendAt.toISOString(),
    });
    assert.equal(res.statusCode, 202, res.body);
    const created = res.json<{ blastId: string; status: string; scheduledFor: string; total: number }>();
    assert.equal(created.status, "scheduled");
    assert.equal(created.scheduledFor, sendAt.toISOString());
    assert.equal(created.total, 30);
    const { blastId } = created;
    await eventually(async () => (await summary(blastId)).status === "scheduled" || undefined);
    const waiting = await summary(blastId);
    assert.equal(waiting.scheduledFor, sendAt.toISOString());
    assert.equal(waiting.pending, 30);
    assert.deepEqual(await queuedWork(blastId), [], "nothing queued before its time");

    await eventually(async () => (await summary(blastId)).status === "running" || undefined, 10_000);
    const startedAt = Date.now();
    assert.ok(startedAt >= sendAt.getTime(), "not started early");
    await eventually(async () => (await queuedWork(blastId)).length === 30 || undefined);
    const work = await queuedWork(blastId);
    assert.deepEqual(
      work.map((w) => w.idx),
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.equal(work[3]?.text, "Hi Guest 3");
    const events = await eventsOf(gw.nats, blastId);
    const starts = events.filter((e) => e.type === "blast.started");
    assert.equal(starts.length, 1);
    const late = Date.parse(starts[0]?.data.at ?? "") - sendAt.getTime();
    assert.ok(late >= 0 && late < 1000, `started ${late} ms after its time`);
    const added = events.flatMap((e) => (e.type === "blast.recipients_added" ? e.data.recipients : []));
    assert.equal(new Set(added.map((r) => r.idx)).size, 30);
    // Its kept rows go once they are queued.
    await eventually(
      async () => (await gw.redis.keys(`*kept:campaign:${blastId}*`)).length === 0 || undefined,
    );
  });

  it("a draft waits; edits replace its message and variants, checked against every kept row; then it starts", async () => {
    const res = await post({ sessionId: "s1", message: "Hello {name}", recipients, draft: true });
    assert.equal(res.statusCode, 202, res.body);
    const { blastId, status } = res.json<{ blastId: string; status: string }>();
    assert.equal(status, "draft");
    await eventually(async () => (await summary(blastId)).status === "draft" || undefined);

    const unknownColumn = await patch(blastId, { message: "Hi {shoe_size}" });
    assert.equal(unknownColumn.statusCode, 400);
    assert.match(unknownColumn.json<{ message: string }>().message, /\{shoe_size\}, which no recipient has/);

    const edited = await patch(blastId, {
      variants: [
        { text: "Promo in {city} for {name}", weight: 1 },
        { text: "{name}, {city} deals", weight: 1 },
      ],
      sessionIds: ["s1"],
      frequencyCap: null,
    });
    assert.equal(edited.statusCode, 200, edited.body);
    const after = edited.json<{
      status: string;
      template: string;
      variants: unknown;
      frequencyCap: unknown;
    }>();
    assert.equal(after.status, "draft");
    assert.equal(after.template, "Promo in {city} for {name}");
    assert.equal((after.variants as unknown[]).length, 2);
    assert.equal(after.frequencyCap, null);
    assert.deepEqual(await queuedWork(blastId), []);

    const start = await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/start` });
    assert.equal(start.statusCode, 202, start.body);
    assert.equal(start.json<{ status: string }>().status, "running");
    await eventually(async () => (await queuedWork(blastId)).length === 30 || undefined);
    const work = await queuedWork(blastId);
    for (const w of work) {
      const r = recipients[w.idx];
      assert.ok(r);
      assert.ok(
        [`Promo in ${r.city} for ${r.name}`, `${r.name}, ${r.city} deals`].includes(w.text),
        `the edited variants: ${w.text}`,
      );
    }
    assert.ok(new Set(work.map((w) => w.text.startsWith("Promo"))).size === 2, "both variants used");

    const late = await patch(blastId, { message: "too late" });
    assert.equal(late.statusCode, 409);
    const again = await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/start` });
    assert.equal(again.statusCode, 409);
  });

  it("moving a scheduled blast's time moves its start; unscheduling keeps it a draft; cancelling clears all", async () => {
    const far = new Date(Date.now() + 3600_000);
    const res = await post({ sessionId: "s1", message: "Hi {name}", recipients, sendAt: far.toISOString() });
    const { blastId } = res.json<{ blastId: string }>();
    await eventually(async () => (await summary(blastId)).status === "scheduled" || undefined);

    // A wall-clock time in a zone: 3 s from now as Jakarta's clocks show it.
    const soon = new Date(Date.now() + 3000);
    const jakarta = new Date(soon.getTime() + 7 * 3600_000).toISOString().slice(0, 19);
    const moved = await patch(blastId, { sendAt: jakarta, timeZone: "Asia/Jakarta" });
    assert.equal(moved.statusCode, 200, moved.body);
    const shown = moved.json<{ scheduledFor: string; timeZone: string }>();
    assert.equal(Date.parse(shown.scheduledFor), Math.floor(soon.getTime() / 1000) * 1000);
    assert.equal(shown.timeZone, "Asia/Jakarta");
    await eventually(async () => (await queuedWork(blastId)).length === 30 || undefined, 10_000);

    const other = await post({
      sessionId: "s1",
      message: "Hi",
      recipients,
      sendAt: new Date(Date.now() + 2500).toISOString(),
    });
    const otherId = other.json<{ blastId: string }>().blastId;
    const drafted = await patch(otherId, { draft: true });
    assert.equal(drafted.statusCode, 200, drafted.body);
    assert.equal(drafted.json<{ status: string }>().status, "draft");
    await new Promise((resolve) => setTimeout(resolve, 4000));
    assert.equal((await summary(otherId)).status, "draft", "its old time passed and it did not start");
    assert.deepEqual(await queuedWork(otherId), []);

    const cancelled = await gw.inject({ method: "POST", url: `/api/blasts/${otherId}/cancel` });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    assert.equal(cancelled.json<{ status: string }>().status, "cancelled");
    assert.deepEqual(await gw.redis.keys(`*kept:campaign:${otherId}*`), []);
    const schedule = await gw.nats.jsm.streams.getMessage(SCHEDULES, {
      last_by_subj: subjects.schedule(otherId),
    });
    assert.ok(schedule);
    assert.equal(schedule.json<{ cleared?: boolean }>().cleared, true);
    assert.equal((await patch(otherId, { message: "x" })).statusCode, 409);
  });

  it("a time that passed, a draft with a time, or a bad zone is a 400 that leaves nothing behind", async () => {
    const count = async () => ({
      events: (await gw.nats.jsm.streams.info(BLAST_EVENTS)).state.messages,
      keys: await dataKeyCount(gw.redis),
    });
    const before = await count();
    const cases: Array<[object, RegExp]> = [
      [{ sendAt: new Date(Date.now() - 60_000).toISOString() }, /already passed/],
      [{ sendAt: new Date(Date.now() + 60_000).toISOString(), draft: true }, /not both/],
      [{ sendAt: "2030-01-01T09:00", timeZone: "Mars/Olympus" }, /not an IANA time zone/],
      [{ sendAt: "2030-01-01T09:00" }, /no offset/],
      [{ timeZone: "Asia/Jakarta" }, /give sendAt with it/],
      [{ sendAt: "next monday" }, /sendAt/],
    ];
    for (const [extra, message] of cases) {
      const res = await post({ sessionId: "s1", message: "Hi", recipients, ...extra });
      assert.equal(res.statusCode, 400, JSON.stringify(extra));
      assert.match(res.json<{ message: string }>().message, message);
    }
    assert.deepEqual(await count(), before);
  });
});

// The schedule timer against a real nats-server: a schedule fires once, on time, wherever and
// however many timers run; moving it fires it at the new time only, clearing it never fires it,
// and a timer that stops while holding it hands it to another.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { connectNats, ensureStreams, type Nats } from "../../../shared/nats/connection.ts";
import { clearSchedule, holdFor, ScheduleTimer, setSchedule } from "../../../shared/nats/scheduleTimer.ts";
import { startNats, type ManagedServer } from "../../harness/servers.ts";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fired {
  readonly id: string;
  readonly timer: string;
  readonly lateMs: number;
}

describe("schedule timer", () => {
  let server: ManagedServer;
  let nats: Nats;
  const fired: Fired[] = [];
  const timers: ScheduleTimer[] = [];

  async function startTimer(name: string): Promise<ScheduleTimer> {
    const timer = new ScheduleTimer({ nats, log, ackWaitMs: 2000 });
    await timer.start(async (id, at) => {
      fired.push({ id, timer: name, lateMs: Date.now() - at.getTime() });
    });
    timers.push(timer);
    return timer;
  }

  before(async () => {
    server = await startNats();
    nats = await connectNats(server.url, "schedule-timer-test");
    await ensureStreams(nats.jsm);
  });

  after(async () => {
    for (const timer of timers) await timer.stop();
    await nats?.nc.close();
    await server?.dispose();
  });

  it("holds a schedule until its time, capped so a move is seen", () => {
    assert.equal(holdFor(10_000, 4_000), 6_000);
    assert.equal(holdFor(10_000, 10_000), 0);
    assert.equal(holdFor(10_000, 12_000), 0, "overdue fires now");
    assert.equal(holdFor(10_000_000, 0), 60_000);
  });

  it("fires each schedule once, within a second of its time, with two timers running", async () => {
    await startTimer("a");
    await startTimer("b");
    const due = Date.now() + 1500;
    await setSchedule(nats, "b_one", new Date(due));
    await setSchedule(nats, "b_two", new Date(due + 300));
    await sleep(3500);
    const mine = fired.filter((f) => f.id === "b_one" || f.id === "b_two");
    assert.deepEqual(mine.map((f) => f.id).sort(), ["b_one", "b_two"], "each once");
    for (const f of mine) assert.ok(f.lateMs >= 0 && f.lateMs < 1000, `${f.id} fired ${f.lateMs} ms late`);
  });

  it("fires a moved schedule at its new time only, and a cleared one never", async () => {
    const now = Date.now();
    await setSchedule(nats, "b_moved", new Date(now + 1000));
    await setSchedule(nats, "b_moved", new Date(now + 2500));
    await setSchedule(nats, "b_cleared", new Date(now + 1000));
    await clearSchedule(nats, "b_cleared");
    await sleep(3500);
    const moved = fired.filter((f) => f.id === "b_moved");
    assert.equal(moved.length, 1);
    assert.ok(Date.now() - (moved[0]?.lateMs ?? 0) >= now, "fired");
    assert.ok((moved[0]?.lateMs ?? -1) >= 0 && (moved[0]?.lateMs ?? 9999) < 1000, "at the new time");
    assert.equal(fired.filter((f) => f.id === "b_cleared").length, 0);
  });

  it("still fires on time when every timer stopped and a new one started in between", async () => {
    for (const timer of timers.splice(0)) await timer.stop();
    const due = Date.now() + 2500;
    await setSchedule(nats, "b_restart", new Date(due));
    await sleep(500);
    await startTimer("c");
    await sleep(3000);
    const restart = fired.filter((f) => f.id === "b_restart");
    assert.deepEqual(
      restart.map((f) => f.timer),
      ["c"],
    );
    assert.ok((restart[0]?.lateMs ?? 9999) < 1000, `${restart[0]?.lateMs} ms late`);
  });
});

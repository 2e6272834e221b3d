// The frequency cap and the unreplied budget in the running platform (sim accounts, whose
// recipients answer as SIM_REPLY_RATE decides by their number): a number one blast reached is
// failed `frequency_capped` by the next, never sent twice; an account that reaches its budget of
// messages to people who have not replied stops taking recipients while the other account of the
// pool carries the blast to the end, and a person who wrote back to it is still sent by it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { simReplies } from "../../services/sender/transports/simPeople.ts";
import { inboundProcessed, outbox } from "../harness/inspect.ts";
import { eventually, startPlatform, untilBlastCompleted, type Platform } from "../harness/platform.ts";
import { parsePrometheus } from "../harness/prometheusText.ts";
import { startServers, type Servers } from "../harness/servers.ts";

const REPLY_RATE = 0.5;
const numbers = Array.from({ length: 200 }, (_, i) => `+1202555${String(i).padStart(4, "0")}`);
/** People who answer whatever the sim sends them, and people who never do. */
const repliers = numbers.filter((phone) => simReplies(phone, REPLY_RATE));
const silent = numbers.filter((phone) => !simReplies(phone, REPLY_RATE));

interface PoolView {
  status: string;
  reason: string;
  sent: number;
  failed: number;
  replied: number;
  bySession: Record<string, { sent: number; failed: number; paused?: string }>;
}

interface SessionView {
  unreplied: { month: string; sent: number; budget: number; ownBudget?: number; reached: boolean };
}

describe("frequency cap and unreplied budget in the running platform", () => {
  let servers: Servers;
  let platform: Platform;
  let nats: Nats;

  before(async () => {
    servers = await startServers();
    platform = await startPlatform(servers, {
      SESSION_IDS: "s1,s2",
      // One campaign message a week per number, unless a blast says otherwise.
      FREQUENCY_CAP_MAX: "1",
      FREQUENCY_CAP_HOURS: "168",
      SIM_REPLY_RATE: String(REPLY_RATE),
      SIM_REPLY_TEXTS: "Thanks!",
      SIM_REPLY_AFTER_MS: "100",
    });
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
    nats = await connectNats(servers.nats.url, "send-limits-test");
  });
  after(async () => {
    await nats?.nc.close();
    await platform?.stop();
    await servers?.dispose();
  });

  const json = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await platform.api(path, init);
    assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const send = (method: string, path: string, body: unknown) =>
    json<unknown>(path, {
      method,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const blast = async (sessionIds: string[], message: string, phones: string[], extra = {}) => {
    const { blastId } = (await send("POST", "/api/blasts", {
      sessionIds,
      message,
      recipients: phones.map((phone) => ({ phone })),
      ...extra,
    })) as { blastId: string };
    return blastId;
  };
  const view = (blastId: string) => json<PoolView>(`/api/blasts/${blastId}`);
  const sentWith = async (text: string) =>
    (await outbox(platform.outboxPath)).filter((line) => line.text === text);

  /** One row per recipient of the results CSV, by phone: [outcome, reason, session]. */
  async function results(blastId: string): Promise<Map<string, string[]>> {
    const csv = await (await platform.api(`/api/blasts/${blastId}/results.csv`)).text();
    const [header, ...lines] = csv.split("\r\n").filter(Boolean);
    const columns = header?.split(",") ?? [];
    const rows = lines.map((line) => {
      const cells = line.split(",");
      return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? ""]));
    });
    // A phone starts with "+", which the CSV prefixes with a quote (a formula otherwise).
    return new Map(
      rows.map((r) => [
        r.phone?.replace(/^'/, "") ?? "",
        [r.outcome ?? "", r.reason ?? "", r.session_id ?? ""],
      ]),
    );
  }

  it("fails a number the previous blast reached within the cap's period as frequency_capped, unsent", async () => {
    const [first, both, second] = silent;
    const earlier = await blast(["s2"], "Week one", [first!, both!]);
    assert.equal((await untilBlastCompleted(platform, earlier, 30_000)).sent, 2);

    const later = await blast(["s2"], "Week one, again", [both!, second!]);
    const final = await untilBlastCompleted(platform, later, 30_000);
    assert.deepEqual([final.sent, final.failed], [1, 1]);
    const rows = await results(later);
    // Decided in the claim of the account that took it from the queue, which logged it.
    assert.deepEqual(rows.get(both!), ["failed", "frequency_capped", "s2"]);
    assert.deepEqual(rows.get(second!), ["sent", "", "s2"]);
    const failures = await json<{ items: Array<{ phone: string; reason: string }> }>(
      `/api/blasts/${later}/failures`,
    );
    assert.deepEqual(
      failures.items.map((f) => [f.phone, f.reason]),
      [[both, "frequency_capped"]],
    );
    assert.deepEqual(
      (await sentWith("Week one, again")).map((l) => l.to),
      [second],
    );
    assert.equal(
      (await outbox(platform.outboxPath)).filter((l) => l.to === both).length,
      1,
      "sent once, ever",
    );
  });

  it("stops an account at its unreplied budget while its pool carries on, and still sends people who replied", async () => {
    const replier = repliers[0]!;
    const [newcomer, ...crowd] = silent.slice(10, 31);
    // No cap on these blasts: the replier is written to three times on purpose.
    const uncapped = { frequencyCap: null };

    // s1 messages someone new, who answers (the sim's person writes back).
    const hello = await blast(["s1"], "Hello", [replier], uncapped);
    await untilBlastCompleted(platform, hello, 30_000);
    await eventually(async () => ((await view(hello)).replied === 1 ? true : undefined), 30_000, "the reply");
    await eventually(() => inboundProcessed(nats), 30_000, "the reply processed");
    assert.deepEqual((await json<SessionView>("/api/sessions/s1")).unreplied, {
      month: new Date().toISOString().slice(0, 7),
      sent: 1,
      budget: 0,
      reached: false,
    });

    // A budget of 3 a month leaves s1 two more people who have not replied. s2 goes one message at
    // a time, so s1 certainly takes a batch of its own.
    await send("PUT", "/api/sessions/s1/unreplied-budget", { perMonth: 3 });
    await send("PUT", "/api/sessions/s2/pacing", { minDelayMs: 100, maxDelayMs: 100 });
    const wave = await blast(["s1", "s2"], "Big wave", crowd, uncapped);
    const final = await untilBlastCompleted(platform, wave, 60_000);
    assert.deepEqual([final.sent, final.failed, final.inDoubt], [crowd.length, 0, 0]);
    const shown = await view(wave);
    assert.equal(shown.bySession.s1?.sent, 2);
    assert.match(
      shown.bySession.s1?.paused ?? "",
      /^monthly budget of 3 messages to people who have not replied reached \(\d{4}-\d\d, UTC\)/,
    );
    assert.equal(shown.bySession.s2?.sent, crowd.length - 2);
    assert.equal(shown.bySession.s2?.paused, undefined);
    const waveSent = (await sentWith("Big wave")).map((l) => l.to);
    assert.deepEqual([...waveSent].sort(), [...crowd].sort(), "everyone once, from one account");
    assert.deepEqual((await json<SessionView>("/api/sessions/s1")).unreplied, {
      month: new Date().toISOString().slice(0, 7),
      sent: 3,
      budget: 3,
      ownBudget: 3,
      reached: true,
    });
    const metrics = parsePrometheus(await (await platform.api("/metrics")).text());
    const unreplied = (session: string) =>
      metrics.samples.find((s) => s.name === "wa_blast_unreplied_messages" && s.labels.session_id === session)
        ?.value;
    assert.equal(unreplied("s1"), 3);
    assert.equal(
      unreplied("s2"),
      crowd.length - 2 + 3,
      "s2 counts too: the first test's three sent and this wave",
    );

    // Over budget, s1 still writes to the person who replied, and to no one new.
    const followUp = await blast(["s1"], "Follow-up", [replier, newcomer!], uncapped);
    const stopped = await eventually(
      async () => {
        const v = await view(followUp);
        return v.status === "paused" && v.sent === 1 ? v : undefined;
      },
      30_000,
      "the follow-up paused by its pool with the replier sent",
    );
    assert.match(stopped.reason, /monthly budget of 3 messages to people who have not replied reached/);
    assert.deepEqual(
      (await sentWith("Follow-up")).map((l) => [l.to, l.sessionId]),
      [[replier, "s1"]],
    );
    assert.equal(
      (await json<SessionView>("/api/sessions/s1")).unreplied.sent,
      3,
      "the replier is not counted",
    );

    // Raising the budget puts s1 back to work by itself (as the month turning would).
    await send("PUT", "/api/sessions/s1/unreplied-budget", { perMonth: 10 });
    const finished = await untilBlastCompleted(platform, followUp, 30_000);
    assert.equal(finished.sent, 2);
    assert.deepEqual((await sentWith("Follow-up")).map((l) => l.to).sort(), [replier, newcomer].sort());
  });
});

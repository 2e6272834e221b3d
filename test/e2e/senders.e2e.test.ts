// Several sender processes share the sessions through leases: each session runs in exactly one of
// them, and when one is killed its sessions move to the others and finish with no recipient
// messaged twice or lost.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { outbox } from "../harness/inspect.ts";
import {
  eventually,
  startPlatform,
  type Platform,
  type RunningService,
  untilBlastCompleted,
} from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";

const SESSIONS = ["s1", "s2", "s3", "s4", "s5", "s6"];
const PER_SESSION = 120;
/** Recipients per batch: a kill leaves at most this many of a session's recipients in doubt. */
const BATCH = 10;

describe("three senders share six sessions", () => {
  let servers: Servers;
  let platform: Platform;

  before(async () => {
    servers = await startServers();
    platform = await startPlatform(servers, {
      SESSION_IDS: SESSIONS.join(","),
      SIM_LATENCY_MS: "20",
      LEASE_TTL_MS: "3000",
      SEND_ACK_WAIT_MS: "2000",
      SEND_BATCH_MAX: String(BATCH),
    });
    await platform.start("gateway");
    await platform.start("projector");
  });

  after(async () => {
    await platform?.stop();
    await servers?.dispose();
  });

  async function sessions() {
    const res = await platform.api(`/api/sessions`);
    return (await res.json()) as Array<{ sessionId: string; status: string; owner?: string }>;
  }

  it("spreads sessions, hands a killed sender's sessions over, and sends each recipient once", async () => {
    const senders: RunningService[] = [];
    for (const id of ["a", "b", "c"])
      senders.push(await platform.start("sender", { SENDER_ID: `sender-${id}` }));

    const spread = await eventually(
      async () => {
        const list = await sessions();
        const owners = new Map<string, number>();
        for (const s of list)
          if (s.status === "open" && s.owner) owners.set(s.owner, (owners.get(s.owner) ?? 0) + 1);
        return owners.size === 3 && [...owners.values()].every((n) => n === 2) ? owners : undefined;
      },
      30_000,
      "two open sessions per sender",
    );
    assert.deepEqual([...spread.keys()].sort(), ["sender-a", "sender-b", "sender-c"]);

    const blastIds: string[] = [];
    for (const [i, sessionId] of SESSIONS.entries()) {
      const recipients = Array.from({ length: PER_SESSION }, (_, r) => ({
        phone: `+1202555${String(i * PER_SESSION + r).padStart(4, "0")}`,
      }));
      const res = await platform.api(`/api/blasts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sessionId, message: `from ${sessionId}`, recipients }),
      });
      assert.equal(res.status, 202);
      blastIds.push(((await res.json()) as { blastId: string }).blastId);
    }

    await eventually(
      async () => ((await outbox(platform.outboxPath)).length >= 200 ? true : undefined),
      60_000,
      "sending",
    );
    const victim = senders[0]!;
    const victimSessions = (await sessions()).filter((s) => s.owner === "sender-a").map((s) => s.sessionId);
    assert.equal(victimSessions.length, 2);
    await platform.kill(victim, "SIGKILL");

    const takenOver = await eventually(
      async () => {
        const list = await sessions();
        const moved = list.filter(
          (s) => victimSessions.includes(s.sessionId) && s.status === "open" && s.owner !== "sender-a",
        );
        return moved.length === victimSessions.length ? moved : undefined;
      },
      30_000,
      "takeover of the killed sender's sessions",
    );
    for (const s of takenOver) assert.ok(s.owner === "sender-b" || s.owner === "sender-c");

    for (const blastId of blastIds) {
      const final = await untilBlastCompleted(platform, blastId, 90_000);
      assert.equal(final.sent + final.inDoubt, PER_SESSION, "none lost");
      assert.ok(
        final.inDoubt <= BATCH,
        `at most the one batch in flight at the kill is in doubt: ${final.inDoubt}`,
      );
    }
    const lines = await outbox(platform.outboxPath);
    const phones = lines.map((l) => l.to);
    assert.equal(new Set(phones).size, phones.length, "no recipient messaged twice");
    // Only recipients in doubt may be missing from the outbox: a batch per killed session at most.
    assert.ok(phones.length >= SESSIONS.length * PER_SESSION - victimSessions.length * BATCH);
  });
});

// `make chaos`: the platform on a 3-node JetStream cluster (NATS_REPLICAS=3, NATS_URL listing all
// three servers). A blast over a pool of sim accounts and three senders runs while (b) a node
// leading neither stream, (a) the node leading SEND_WORK, then the one leading BLAST_EVENTS, and
// (b) a node leading no stream nor consumer at all are SIGKILLed, each restarted before the next.
// Nobody may be messaged twice or lost; how long sending stalls at each kill is measured from the
// sim outbox (the longest pause between two messages leaving, around the kill) and written to
// test-artifacts/nats-cluster.json and docs/RELIABILITY.md.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { BLAST_EVENTS, SEND_WORK } from "../../shared/nats/topology.ts";
import { eventsOf, outbox, outcomeByRecipient } from "../harness/inspect.ts";
import { eventually, startPlatform, type BlastView, type Platform } from "../harness/platform.ts";
import { startNatsCluster, startRedis, type ManagedServer, type NatsCluster } from "../harness/servers.ts";

const SESSIONS = ["k1", "k2", "k3", "k4", "k5"];
const SENDERS = ["a", "b", "c"];
const TOTAL = Number(process.env.CLUSTER_CHAOS_RECIPIENTS ?? 6000);
const BATCH = 10;
/** Sending must resume within this after a node is killed (measured figures are far below). */
const RESUME_BOUND_MS = 30_000;

interface Fault {
  what: string;
  node: string;
  /** Which RAFT groups the killed node led at the kill. */
  led: string[];
  sentBeforeKill: number;
  /** From the last message out before the kill to the first after it. */
  gapAcrossKillMs: number;
  /**
   * The longest pause between two messages from the kill until sending was seen going again:
   * batches already in hand when the node died still go out after the kill, so the gap across the
   * kill itself understates the stall.
   */
  stallMs: number;
  /** From the kill to the end of that longest pause. */
  resumedAfterKillMs: number;
  /** From the restart until every replica of both streams was current again. */
  catchUpMs: number;
}

describe("a 3-node NATS cluster losing nodes mid-blast", () => {
  let cluster: NatsCluster;
  let redis: ManagedServer;
  let platform: Platform;
  let nats: Nats;

  before(async () => {
    cluster = await startNatsCluster();
    redis = await startRedis();
    const servers = {
      nats: cluster.nodes[0]!,
      redis,
      dispose: async () => undefined,
    };
    platform = await startPlatform(servers, {
      NATS_URL: cluster.url,
      NATS_REPLICAS: "3",
      SESSION_IDS: SESSIONS.join(","),
      // Unpaced sim accounts in batches, with a slow network, so the blast outlasts three kills.
      SIM_LATENCY_MS: "400",
      SEND_BATCH_MAX: String(BATCH),
      SEND_ACK_WAIT_MS: "5000",
    });
    await platform.start("gateway");
    await platform.start("projector");
    for (const id of SENDERS) await platform.start("sender", { SENDER_ID: `cluster-${id}` });
    nats = await connectNats(cluster.url, "cluster-chaos");
  });

  after(async () => {
    await nats?.nc.close().catch(() => undefined);
    await platform?.stop();
    await cluster?.dispose();
    await redis?.dispose();
  });

  it("sends everyone once through leader and follower kills", async () => {
    const started = Date.now();
    const recipients = Array.from({ length: TOTAL }, (_, r) => ({
      phone: `+1202${String(5550000 + r).padStart(7, "0")}`,
    }));
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionIds: SESSIONS, message: "cluster chaos", recipients }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { blastId } = (await res.json()) as { blastId: string };

    const sentSoFar = async () => (await outbox(platform.outboxPath)).length;
    const untilSent = (n: number) =>
      eventually(async () => ((await sentSoFar()) >= n ? true : undefined), 180_000, `${n} messages out`);

    /**
     * Every replicated RAFT group (each stream, and each durable consumer: the blast's, the
     * projector's, ...) with the node that leads it now, and how to make it elect another.
     */
    const groups = async () => {
      const found: Array<{ group: string; leader: string | undefined; stepdown: string }> = [];
      for await (const stream of nats.jsm.streams.list()) {
        const name = stream.config.name;
        found.push({
          group: name,
          leader: stream.cluster?.leader,
          stepdown: `$JS.API.STREAM.LEADER.STEPDOWN.${name}`,
        });
        for await (const consumer of nats.jsm.consumers.list(name)) {
          if (!consumer.config.durable_name) continue;
          found.push({
            group: `${name}/${consumer.name}`,
            leader: consumer.cluster?.leader,
            stepdown: `$JS.API.CONSUMER.LEADER.STEPDOWN.${name}.${consumer.name}`,
          });
        }
      }
      return found;
    };
    const leadership = async (): Promise<Map<number, string[]>> => {
      const byNode = new Map<number, string[]>();
      for (const { group, leader } of await groups()) {
        const index = leader === undefined ? -1 : cluster.names.indexOf(leader);
        if (index !== -1) byNode.set(index, [...(byNode.get(index) ?? []), group]);
      }
      return byNode;
    };
    /** Moves every leadership off `node`, so that killing it takes no leader with it. */
    const leadNothing = async (node: number): Promise<void> => {
      for (let round = 0; round < 10; round++) {
        const led = (await groups()).filter((g) => g.leader === cluster.names[node]);
        if (led.length === 0) return;
        for (const g of led)
          await nats.nc.request(g.stepdown, undefined, { timeout: 5000 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
      throw new Error(`${cluster.names[node]} still leads ${JSON.stringify(await leadership())}`);
    };

    const faults: Fault[] = [];
    const kill = async (what: string, pick: (led: Map<number, string[]>) => Promise<number>) => {
      await cluster.waitForReplicas(SEND_WORK);
      await cluster.waitForReplicas(BLAST_EVENTS);
      const node = await pick(await leadership());
      const led = await leadership();
      const sentBeforeKill = await sentSoFar();
      const killedAt = Date.now();
      await cluster.kill(node);
      // Down until sending has resumed without it (or the bound is up), then back.
      const resumed = await eventually(
        // More than the batches each account may have had in hand at the kill.
        async () => ((await sentSoFar()) > sentBeforeKill + BATCH * SESSIONS.length ? Date.now() : undefined),
        RESUME_BOUND_MS + 10_000,
        `sending to resume after ${what}`,
      );
      const restartedAt = Date.now();
      await cluster.restart(node);
      await cluster.waitForReplicas(SEND_WORK, 60_000);
      await cluster.waitForReplicas(BLAST_EVENTS, 60_000);
      const catchUpMs = Date.now() - restartedAt;
      const lines = await outbox(platform.outboxPath);
      const times = lines.map((l) => Date.parse(l.at)).sort((x, y) => x - y);
      const lastBefore = Math.max(...times.filter((t) => t < killedAt));
      const firstAfter = Math.min(...times.filter((t) => t >= killedAt));
      let stall = { ms: 0, end: firstAfter };
      for (let i = 1; i < times.length; i++) {
        const [from, to] = [times[i - 1]!, times[i]!];
        if (to < killedAt || from > resumed) continue;
        if (to - from > stall.ms) stall = { ms: to - from, end: to };
      }
      const fault: Fault = {
        what,
        node: cluster.names[node]!,
        led: led.get(node) ?? [],
        sentBeforeKill,
        gapAcrossKillMs: firstAfter - lastBefore,
        stallMs: stall.ms,
        resumedAfterKillMs: stall.end - killedAt,
        catchUpMs,
      };
      faults.push(fault);
      console.log(JSON.stringify({ ...fault, seenResumedAfterMs: resumed - killedAt }));
    };

    /** Of the nodes leading neither stream, the one leading the most (or fewest) other groups. */
    const followerOfBoth = (led: Map<number, string[]>, most: boolean) => {
      const followers = cluster.names
        .map((_, i) => i)
        .filter((i) => !(led.get(i) ?? []).some((g) => g === SEND_WORK || g === BLAST_EVENTS));
      assert.ok(followers.length > 0, "three nodes and two stream leaders leave a follower");
      const count = (i: number) => (led.get(i) ?? []).length * (most ? -1 : 1);
      return followers.sort((x, y) => count(x) - count(y))[0]!;
    };
    // First, while leaderships are still spread (a restarted node comes back leading nothing):
    // such a node usually leads other groups (a consumer, a KV bucket, another stream).
    await untilSent(Math.floor(TOTAL * 0.1));
    await kill("(b) SIGKILL a node leading neither stream", async (led) => followerOfBoth(led, true));
    await untilSent(Math.floor(TOTAL * 0.3));
    await kill("(a) SIGKILL the leader of SEND_WORK", () => cluster.streamLeader(SEND_WORK));
    await untilSent(Math.floor(TOTAL * 0.5));
    await kill("(a) SIGKILL the leader of BLAST_EVENTS", () => cluster.streamLeader(BLAST_EVENTS));
    await untilSent(Math.floor(TOTAL * 0.7));
    await kill("(b) SIGKILL a node leading nothing (leaders moved off it first)", async (led) => {
      const node = followerOfBoth(led, false);
      await leadNothing(node);
      // The step-downs' own elections are over before the kill: sending is going again.
      const before = await sentSoFar();
      await untilSent(before + BATCH * SESSIONS.length);
      return node;
    });

    const final = await eventually(
      async () => {
        const view = (await (await platform.api(`/api/blasts/${blastId}`)).json()) as BlastView;
        return view.status === "completed" ? view : undefined;
      },
      300_000,
      `completion of ${blastId}`,
    );
    const seconds = Math.round((Date.now() - started) / 1000);

    const lines = await outbox(platform.outboxPath);
    const phones = lines.map((l) => l.to);
    const duplicates = phones.length - new Set(phones).size;
    const byIdx = outcomeByRecipient(await eventsOf(nats, blastId));
    const lost = TOTAL - byIdx.size;
    const figures = {
      date: new Date().toISOString(),
      natsServer: nats.nc.info?.version,
      seconds,
      recipients: TOTAL,
      sessions: SESSIONS.length,
      senders: SENDERS.length,
      batch: BATCH,
      sent: final.sent,
      failed: final.failed,
      inDoubt: final.inDoubt,
      messagesInOutbox: phones.length,
      duplicates,
      lost,
      faults,
    };
    await mkdir("test-artifacts", { recursive: true });
    await writeFile("test-artifacts/nats-cluster.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(JSON.stringify(figures, null, 2));

    assert.equal(duplicates, 0, "no recipient messaged twice");
    assert.equal(lost, 0, "no recipient lost");
    assert.equal(final.sent + final.failed + final.inDoubt, TOTAL);
    assert.ok(
      phones.length >= final.sent && phones.length <= final.sent + final.inDoubt,
      `${phones.length} out`,
    );
    for (const f of faults)
      assert.ok(
        f.resumedAfterKillMs < RESUME_BOUND_MS,
        `${f.what}: resumed after ${f.resumedAfterKillMs} ms`,
      );
  });
});

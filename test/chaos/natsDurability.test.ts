// `make chaos`: does nats-server keep the events it acknowledged when it is SIGKILLed mid-load?
// The event log is the truth everything else is rebuilt from, so an acknowledged append must
// survive the server process dying (a power loss is another matter: see docs/RELIABILITY.md).
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { describe, it } from "node:test";
import type { BlastEvent } from "../../shared/domain/blast.ts";
import { connectNats, ensureStreams, type Nats } from "../../shared/nats/connection.ts";
import { appendEvents } from "../../shared/nats/eventLog.ts";
import { BLAST_EVENTS } from "../../shared/nats/topology.ts";
import { startNats } from "../harness/servers.ts";
import { eventually } from "../harness/platform.ts";

const ROUNDS = 10;
const WRITERS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("nats-server keeps acknowledged events through SIGKILL", () => {
  it(`loses none over ${ROUNDS} kills under append load`, async () => {
    const server = await startNats();
    let nats: Nats | undefined;
    const rounds: Array<{ acknowledged: number; lastAcknowledgedSeq: number; lastStoredSeq: number }> = [];
    try {
      nats = await connectNats(server.url, "chaos-durability");
      await ensureStreams(nats.jsm);
      let idx = 0;
      for (let round = 0; round < ROUNDS; round++) {
        let stopped = false;
        let acknowledged = 0;
        let lastAcknowledgedSeq = 0;
        const writers = Array.from({ length: WRITERS }, async () => {
          while (!stopped) {
            const event: BlastEvent = {
              type: "recipient.sent",
              data: { blastId: "durability", idx: idx++, phone: "+12025550100", messageId: "m", at: "" },
            };
            try {
              const [seq] = await appendEvents(nats!.js, [event]);
              if (stopped) return;
              acknowledged++;
              lastAcknowledgedSeq = Math.max(lastAcknowledgedSeq, seq ?? 0);
            } catch {
              return;
            }
          }
        });
        await sleep(300 + Math.random() * 1500);
        stopped = true;
        await server.stop(true);
        await Promise.all(writers);
        await server.start();
        const info = await eventually(
          () => nats!.jsm.streams.info(BLAST_EVENTS).catch(() => undefined),
          20_000,
        );
        rounds.push({ acknowledged, lastAcknowledgedSeq, lastStoredSeq: info.state.last_seq });
      }
    } finally {
      await nats?.nc.close().catch(() => undefined);
      await server.dispose();
    }
    const figures = {
      date: new Date().toISOString(),
      kills: ROUNDS,
      acknowledged: rounds.reduce((n, r) => n + r.acknowledged, 0),
      killsLosingEvents: rounds.filter((r) => r.lastStoredSeq < r.lastAcknowledgedSeq).length,
      rounds,
    };
    await mkdir("test-artifacts", { recursive: true });
    await writeFile("test-artifacts/nats-durability.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(JSON.stringify({ ...figures, rounds: undefined }, null, 2));
    assert.ok(figures.acknowledged > 0, "appends were acknowledged before the kills");
    assert.equal(figures.killsLosingEvents, 0, "every acknowledged append is in the log after a restart");
  });
});

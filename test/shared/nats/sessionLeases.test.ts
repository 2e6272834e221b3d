// Which senders are alive, as the supervisor reads it every couple of seconds: one watch on the
// presence bucket per SessionLeases however often it asks (a listing per call left a consumer
// behind each time), a sender that stops heart-beating drops out after the TTL although
// nats-server 2.9 announces no expiry, and a sender that joins or leaves counts at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats, type Nats } from "../../../shared/nats/connection.ts";
import { SessionLeases } from "../../../shared/nats/sessionLeases.ts";
import { SENDER_PRESENCE } from "../../../shared/nats/topology.ts";
import { startNats, type ManagedServer } from "../../harness/servers.ts";

/** The smallest LEASE_TTL_MS the config allows, so expiry shows within a test. */
const TTL_MS = 1500;
const PRESENCE_STREAM = `KV_${SENDER_PRESENCE}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `liveSenders()` until it returns `expected`; resolves with the milliseconds it took. */
async function countReaches(leases: SessionLeases, expected: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = -1;
  while (Date.now() - started < timeoutMs) {
    last = await leases.liveSenders();
    if (last === expected) return Date.now() - started;
    await sleep(20);
  }
  throw new Error(`liveSenders() stayed at ${last}, not ${expected}, for ${timeoutMs} ms`);
}

describe("session leases: live senders", () => {
  let server: ManagedServer;
  /** The process under test, and another one (its own connection) whose senders it watches. */
  let observerNats: Nats;
  let observer: SessionLeases;
  let peers: SessionLeases;
  const opened: SessionLeases[] = [];
  const connections: Nats[] = [];

  async function openLeases(): Promise<SessionLeases> {
    const nats = await connectNats(server.url, "leases-test");
    connections.push(nats);
    const leases = await SessionLeases.open(nats.nc, TTL_MS);
    opened.push(leases);
    return leases;
  }

  async function presenceConsumers(): Promise<string[]> {
    const names: string[] = [];
    for await (const info of observerNats.jsm.consumers.list(PRESENCE_STREAM)) names.push(info.name);
    return names;
  }

  before(async () => {
    server = await startNats();
    observer = await openLeases();
    peers = await openLeases();
    [observerNats] = connections as [Nats];
  });
  after(async () => {
    for (const leases of opened) leases.close();
    for (const nats of connections) await nats.nc.close();
    await server?.dispose();
  });

  it("keeps one consumer per SessionLeases on the presence bucket however often it counts", async () => {
    await observer.heartbeat("self");
    for (let i = 0; i < 60; i++) assert.equal(await observer.liveSenders(), 1);
    const consumers = await presenceConsumers();
    assert.equal(consumers.length, opened.length, `consumers on ${PRESENCE_STREAM}: ${consumers.join(", ")}`);
    await observer.leave("self");
    assert.equal(await observer.liveSenders(), 0);
  });

  it("drops a silent sender after the TTL, and counts one joining or leaving at once", async () => {
    await peers.heartbeat("steady");
    await peers.heartbeat("stopping");
    await countReaches(observer, 2, 1000);

    let beating = true;
    const beats = (async () => {
      while (beating) {
        await peers.heartbeat("steady");
        await sleep(TTL_MS / 5);
      }
    })();
    try {
      const lastBeat = Date.now();
      await peers.heartbeat("stopping");
      assert.equal(await observer.liveSenders(), 2);
      await countReaches(observer, 1, TTL_MS + 1500);
      const silentFor = Date.now() - lastBeat;
      assert.ok(silentFor >= TTL_MS - 50, `dropped after ${silentFor} ms of silence, TTL ${TTL_MS} ms`);

      // Well inside a TTL: the watch delivers joins and departures, no listing needed.
      await peers.heartbeat("newcomer");
      assert.ok((await countReaches(observer, 2, TTL_MS / 2)) < TTL_MS / 2);
      beating = false;
      await beats;
      await peers.leave("steady");
      assert.ok((await countReaches(observer, 1, TTL_MS / 2)) < TTL_MS / 2);
      await peers.leave("newcomer");
      await countReaches(observer, 0, TTL_MS / 2);
    } finally {
      beating = false;
      await beats;
    }
  });

  it("knows the senders already present as soon as it is open", async () => {
    await peers.heartbeat("veteran-1");
    await peers.heartbeat("veteran-2");
    await countReaches(observer, 2, 1000);
    const latecomer = await openLeases();
    assert.equal(await latecomer.liveSenders(), 2, "both veterans, known before any of them beats again");
    assert.equal((await presenceConsumers()).length, opened.length);
  });
});

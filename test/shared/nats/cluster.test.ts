// A 3-node JetStream cluster: NATS_REPLICAS=3 gives every stream, KV bucket and the object store
// three copies (and scales up what a single-replica deployment created), and an event the cluster
// acknowledged is still there, and appends go on, after its stream's leader is SIGKILLed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../../shared/config/config.ts";
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { connectNats, ensureStreams, natsServersOf, type Nats } from "../../../shared/nats/connection.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { SessionLeases } from "../../../shared/nats/sessionLeases.ts";
import {
  BLAST_EVENTS,
  MEDIA_BUCKET,
  SENDER_PRESENCE,
  SESSION_LEASES,
  bucketStream,
  streamConfigs,
} from "../../../shared/nats/topology.ts";
import { startNatsCluster, type NatsCluster } from "../../harness/servers.ts";

const TTL_MS = 1500;
const everyStream = [
  ...streamConfigs.map((s) => s.name),
  bucketStream.obj(MEDIA_BUCKET),
  bucketStream.kv(SESSION_LEASES),
  bucketStream.kv(SENDER_PRESENCE),
];

const sentEvent = (idx: number): BlastEvent => ({
  type: "recipient.sent",
  data: { blastId: "cluster", idx, phone: "+12025550100", messageId: `m${idx}`, at: "" },
});

describe("NATS_REPLICAS and NATS_URL in the config", () => {
  it("defaults to one replica and takes 1 to 5", () => {
    assert.equal(loadConfig({}).NATS_REPLICAS, 1);
    assert.equal(loadConfig({ NATS_REPLICAS: "3" }).NATS_REPLICAS, 3);
    assert.throws(() => loadConfig({ NATS_REPLICAS: "0" }), ConfigError);
    assert.throws(() => loadConfig({ NATS_REPLICAS: "6" }), ConfigError);
    assert.throws(() => loadConfig({ NATS_REPLICAS: "two" }), ConfigError);
  });

  it("takes a comma-separated list of servers", () => {
    const url = "nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222";
    assert.deepEqual(natsServersOf(loadConfig({ NATS_URL: url }).NATS_URL), [
      "nats://10.0.0.1:4222",
      "nats://10.0.0.2:4222",
      "nats://10.0.0.3:4222",
    ]);
    assert.throws(() => loadConfig({ NATS_URL: "nats://a:4222,,nats://b:4222" }), ConfigError);
  });
});

describe("a 3-node JetStream cluster", () => {
  let cluster: NatsCluster;
  let nats: Nats;

  before(async () => {
    cluster = await startNatsCluster();
    nats = await connectNats(cluster.url, "cluster-test");
  });

  after(async () => {
    await nats?.nc.close().catch(() => undefined);
    await cluster?.dispose();
  });

  const replicasOf = async (stream: string) => {
    const info = await nats.jsm.streams.info(stream);
    return { config: info.config.num_replicas, peers: 1 + (info.cluster?.replicas?.length ?? 0) };
  };

  it("scales what a single-replica deployment made to NATS_REPLICAS=3", async () => {
    await ensureStreams(nats.jsm);
    (await SessionLeases.open(nats.nc, TTL_MS)).close();
    for (const stream of everyStream)
      assert.deepEqual(await replicasOf(stream), { config: 1, peers: 1 }, stream);

    const told: string[] = [];
    await ensureStreams(nats.jsm, { replicas: 3, log: { info: (_: object, msg: string) => told.push(msg) } });
    (await SessionLeases.open(nats.nc, TTL_MS, 3)).close();
    for (const stream of everyStream) {
      await cluster.waitForReplicas(stream);
      assert.deepEqual(await replicasOf(stream), { config: 3, peers: 3 }, stream);
    }
    assert.ok(told.includes(`stream ${BLAST_EVENTS} scaled from 1 to 3 replicas`), told.join("\n"));
    assert.ok(told.includes(`stream ${bucketStream.obj(MEDIA_BUCKET)} scaled from 1 to 3 replicas`));

    // Every later start finds them as configured, and changes (and says) nothing.
    told.length = 0;
    await ensureStreams(nats.jsm, { replicas: 3, log: { info: (_: object, msg: string) => told.push(msg) } });
    assert.deepEqual(told, []);
  });

  it("says plainly when the cluster has fewer servers than NATS_REPLICAS", async () => {
    await assert.rejects(ensureStreams(nats.jsm, { replicas: 5 }), /NATS_REPLICAS=5.*at least 5 servers/);
  });

  it("keeps an acknowledged event and takes new ones after its stream's leader is killed", async () => {
    const [seq] = await appendEvents(nats.js, [sentEvent(1)]);
    assert.ok(seq);
    const leader = await cluster.streamLeader(BLAST_EVENTS);
    await cluster.kill(leader);
    const killedAt = Date.now();

    // Appends fail fast while the survivors elect a leader; the services retry the same way.
    let appended: number | undefined;
    while (appended === undefined) {
      assert.ok(Date.now() - killedAt < 20_000, "a new leader took appends within 20 s");
      appended = await appendEvents(nats.js, [sentEvent(2)]).then(
        ([s]) => s,
        () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
      );
    }
    const stalledMs = Date.now() - killedAt;
    const newLeader = await cluster.streamLeader(BLAST_EVENTS);
    assert.notEqual(newLeader, leader);
    const kept = await nats.jsm.streams.getMessage(BLAST_EVENTS, { seq });
    assert.equal(kept?.seq, seq);
    assert.equal(appended, seq + 1);
    console.log(`appends resumed ${stalledMs} ms after the leader of ${BLAST_EVENTS} was killed`);

    await cluster.restart(leader);
    await cluster.waitForReplicas(BLAST_EVENTS);
    assert.equal((await nats.jsm.streams.info(BLAST_EVENTS)).state.last_seq, seq + 1);
  });
});

// The import's publisher against a real nats-server: every message stored once, republished ids
// dropped as duplicates, a refusal or a silent stream failing the flush instead of passing unseen.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connectNats, type Nats } from "../../../shared/nats/connection.ts";
import { PipelinedPublisher } from "../../../shared/nats/pipelinedPublisher.ts";
import { startNats, type ManagedServer } from "../../harness/servers.ts";

const MINUTE_NS = 60 * 1_000_000_000;
const payload = (i: number) => new TextEncoder().encode(JSON.stringify({ i }));

describe("PipelinedPublisher", () => {
  let server: ManagedServer;
  let nats: Nats;

  before(async () => {
    server = await startNats();
    nats = await connectNats(server.url, "pipelined-publisher-test");
  });

  after(async () => {
    await nats?.nc.close();
    await server?.dispose();
  });

  async function stream(name: string, extra: { max_msgs?: number } = {}) {
    await nats.jsm.streams.add({
      name,
      subjects: [`${name.toLowerCase()}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      duplicate_window: MINUTE_NS,
      discard: DiscardPolicy.New,
      ...extra,
    });
  }

  it("stores every message once, in order, with more published than the window holds", async () => {
    await stream("PUBS");
    const publisher = new PipelinedPublisher(nats.nc, { window: 64, ackTimeoutMs: 5_000 });
    try {
      for (let i = 0; i < 5_000; i++) await publisher.publish("pubs.a", payload(i), `m-${i}`);
      // The same ids again, as a retried import would: the stream keeps one of each.
      for (let i = 0; i < 100; i++) await publisher.publish("pubs.a", payload(i), `m-${i}`);
      await publisher.flush();
    } finally {
      publisher.close();
    }
    const info = await nats.jsm.streams.info("PUBS");
    assert.equal(info.state.messages, 5_000);
    const last = await nats.jsm.streams.getMessage("PUBS", { seq: 5_000 });
    assert.deepEqual(last?.json(), { i: 4_999 });
  });

  it("fails the flush with JetStream's reason when the stream refuses a message", async () => {
    await stream("FULL", { max_msgs: 10 });
    const publisher = new PipelinedPublisher(nats.nc, { window: 1_000, ackTimeoutMs: 5_000 });
    try {
      for (let i = 0; i < 20; i++) await publisher.publish("full.a", payload(i), `f-${i}`);
      await assert.rejects(publisher.flush(), /JetStream refused a message: maximum messages exceeded/);
      await assert.rejects(publisher.publish("full.a", payload(99), "f-99"), /maximum messages/);
    } finally {
      publisher.close();
    }
  });

  it("fails the flush when no stream takes the subject", async () => {
    const publisher = new PipelinedPublisher(nats.nc, { window: 1_000, ackTimeoutMs: 5_000 });
    try {
      await publisher.publish("nowhere.a", payload(1), "n-1");
      await assert.rejects(publisher.flush(), /no stream takes this subject/);
    } finally {
      publisher.close();
    }
  });

  it("fails the flush when the server stops answering, instead of waiting forever", async () => {
    await stream("SILENT");
    const publisher = new PipelinedPublisher(nats.nc, { window: 1_000, ackTimeoutMs: 500 });
    try {
      await publisher.publish("silent.a", payload(1), "s-1");
      await publisher.flush();
      await server.stop(true);
      await publisher.publish("silent.a", payload(2), "s-2");
      await assert.rejects(publisher.flush(), /no ack from JetStream for 500 ms/);
    } finally {
      publisher.close();
      await server.start();
    }
  });
});

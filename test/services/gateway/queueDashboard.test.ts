// The queue dashboard's JSON is JetStream's own figures, warns about work nothing pulls, charts
// lag per session, and turns max-deliveries advisories into dead letters that can be retried or
// discarded.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AckPolicy, type Consumer } from "@nats-io/jetstream";
import { SEND_WORK, sendWorkConsumer, subjects } from "../../../shared/nats/topology.ts";
import { startGatewayWithServers, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { eventually } from "../../harness/platform.ts";

interface Dashboard {
  at: string;
  streams: Array<{
    name: string;
    messages: number;
    bytes: number;
    firstSeq: number;
    lastSeq: number;
    consumers: number;
  }>;
  consumers: Array<{
    stream: string;
    name: string;
    filterSubject: string;
    numPending: number;
    numAckPending: number;
    numRedelivered: number;
    numWaiting: number;
    lastActive: string | null;
  }>;
  sessions: Array<{
    sessionId: string;
    queued: number;
    runnable: number;
    attached: boolean;
    warning?: string;
  }>;
  lag: Array<{ sessionId: string; points: Array<{ at: string; queued: number }> }>;
  advisories: Array<{ kind: string; stream?: string; consumer?: string; streamSeq?: number }>;
  deadLetters: Array<{
    stream: string;
    consumer: string;
    streamSeq: number;
    deliveries: number;
    subject: string;
  }>;
}

describe("queue dashboard", () => {
  let gw: GatewayUnderTest;

  before(async () => {
    gw = await startGatewayWithServers({}, { lagSampleMs: 100 });
  });
  after(async () => {
    await gw?.close();
  });

  const dashboard = async () => {
    const res = await gw.inject("/api/admin/queues");
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Dashboard>();
  };
  const startBlast = async (count: number) => {
    const recipients = Array.from({ length: count }, (_, i) => ({ phone: `+1202555${String(1000 + i)}` }));
    const res = await gw.inject({
      method: "POST",
      url: "/api/blasts",
      payload: { sessionId: "s1", message: "Hello", recipients },
    });
    assert.equal(res.statusCode, 202, res.body);
    return res.json<{ blastId: string }>().blastId;
  };
  /** The consumer a sender makes for a blast. */
  const sendConsumer = async (blastId: string, maxDeliver = -1): Promise<Consumer> => {
    await gw.nats.jsm.consumers.add(SEND_WORK, {
      durable_name: sendWorkConsumer(blastId),
      filter_subject: subjects.blastWork(blastId),
      ack_policy: AckPolicy.Explicit,
      max_deliver: maxDeliver,
      max_ack_pending: 1,
    });
    return gw.nats.js.consumers.get(SEND_WORK, sendWorkConsumer(blastId));
  };

  it("reports every stream and consumer as the JetStream API does, and warns about work nothing pulls", async () => {
    const blastId = await startBlast(3);
    await sendConsumer(blastId);
    const shown = await dashboard();

    for (const stream of shown.streams) {
      const info = await gw.nats.jsm.streams.info(stream.name);
      assert.deepEqual(
        stream,
        {
          ...stream,
          messages: info.state.messages,
          bytes: info.state.bytes,
          firstSeq: info.state.first_seq,
          lastSeq: info.state.last_seq,
          consumers: info.state.consumer_count,
        },
        stream.name,
      );
    }
    const listed = [];
    for await (const info of gw.nats.jsm.streams.list()) listed.push(info.config.name);
    assert.deepEqual(shown.streams.map((s) => s.name).sort(), listed.sort());

    const mine = shown.consumers.find((c) => c.name === sendWorkConsumer(blastId));
    const info = await gw.nats.jsm.consumers.info(SEND_WORK, sendWorkConsumer(blastId));
    assert.deepEqual(mine, {
      stream: SEND_WORK,
      name: info.name,
      durable: true,
      filterSubject: subjects.blastWork(blastId),
      numPending: info.num_pending,
      numAckPending: info.num_ack_pending,
      numRedelivered: info.num_redelivered,
      numWaiting: info.num_waiting,
      lastActive: null,
    });
    assert.equal(info.num_pending, 3);

    const s1 = shown.sessions.find((s) => s.sessionId === "s1");
    assert.equal(s1?.queued, 3);
    assert.equal(s1?.runnable, 3);
    assert.equal(s1?.attached, false);
    assert.match(
      s1?.warning ?? "",
      /3 message\(s\) of running blasts are queued for s1 but no consumer is attached/,
    );
    assert.equal(shown.lag.find((l) => l.sessionId === "s1")?.points.at(-1)?.queued, 3);

    // A paused blast waits on purpose: no warning for its work.
    await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/pause` });
    await eventually(async () =>
      (await gw.projection.state(blastId)).status === "paused" ? true : undefined,
    );
    const paused = (await dashboard()).sessions.find((s) => s.sessionId === "s1");
    assert.deepEqual([paused?.queued, paused?.runnable, paused?.warning], [3, 0, undefined]);
    await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/cancel` });
  });

  it("stops warning once a consumer pulls the session's work, and charts the lag over time", async () => {
    const blastId = await startBlast(2);
    const consumer = await sendConsumer(blastId);
    const msg = await consumer.next({ expires: 5000 });
    assert.ok(msg);
    const shown = await dashboard();
    const s1 = shown.sessions.find((s) => s.sessionId === "s1");
    assert.equal(s1?.attached, true);
    assert.equal(s1?.warning, undefined);
    const mine = shown.consumers.find((c) => c.name === sendWorkConsumer(blastId));
    assert.equal(mine?.numAckPending, 1);
    assert.ok(mine?.lastActive, "the consumer was active");
    msg.ack();
    const points = await eventually(async () => {
      const series = (await dashboard()).lag.find((l) => l.sessionId === "s1")?.points ?? [];
      return series.some((p) => p.queued === 1) && series.length > 3 ? series : undefined;
    });
    assert.ok(points.every((p, i) => i === 0 || Date.parse(p.at) >= Date.parse(points[i - 1]!.at)));
    await gw.inject({ method: "POST", url: `/api/blasts/${blastId}/cancel` });
  });

  it("lists a message its consumer gave up on as a dead letter, and retries or discards it", async () => {
    const blastId = await startBlast(2);
    const consumer = await sendConsumer(blastId, 2);
    const given: number[] = [];
    // Every delivery refused: after the second the server gives up and says so in an advisory.
    await eventually(
      async () => {
        const msg = await consumer.next({ expires: 1000 });
        if (msg) {
          given.push(msg.seq);
          msg.nak();
        }
        const letters = (await dashboard()).deadLetters;
        return letters.length === 2 ? letters : undefined;
      },
      30_000,
      "two dead letters",
    );
    const shown = await dashboard();
    const [first, second] = [...shown.deadLetters].sort((a, b) => a.streamSeq - b.streamSeq);
    assert.deepEqual(
      { ...first, at: undefined, size: undefined },
      {
        stream: SEND_WORK,
        consumer: sendWorkConsumer(blastId),
        streamSeq: first!.streamSeq,
        deliveries: 2,
        subject: subjects.sendWork(blastId),
        at: undefined,
        size: undefined,
      },
    );
    assert.ok(
      shown.advisories.some((a) => a.kind === "CONSUMER.MAX_DELIVERIES" && a.streamSeq === first!.streamSeq),
    );
    const original = await gw.nats.jsm.streams.getMessage(SEND_WORK, { seq: first!.streamSeq });

    const retried = await gw.inject({
      method: "POST",
      url: `/api/admin/dead-letters/${SEND_WORK}/${first!.streamSeq}/retry`,
    });
    assert.equal(retried.statusCode, 200, retried.body);
    const { newSeq } = retried.json<{ newSeq: number }>();
    assert.ok(newSeq > first!.streamSeq);
    const copy = await gw.nats.jsm.streams.getMessage(SEND_WORK, { seq: newSeq });
    assert.equal(copy?.subject, original?.subject);
    assert.deepEqual(copy?.data, original?.data);
    const redelivered = await consumer.next({ expires: 5000 });
    assert.equal(redelivered?.seq, newSeq, "the consumer gets the copy as new work");
    redelivered?.ack();

    const discarded = await gw.inject({
      method: "POST",
      url: `/api/admin/dead-letters/${SEND_WORK}/${second!.streamSeq}/discard`,
    });
    assert.equal(discarded.statusCode, 204);
    assert.deepEqual((await dashboard()).deadLetters, []);
    const gone = await gw.nats.jsm.streams
      .getMessage(SEND_WORK, { seq: second!.streamSeq })
      .catch(() => null);
    assert.equal(gone, null, "discarded from the stream");
    const again = await gw.inject({
      method: "POST",
      url: `/api/admin/dead-letters/${SEND_WORK}/${second!.streamSeq}/retry`,
    });
    assert.equal(again.statusCode, 404);
    const notDead = await gw.inject({
      method: "POST",
      url: `/api/admin/dead-letters/BLAST_EVENTS/1/discard`,
    });
    assert.equal(notDead.statusCode, 404, "only messages a consumer gave up on");
  });
});

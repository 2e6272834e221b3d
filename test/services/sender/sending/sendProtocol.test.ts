// The send protocol, read as given(the records a batch meets) / when(the stores and the transport
// behave so) / then(what was sent, settled, recorded and acked, in which order). No servers: the
// ports are in-memory stand-ins that log every call.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  runSendProtocol,
  type SendJob,
  type SendProtocolPorts,
  type Settlement,
} from "../../../../services/sender/sending/sendProtocol.ts";
import type { ClaimResult } from "../../../../shared/redis/idempotency.ts";
import type { SendResult } from "../../../../services/sender/transports/transport.ts";

const job = (idx: number): SendJob => ({
  work: { blastId: "b1", idx, phone: `+1202555010${idx}`, text: `hi ${idx}` },
  messageId: `M${idx}`,
});

type Step = string;

interface World {
  claims?: ClaimResult[];
  send?: (job: SendJob) => Promise<SendResult>;
  failClaim?: boolean;
  failSettle?: boolean;
  failRecord?: boolean;
}

function given(records: ClaimResult[]) {
  return {
    async when(world: World, concurrency = 1) {
      const steps: Step[] = [];
      let inFlight = 0;
      let mostInFlight = 0;
      const settledWith: Settlement[][] = [];
      const recordedWith: Settlement[][] = [];
      const ports: SendProtocolPorts = {
        async claim(jobs) {
          steps.push(`claim ${jobs.map((j) => j.work.idx).join(",")}`);
          if (world.failClaim) throw new Error("redis down");
          return records;
        },
        async send(j) {
          steps.push(`send ${j.work.idx}`);
          inFlight++;
          mostInFlight = Math.max(mostInFlight, inFlight);
          try {
            await new Promise((resolve) => setImmediate(resolve));
            return world.send ? await world.send(j) : { ok: true, messageId: j.messageId };
          } finally {
            inFlight--;
          }
        },
        async settle(settlements) {
          steps.push(`settle ${settlements.map((s) => s.job.work.idx).join(",")}`);
          if (world.failSettle) throw new Error("redis down");
          settledWith.push([...settlements]);
        },
        async record(settlements) {
          steps.push(`record ${settlements.map((s) => s.job.work.idx).join(",")}`);
          if (world.failRecord) throw new Error("nats down");
          recordedWith.push([...settlements]);
        },
        async release(jobs) {
          steps.push(`release ${jobs.map((j) => j.work.idx).join(",")}`);
        },
        ack(j) {
          steps.push(`ack ${j.work.idx}`);
        },
        retry(j) {
          steps.push(`retry ${j.work.idx}`);
        },
      };
      const jobs = records.map((_, i) => job(i));
      let error: unknown;
      let result: Settlement[] = [];
      try {
        result = await runSendProtocol(jobs, ports, concurrency);
      } catch (err) {
        error = err;
      }
      return { steps, error, result, settledWith, recordedWith, mostInFlight };
    },
  };
}

const claimed: ClaimResult = { kind: "claimed" };
const outcomesOf = (settlements: Settlement[]) =>
  settlements.map((s) => [s.job.work.idx, s.how, s.outcome.kind]);

describe("send protocol", () => {
  it("claims the batch once, sends each, then settles, records and acks, in that order", async () => {
    const then = await given([claimed, claimed]).when({});
    assert.deepEqual(then.steps, [
      "claim 0,1",
      "send 0",
      "send 1",
      "settle 0,1",
      "record 0,1",
      "ack 0",
      "ack 1",
    ]);
    assert.deepEqual(outcomesOf(then.result), [
      [0, "attempted", "sent"],
      [1, "attempted", "sent"],
    ]);
  });

  it("a recipient already settled is recorded again with its stored outcome, never resent or resettled", async () => {
    const stored: ClaimResult = { kind: "settled", outcome: { kind: "sent", messageId: "M0" } };
    const then = await given([stored, claimed]).when({});
    assert.deepEqual(then.steps, ["claim 0,1", "send 1", "settle 1", "record 0,1", "ack 0", "ack 1"]);
    assert.deepEqual(outcomesOf(then.recordedWith[0] ?? []), [
      [0, "already_settled", "sent"],
      [1, "attempted", "sent"],
    ]);
  });

  it("a recipient claimed by a sender that died is settled and recorded in doubt, never sent", async () => {
    const dead: ClaimResult = { kind: "in_flight", owner: "sender-1", since: 0 };
    const then = await given([dead]).when({});
    assert.deepEqual(then.steps, ["claim 0", "settle 0", "record 0", "ack 0"]);
    assert.deepEqual(outcomesOf(then.result), [[0, "in_doubt", "in_doubt"]]);
  });

  it("a send that throws or is refused is a failed outcome, settled and recorded like any other", async () => {
    const then = await given([claimed, claimed]).when({
      send: async (j) => {
        if (j.work.idx === 0) throw new Error("socket closed");
        return { ok: false, reason: "479" };
      },
    });
    assert.deepEqual(
      then.result.map((s) => [s.outcome, s.restricted]),
      [
        [{ kind: "failed", reason: "send_error: socket closed" }, false],
        [{ kind: "failed", reason: "479" }, false],
      ],
    );
    assert.deepEqual(then.steps.slice(-4), ["settle 0,1", "record 0,1", "ack 0", "ack 1"]);
  });

  it("a send refused because the account is restricted is released and handed back, not settled", async () => {
    const then = await given([claimed, claimed]).when({
      send: async (j) =>
        j.work.idx === 1
          ? { ok: false, reason: "463", restricted: true }
          : { ok: true, messageId: j.messageId },
    });
    assert.deepEqual(then.steps.slice(3), ["settle 0", "release 1", "record 0", "ack 0", "retry 1"]);
    assert.deepEqual(outcomesOf(then.result), [
      [0, "attempted", "sent"],
      [1, "released", "failed"],
    ]);
  });

  it("a send written but never acked (the socket closed, WhatsApp silent) is in doubt, never failed", async () => {
    const then = await given([claimed]).when({
      send: async () => ({ ok: false, reason: "connection closed before WhatsApp's ack", unconfirmed: true }),
    });
    assert.deepEqual(then.steps, ["claim 0", "send 0", "settle 0", "record 0", "ack 0"]);
    assert.deepEqual(outcomesOf(then.result), [[0, "attempted", "in_doubt"]]);
  });

  it("a send the account could not write (its session went down) is handed back, not failed", async () => {
    const then = await given([claimed, claimed]).when({
      send: async (j) =>
        j.work.idx === 0
          ? { ok: false, reason: "session_not_open", accountDown: true }
          : { ok: false, reason: "479" },
    });
    assert.deepEqual(then.steps.slice(3), ["settle 1", "release 0", "record 1", "ack 1", "retry 0"]);
    assert.deepEqual(
      then.result.map((s) => [s.job.work.idx, s.how, s.restricted]),
      [
        [1, "attempted", false],
        [0, "released", false],
      ],
    );
  });

  it("a batch WhatsApp refused whole records nothing and hands every recipient back", async () => {
    const then = await given([claimed]).when({
      send: async () => ({ ok: false, reason: "463", restricted: true }),
    });
    assert.deepEqual(then.steps, ["claim 0", "send 0", "release 0", "retry 0"]);
  });

  it("a recipient the claim settled frequency_capped is recorded with that outcome, never sent or resettled", async () => {
    const capped: ClaimResult = { kind: "settled", outcome: { kind: "failed", reason: "frequency_capped" } };
    const then = await given([capped, claimed]).when({});
    assert.deepEqual(then.steps, ["claim 0,1", "send 1", "settle 1", "record 0,1", "ack 0", "ack 1"]);
    assert.deepEqual(
      (then.recordedWith[0] ?? []).map((s) => [s.job.work.idx, s.how, s.outcome]),
      [
        [0, "already_settled", { kind: "failed", reason: "frequency_capped" }],
        [1, "attempted", { kind: "sent", messageId: "M1" }],
      ],
    );
  });

  it("a recipient over the account's unreplied budget is neither sent, settled nor recorded: handed back untried", async () => {
    const over: ClaimResult = { kind: "over_budget" };
    const then = await given([claimed, over, over]).when({});
    // Nothing was claimed for them, so nothing is released: their work goes back to the pool.
    assert.deepEqual(then.steps, [
      "claim 0,1,2",
      "send 0",
      "settle 0",
      "record 0",
      "ack 0",
      "retry 1",
      "retry 2",
    ]);
    assert.deepEqual(outcomesOf(then.result), [
      [0, "attempted", "sent"],
      [1, "over_budget", "failed"],
      [2, "over_budget", "failed"],
    ]);
    assert.ok(then.result.filter((s) => s.how === "over_budget").every((s) => s.handBack && !s.restricted));
  });

  it("a batch wholly over the unreplied budget touches nothing but the queue", async () => {
    const then = await given([{ kind: "over_budget" }]).when({});
    assert.deepEqual(then.steps, ["claim 0", "retry 0"]);
  });

  it("a failed claim sends nothing and acks nothing: the batch is redelivered", async () => {
    const then = await given([claimed, claimed]).when({ failClaim: true });
    assert.ok(then.error instanceof Error);
    assert.deepEqual(then.steps, ["claim 0,1"]);
  });

  it("a failed settle records and acks nothing: redelivery finds the claims and reports them in doubt", async () => {
    const then = await given([claimed]).when({ failSettle: true });
    assert.ok(then.error instanceof Error);
    assert.deepEqual(then.steps, ["claim 0", "send 0", "settle 0"]);
  });

  it("a failed record acks nothing: redelivery finds the stored outcomes and records them again", async () => {
    const then = await given([claimed]).when({ failRecord: true });
    assert.ok(then.error instanceof Error);
    assert.deepEqual(then.steps, ["claim 0", "send 0", "settle 0", "record 0"]);
  });

  it("sends at most `concurrency` at once", async () => {
    const records = Array.from({ length: 10 }, () => claimed);
    assert.equal((await given(records).when({}, 3)).mostInFlight, 3);
    assert.equal((await given(records).when({}, 1)).mostInFlight, 1);
  });

  it("an empty batch touches nothing", async () => {
    const then = await given([]).when({});
    assert.deepEqual(then.steps, []);
  });
});

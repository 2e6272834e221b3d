// The plan subject against a real nats-server 2.9.10: an edit or a start is appended only if the
// subject is as it was read (the first one too, expecting "no message yet"), so of two decided on
// the same read only one lands; and the plan read back is creation, edits, start and cancel in order.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BlastEvent } from "../../../shared/domain/blast.ts";
import { appendPlanEvents, PlanChangedError, readBlastPlan } from "../../../shared/nats/blastPlanLog.ts";
import { connectNats, ensureStreams, type Nats } from "../../../shared/nats/connection.ts";
import { appendEvents } from "../../../shared/nats/eventLog.ts";
import { startNats, type ManagedServer } from "../../harness/servers.ts";

const at = "2026-11-30T10:00:00.000Z";
const created = (blastId: string): BlastEvent => ({
  type: "blast.created",
  data: {
    blastId,
    sessionIds: ["s1"],
    template: "hi",
    total: 2,
    rejected: 0,
    duplicates: 0,
    createdAt: at,
    draft: true,
  },
});
const edited = (blastId: string, template: string): BlastEvent => ({
  type: "blast.edited",
  data: { blastId, at, sessionIds: ["s1"], template },
});

describe("blast plan log", () => {
  let server: ManagedServer;
  let nats: Nats;

  before(async () => {
    server = await startNats();
    nats = await connectNats(server.url, "plan-log-test");
    await ensureStreams(nats.jsm);
  });
  after(async () => {
    await nats?.nc.close();
    await server?.stop();
  });

  it("of two edits decided on the same read, only the first lands, from the very first edit on", async () => {
    await appendEvents(nats.js, [created("b1")]);
    const read = await readBlastPlan(nats, "b1");
    assert.equal(read?.planSeq, 0);
    await appendPlanEvents(nats, [edited("b1", "first")], 0);
    await assert.rejects(appendPlanEvents(nats, [edited("b1", "second")], 0), PlanChangedError);
    const again = await readBlastPlan(nats, "b1");
    assert.ok(again && again.planSeq > 0);
    await assert.rejects(
      appendPlanEvents(nats, [{ type: "blast.started", data: { blastId: "b1", at } }], again.planSeq - 1),
      PlanChangedError,
    );
    await appendPlanEvents(nats, [{ type: "blast.started", data: { blastId: "b1", at } }], again.planSeq);
    await appendEvents(nats.js, [{ type: "blast.cancelled", data: { blastId: "b1", at } }]);
    const final = await readBlastPlan(nats, "b1");
    assert.deepEqual(
      final?.events.map((e) => (e.type === "blast.edited" ? `edited:${e.data.template}` : e.type)),
      ["blast.created", "edited:first", "blast.started", "blast.cancelled"],
    );
  });

  it("a blast never created has no plan; other blasts' plans are not read", async () => {
    assert.equal(await readBlastPlan(nats, "nope"), undefined);
    await appendEvents(nats.js, [created("b2")]);
    const plan = await readBlastPlan(nats, "b2");
    assert.deepEqual(
      plan?.events.map((e) => e.type),
      ["blast.created"],
    );
  });
});

// The session registry's proxy and warm-up records against a real redis-server: the proxy is
// stored with the session in one step and only `proxy()` gives it back unmasked.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { appKeys } from "../../../shared/redis/keys.ts";
import { SessionRegistry } from "../../../shared/redis/sessions.ts";
import { redisForSuite } from "../../harness/servers.ts";

const PROXY = "socks5://blaster:s3cret-pw@10.1.2.3:1080";
const NOW = Date.UTC(2026, 10, 24, 12);

describe("session registry", () => {
  const redis = redisForSuite();
  let testCount = 0;

  const fresh = () => {
    const prefix = `sr${++testCount}:`;
    return { prefix, registry: new SessionRegistry(redis(), prefix) };
  };

  it("adds a session with its proxy in one step, and shows the proxy masked", async () => {
    const { registry } = fresh();
    assert.equal(await registry.add("acct", { proxy: PROXY }), true);
    assert.equal(await registry.proxy("acct"), PROXY, "the transport gets the real URL");
    assert.deepEqual(await registry.get("acct"), {
      sessionId: "acct",
      status: "idle",
      proxy: "socks5://blaster:***@10.1.2.3:1080",
    });
    assert.ok(!JSON.stringify(await registry.list()).includes("s3cret-pw"));
    // Adding it again changes nothing, the proxy included.
    assert.equal(await registry.add("acct", { proxy: "http://other:pw@h:1" }), false);
    assert.equal(await registry.proxy("acct"), PROXY);
    assert.equal(await registry.add("direct"), true);
    assert.equal(await registry.proxy("direct"), undefined);
    assert.equal((await registry.get("direct"))?.proxy, undefined);
  });

  it("changes and removes the proxy, keeping the status fields", async () => {
    const { registry } = fresh();
    await registry.add("acct");
    await registry.recordStatus({ type: "session_status", sessionId: "acct", status: "open", at: "t" });
    await registry.setProxy("acct", PROXY);
    assert.equal((await registry.get("acct"))?.status, "open");
    assert.equal(await registry.proxy("acct"), PROXY);
    await registry.setProxy("acct", undefined);
    assert.equal(await registry.proxy("acct"), undefined);
    assert.equal((await registry.get("acct"))?.status, "open");
  });

  it("counts the last 24 hours' sends and remembers the first send until the ramp restarts", async () => {
    const { prefix, registry } = fresh();
    const keys = appKeys(prefix);
    assert.deepEqual(await registry.sending("acct", NOW), { sentLastDay: 0 });
    await redis().zadd(keys.pace("acct"), NOW - 25 * 3600_000, "old", NOW - 3600_000, "a", NOW, "b");
    await redis().set(keys.firstSend("acct"), String(NOW - 3 * 86_400_000));
    assert.deepEqual(await registry.sending("acct", NOW), {
      sentLastDay: 2,
      firstSendAt: NOW - 3 * 86_400_000,
    });
    await registry.restartWarmup("acct");
    assert.deepEqual(await registry.sending("acct", NOW), { sentLastDay: 2 });
  });
});

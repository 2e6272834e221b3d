// Baileys' credentials and Signal keys in Redis: what a restarted sender reads back, what a stale
// owner can no longer write, and what logout leaves behind.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { proto } from "@whiskeysockets/baileys";
import type { Redis } from "ioredis";
import {
  StaleLeaseError,
  authKeys,
  claimAuthFence,
  hasStoredCreds,
  redisAuthState,
} from "../../../../../services/sender/transports/baileys/redisAuthState.ts";
import { connectRedis } from "../../../../../shared/redis/connection.ts";
import { startRedis, type ManagedServer } from "../../../../harness/servers.ts";

const PREFIX = "t:";

describe("Baileys auth state in Redis", () => {
  let server: ManagedServer;
  let redis: Redis;

  before(async () => {
    server = await startRedis();
    redis = connectRedis(server.url);
  });
  after(async () => {
    redis.disconnect();
    await server.dispose();
  });

  it("gives a restarted sender the same credentials and keys, Buffers intact", async () => {
    assert.equal(await claimAuthFence(redis, PREFIX, "restart", 1), true);
    const first = await redisAuthState(redis, PREFIX, "restart", 1);
    first.state.creds.me = { id: "15550001111:3@s.whatsapp.net" };
    first.state.creds.registered = true;
    await first.saveCreds();
    await first.state.keys.set({
      "pre-key": { "1": { public: Buffer.from([1, 2, 3]), private: Buffer.from([4, 5, 6]) } },
      "app-state-sync-key": { AAA: { keyData: Buffer.from("key-data") } },
    });

    const again = await redisAuthState(redis, PREFIX, "restart", 1);
    assert.equal(again.state.creds.me?.id, "15550001111:3@s.whatsapp.net");
    assert.equal(again.state.creds.registered, true);
    assert.ok(Buffer.isBuffer(again.state.creds.noiseKey.private));
    assert.deepEqual(again.state.creds.noiseKey.private, first.state.creds.noiseKey.private);
    const preKeys = await again.state.keys.get("pre-key", ["1", "2"]);
    assert.deepEqual(Object.keys(preKeys), ["1"], "only the ids found come back");
    assert.deepEqual(preKeys["1"]?.public, Buffer.from([1, 2, 3]));
    const syncKeys = await again.state.keys.get("app-state-sync-key", ["AAA"]);
    assert.ok(syncKeys.AAA instanceof proto.Message.AppStateSyncKeyData);
    assert.equal(Buffer.from(syncKeys.AAA.keyData ?? []).toString(), "key-data");
  });

  it("deletes a key set to null", async () => {
    await claimAuthFence(redis, PREFIX, "nulls", 1);
    const auth = await redisAuthState(redis, PREFIX, "nulls", 1);
    await auth.state.keys.set({ session: { "a.0": Buffer.from("s1"), "b.0": Buffer.from("s2") } });
    await auth.state.keys.set({ session: { "a.0": null } });
    assert.deepEqual(Object.keys(await auth.state.keys.get("session", ["a.0", "b.0"])), ["b.0"]);
  });

  it("refuses every write from an owner whose lease was taken over, and keeps the new owner's data", async () => {
    await claimAuthFence(redis, PREFIX, "fenced", 1);
    const stale = await redisAuthState(redis, PREFIX, "fenced", 1);
    await stale.saveCreds();
    assert.equal(await claimAuthFence(redis, PREFIX, "fenced", 2), true);
    assert.equal(await claimAuthFence(redis, PREFIX, "fenced", 1), false, "the fence never goes back");
    const owner = await redisAuthState(redis, PREFIX, "fenced", 2);
    owner.state.creds.registered = true;
    await owner.saveCreds();

    stale.state.creds.registered = false;
    await assert.rejects(stale.saveCreds(), StaleLeaseError);
    await assert.rejects(
      async () => stale.state.keys.set({ session: { "x.0": Buffer.from("x") } }),
      StaleLeaseError,
    );
    await assert.rejects(stale.clear(), StaleLeaseError);
    const stored = await redisAuthState(redis, PREFIX, "fenced", 2);
    assert.equal(stored.state.creds.registered, true);
    assert.deepEqual(await stored.state.keys.get("session", ["x.0"]), {});
  });

  it("keeps Baileys 7's LID key types (lid-mapping, device-list, tctoken) and fences their writes", async () => {
    await claimAuthFence(redis, PREFIX, "lids", 1);
    const auth = await redisAuthState(redis, PREFIX, "lids", 1);
    const token = { token: Buffer.from([9, 8, 7]), timestamp: "1795560000" };
    await auth.state.keys.set({
      "lid-mapping": { "15550001111": "200000000000111", "200000000000111_reverse": "15550001111" },
      "device-list": { "15550001111": ["0", "3"] },
      tctoken: { "200000000000111@lid": token },
    });
    const again = await redisAuthState(redis, PREFIX, "lids", 1);
    const mapping = await again.state.keys.get("lid-mapping", [
      "15550001111",
      "200000000000111_reverse",
      "nobody",
    ]);
    assert.deepEqual(mapping, { "15550001111": "200000000000111", "200000000000111_reverse": "15550001111" });
    assert.deepEqual(await again.state.keys.get("device-list", ["15550001111"]), {
      "15550001111": ["0", "3"],
    });
    const tokens = await again.state.keys.get("tctoken", ["200000000000111@lid"]);
    assert.deepEqual(tokens["200000000000111@lid"]?.token, Buffer.from([9, 8, 7]));

    assert.equal(await claimAuthFence(redis, PREFIX, "lids", 2), true);
    await assert.rejects(
      async () => auth.state.keys.set({ "lid-mapping": { "15550001111": "299999999999999" } }),
      StaleLeaseError,
    );
    const stored = await redisAuthState(redis, PREFIX, "lids", 2);
    assert.deepEqual(await stored.state.keys.get("lid-mapping", ["15550001111"]), {
      "15550001111": "200000000000111",
    });
  });

  it("forgets everything on logout, so the next connect starts a new pairing", async () => {
    await claimAuthFence(redis, PREFIX, "logout", 1);
    const auth = await redisAuthState(redis, PREFIX, "logout", 1);
    auth.state.creds.registered = true;
    await auth.saveCreds();
    await auth.state.keys.set({
      "pre-key": { "9": { public: Buffer.alloc(32), private: Buffer.alloc(32) } },
    });
    await auth.clear();
    assert.equal(await hasStoredCreds(redis, PREFIX, "logout"), false);
    const keys = authKeys(PREFIX, "logout");
    assert.equal(await redis.exists(keys.creds, keys.keys), 0);
    const fresh = await redisAuthState(redis, PREFIX, "logout", 1);
    assert.equal(fresh.state.creds.registered, false);
    assert.notDeepEqual(fresh.state.creds.noiseKey.private, auth.state.creds.noiseKey.private);
  });

  it("raises a read error instead of starting a fresh login", async () => {
    await redis.set(authKeys(PREFIX, "corrupt").creds, "{not json");
    await assert.rejects(redisAuthState(redis, PREFIX, "corrupt", 1), SyntaxError);
    const closed = connectRedis(server.url);
    closed.disconnect();
    await assert.rejects(redisAuthState(closed, PREFIX, "restart", 1));
  });
});

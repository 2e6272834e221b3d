// The services reach a Redis that demands a password and TLS: `rediss://` with the password in the
// URL, and a private CA from REDIS_TLS_CA_FILE.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig, redisTlsOf } from "../../../shared/config/config.ts";
import { connectRedis, type ConnectionLog } from "../../../shared/redis/connection.ts";
import { DURABLE_REDIS, startRedis, type ManagedServer } from "../../harness/servers.ts";
import { makeTestCertificates, type TestCertificates } from "../../harness/testCertificates.ts";

describe("secured Redis connections", () => {
  let certs: TestCertificates;
  let server: ManagedServer;

  before(async () => {
    certs = await makeTestCertificates();
    server = await startRedis((port) => [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--tls-cert-file",
      certs.certFile,
      "--tls-key-file",
      certs.keyFile,
      "--tls-ca-cert-file",
      certs.caFile,
      "--tls-auth-clients",
      "no",
      "--requirepass",
      "s3cret-pass",
    ]);
  });
  after(async () => {
    await server?.dispose();
    await certs?.dispose();
  });

  it("works over TLS with the password from the URL, and refuses without the password", async () => {
    const url = `rediss://:s3cret-pass@127.0.0.1:${server.port}`;
    const config = loadConfig({ REDIS_URL: url, REDIS_TLS_CA_FILE: certs.caFile });
    const redis = connectRedis(config.REDIS_URL, redisTlsOf(config));
    try {
      await redis.set("k", "v");
      assert.equal(await redis.get("k"), "v");
    } finally {
      redis.disconnect();
    }
    const anonymous = connectRedis(`rediss://127.0.0.1:${server.port}`, redisTlsOf(config));
    try {
      await assert.rejects(anonymous.get("k"), /NOAUTH/);
    } finally {
      anonymous.disconnect();
    }
  });

  it("logs an outage once and its end, and commands issued meanwhile complete", async () => {
    const plain = await startRedis(() => DURABLE_REDIS);
    const lines: Array<{ level: string; msg: string }> = [];
    const log: ConnectionLog = {
      warn: (_, msg) => void lines.push({ level: "warn", msg }),
      info: (msg) => void lines.push({ level: "info", msg }),
    };
    const redis = connectRedis(plain.url, {}, log);
    try {
      await redis.set("k", "1");
      await plain.stop(true);
      const during = redis.incr("k");
      await new Promise((r) => setTimeout(r, 1500));
      await plain.start();
      assert.equal(await during, 2);
      assert.deepEqual(
        lines.map((l) => l.level),
        ["warn", "info"],
        JSON.stringify(lines),
      );
    } finally {
      redis.disconnect();
      await plain.dispose();
    }
  });
});

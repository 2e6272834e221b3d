// The services reach a NATS server that demands credentials or TLS, configured only from env.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig, natsSecurityOf } from "../../../shared/config/config.ts";
import { connectNats, ensureStreams } from "../../../shared/nats/connection.ts";
import { startNats, type ManagedServer } from "../../harness/servers.ts";
import { makeTestCertificates, type TestCertificates } from "../../harness/testCertificates.ts";

describe("secured NATS connections", () => {
  let certs: TestCertificates;
  let server: ManagedServer;

  before(async () => {
    certs = await makeTestCertificates();
    server = await startNats([
      "--user",
      "wa",
      "--pass",
      "s3cret-pass",
      "--tls",
      "--tlscert",
      certs.certFile,
      "--tlskey",
      certs.keyFile,
    ]);
  });
  after(async () => {
    await server?.dispose();
    await certs?.dispose();
  });

  it("connects with the configured user, password and CA, and refuses without them", async () => {
    const config = loadConfig({
      NATS_URL: server.url,
      NATS_USER: "wa",
      NATS_PASSWORD: "s3cret-pass",
      NATS_TLS_CA_FILE: certs.caFile,
    });
    const nats = await connectNats(config.NATS_URL, "secured-test", natsSecurityOf(config));
    try {
      await ensureStreams(nats.jsm);
      assert.ok((await nats.jsm.streams.list().next()).length >= 3);
    } finally {
      await nats.nc.close();
    }
    await assert.rejects(
      connectNats(server.url, "no-password", { tls: { caFile: certs.caFile } }),
      /authorization/i,
    );
    await assert.rejects(connectNats(server.url, "untrusted", { user: "wa", pass: "s3cret-pass" }));
  });

  it("refuses a half-configured setting at start-up with the variable's name", () => {
    assert.throws(() => natsSecurityOf(loadConfig({ NATS_USER: "wa" })), /NATS_USER needs NATS_PASSWORD/);
    assert.throws(
      () => natsSecurityOf(loadConfig({ NATS_TLS_CERT_FILE: "/tmp/x.pem" })),
      /NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE/,
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  newWebhookSecret,
  signatureHeader,
  signBody,
  signingSecrets,
  verifySignature,
} from "../../../shared/domain/webhookSignature.ts";

const body = '{"id":"evt_b1_1","type":"ping","createdAt":"2023-11-14T22:13:20.000Z","data":{}}';
const timestamp = 1_700_000_000;
// Computed apart from this code: printf '%s' "1700000000.$body" | openssl dgst -sha256 -hmac <secret>
const NEW_SIGNATURE = "2269ebe7526ca7a20f3d63fa71488a412d2fd3735be8fbeab9880c65afa80d8c";
const OLD_SIGNATURE = "f478ece63134e99f7b92f8a9e92686979eef4d6eacfe685bb2f049efd0e45ed9";

describe("webhook signatures", () => {
  it("is HMAC-SHA256 over `<timestamp>.<body>` keyed with the whole secret string", () => {
    assert.equal(signBody("whsec_test-secret", timestamp, body), NEW_SIGNATURE);
    assert.equal(signBody("whsec_test-secret", timestamp, Buffer.from(body)), NEW_SIGNATURE, "bytes alike");
  });

  it("carries one v1= value per secret, newest first", () => {
    assert.equal(signatureHeader(["whsec_test-secret"], timestamp, body), `v1=${NEW_SIGNATURE}`);
    assert.equal(
      signatureHeader(["whsec_test-secret", "whsec_old-secret"], timestamp, body),
      `v1=${NEW_SIGNATURE},v1=${OLD_SIGNATURE}`,
    );
  });

  it("verifies with either secret during a rotation, and refuses a changed body or another secret", () => {
    const header = `v1=${NEW_SIGNATURE},v1=${OLD_SIGNATURE}`;
    const check = { header, timestamp: String(timestamp), body, now: timestamp + 10 };
    assert.equal(verifySignature({ ...check, secret: "whsec_test-secret" }), true);
    assert.equal(verifySignature({ ...check, secret: "whsec_old-secret" }), true);
    assert.equal(verifySignature({ ...check, secret: "whsec_other" }), false);
    assert.equal(
      verifySignature({ ...check, secret: "whsec_test-secret", body: body.replace("ping", "pong") }),
      false,
    );
    assert.equal(
      verifySignature({ ...check, secret: "whsec_test-secret", timestamp: String(timestamp + 1) }),
      false,
    );
  });

  it("refuses a stale or future timestamp (a replay) and malformed headers", () => {
    const check = {
      secret: "whsec_test-secret",
      header: `v1=${NEW_SIGNATURE}`,
      timestamp: String(timestamp),
      body,
    };
    assert.equal(verifySignature({ ...check, now: timestamp + 301 }), false);
    assert.equal(verifySignature({ ...check, now: timestamp - 301 }), false);
    assert.equal(verifySignature({ ...check, now: timestamp + 3600, toleranceSeconds: 3600 }), true);
    for (const header of [
      "",
      "v1=",
      "v2=" + NEW_SIGNATURE,
      NEW_SIGNATURE,
      "v1=zz",
      `v1=${NEW_SIGNATURE.slice(2)}`,
    ]) {
      assert.equal(verifySignature({ ...check, header, now: timestamp }), false, header);
    }
    assert.equal(verifySignature({ ...check, timestamp: "1.7e9", now: timestamp }), false);
  });

  it("makes random 32-byte secrets", () => {
    const a = newWebhookSecret();
    assert.match(a, /^whsec_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, newWebhookSecret());
  });

  it("signs with the previous secret only until its grace ends", () => {
    const secrets = {
      secret: "new",
      previousSecret: "old",
      previousSecretExpiresAt: "2026-01-02T00:00:00.000Z",
    };
    assert.deepEqual(signingSecrets(secrets, new Date("2026-01-01T23:59:59Z")), ["new", "old"]);
    assert.deepEqual(signingSecrets(secrets, new Date("2026-01-02T00:00:00Z")), ["new"]);
    assert.deepEqual(signingSecrets({ secret: "new" }, new Date()), ["new"]);
  });
});

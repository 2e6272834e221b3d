import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  checkWebhookUrl,
  classifyAddress,
  isAllowedAddress,
  MAX_WEBHOOK_URL_LENGTH,
} from "../../../shared/domain/webhookTargets.ts";

const strict = { allowPrivate: false };
const open = { allowPrivate: true };

describe("webhook target addresses", () => {
  const cases: Array<[string, ReturnType<typeof classifyAddress>]> = [
    ["8.8.8.8", "public"],
    ["93.184.215.14", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "link_local"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.255", "cgnat"],
    ["100.128.0.1", "public"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["192.0.2.10", "reserved"],
    ["198.18.0.1", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["0:0:0:0:0:ffff:a00:1", "private"],
    ["::ffff:169.254.169.254", "link_local"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "reserved"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::8.8.8.8", "public"],
    ["2002:7f00:1::", "loopback"],
    ["2002:0808:0808::1", "public"],
    ["fc00::1", "unique_local"],
    ["fd12:3456:789a::1", "unique_local"],
    ["fe80::1", "link_local"],
    ["fe80::1%eth0", "link_local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "reserved"],
    ["2606:4700:4700::1111", "public"],
    ["[2606:4700:4700::1111]", "public"],
    ["3fff::1", "public"],
    ["4000::1", "reserved"],
  ];
  for (const [address, kind] of cases) {
    it(`classifies ${address} as ${kind}`, () => assert.equal(classifyAddress(address), kind));
  }

  it("does not take names or malformed addresses for addresses", () => {
    for (const text of [
      "localhost",
      "example.com",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1::2::3",
      ":::",
      "::ffff:1.2.3.256",
      "12345::",
      "g::1",
      "",
    ]) {
      assert.equal(classifyAddress(text), undefined, text);
    }
  });

  it("opens loopback, private, link-local, unique-local and CGNAT only with the flag, the rest never", () => {
    for (const address of [
      "127.0.0.1",
      "10.0.0.1",
      "169.254.169.254",
      "fd00::1",
      "100.64.0.1",
      "::ffff:127.0.0.1",
    ]) {
      assert.equal(isAllowedAddress(address, strict), false, address);
      assert.equal(isAllowedAddress(address, open), true, address);
    }
    for (const address of ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "192.0.2.1"]) {
      assert.equal(isAllowedAddress(address, open), false, address);
    }
    assert.equal(isAllowedAddress("8.8.8.8", strict), true);
  });

  it("reads every IPv4 address the same as its IPv4-mapped IPv6 form", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        return (
          classifyAddress(`::ffff:${v4}`) === classifyAddress(v4) &&
          classifyAddress(hex) === classifyAddress(v4)
        );
      }),
    );
  });

  it("classifies any IPv6 address without throwing", () => {
    fc.assert(fc.property(fc.ipV6(), (v6) => classifyAddress(v6) !== undefined));
  });
});

describe("webhook URLs", () => {
  it("accepts http and https URLs with public or named hosts, normalized", () => {
    const check = checkWebhookUrl("HTTPS://Hooks.Example.com:8443/a/b?x=1", strict);
    assert.deepEqual(check, {
      ok: true,
      url: "https://hooks.example.com:8443/a/b?x=1",
      host: "hooks.example.com",
    });
    const ip = checkWebhookUrl("http://[2606:4700:4700::1111]/x", strict);
    assert.ok(ip.ok && ip.host === "2606:4700:4700::1111" && ip.address === "public");
  });

  const refused: Array<[string, RegExp]> = [
    ["", /not an absolute URL/],
    ["hooks.example.com/x", /not an absolute URL/],
    ["ftp://example.com/x", /only http/],
    ["javascript:alert(1)", /only http/],
    ["file:///etc/passwd", /only http/],
    ["https://user:pw@example.com/", /credentials/],
    ["https://user@example.com/", /credentials/],
    ["https://example.com/#frag", /fragment/],
    ["https://example.com/ x", /whitespace/],
    [" https://example.com/", /whitespace/],
    ["https://example.com/\nx", /whitespace/],
    ["https://example.com:0/", /port 0/],
    ["https://example.com:70000/", /not an absolute URL/],
    ["http://127.0.0.1/", /loopback.*WEBHOOK_ALLOW_PRIVATE_TARGETS/],
    ["http://2130706433/", /loopback/],
    ["http://0x7f.0.0.1/", /loopback/],
    ["http://[::1]:8080/", /loopback/],
    ["http://[::ffff:127.0.0.1]/", /loopback/],
    ["http://[::ffff:a9fe:a9fe]/latest/meta-data", /link-local/],
    ["http://169.254.169.254/latest/meta-data", /link-local/],
    ["http://10.0.0.5/", /private/],
    ["http://0.0.0.0:6379/", /unspecified/],
    [`https://example.com/${"a".repeat(MAX_WEBHOOK_URL_LENGTH)}`, /longer than/],
  ];
  for (const [url, reason] of refused) {
    it(`refuses ${JSON.stringify(url.slice(0, 60))}`, () => {
      const check = checkWebhookUrl(url, strict);
      assert.equal(check.ok, false);
      if (!check.ok) assert.match(check.reason, reason);
    });
  }

  it("lets private literals through only with the flag, never the unspecified address", () => {
    assert.equal(checkWebhookUrl("http://127.0.0.1:8080/hook", open).ok, true);
    assert.equal(checkWebhookUrl("http://[fd00::1]/hook", open).ok, true);
    assert.equal(checkWebhookUrl("http://0.0.0.0/hook", open).ok, false);
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        (text) => typeof checkWebhookUrl(text, strict).ok === "boolean",
      ),
    );
    fc.assert(fc.property(fc.webUrl(), (url) => typeof checkWebhookUrl(url, strict).ok === "boolean"));
  });
});

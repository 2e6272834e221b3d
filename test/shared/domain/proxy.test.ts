// Proxy URLs: which are accepted, why the others are not (never quoting the URL, which holds a
// password), and how they are shown.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkProxyUrl, maskProxyUrl, withoutProxySecret } from "../../../shared/domain/proxy.ts";

const SECRET = "hunter2-Xy9";

describe("proxy URLs", () => {
  it("accepts http, https, socks5 and socks5h proxies, with or without credentials", () => {
    for (const url of [
      `http://user:${SECRET}@127.0.0.1:8080`,
      "https://proxy.example.com",
      `socks5://user:${SECRET}@proxy.example.com:1080`,
      "socks5h://user@[2001:db8::1]:1080",
      "HTTP://user:p%40ss@host:3128/",
    ]) {
      assert.equal(checkProxyUrl(url).ok, true, url);
    }
  });

  it("refuses anything else with a reason that never repeats the URL", () => {
    const refused: Array<[string, RegExp]> = [
      [`ftp://user:${SECRET}@host:21`, /^scheme "ftp" is not supported; use http, https, socks5, socks5h$/],
      [`socks4://user:${SECRET}@host:1080`, /scheme "socks4" is not supported/],
      [`user:${SECRET}@host:1080`, /scheme "user" is not supported/],
      [`${SECRET}`, /^not a valid URL/],
      [`socks5://user:${SECRET}@host:99999`, /^not a valid URL \(check the host and port\)/],
      [`http://user:${SECRET}@host:8080/path`, /no path, query or fragment/],
      [`http://user:${SECRET}@host:8080?x=1`, /no path, query or fragment/],
      [`socks5://:${SECRET}@host:1080`, /^has a password but no user name$/],
      [`socks5://user:${SECRET}@host :1080`, /^must not contain spaces$/],
      [`socks5://user:${SECRET}@${"h".repeat(2100)}`, /^longer than 2048 characters$/],
    ];
    for (const [url, reason] of refused) {
      const check = checkProxyUrl(url);
      assert.equal(check.ok, false, url);
      if (check.ok) continue;
      assert.match(check.reason, reason);
      assert.ok(!check.reason.includes(SECRET), check.reason);
    }
  });

  it("shows the user and host but never the password", () => {
    assert.equal(maskProxyUrl(`socks5://user:${SECRET}@host:1080`), "socks5://user:***@host:1080");
    assert.equal(maskProxyUrl(`http://user:${SECRET}@10.0.0.1:3128/`), "http://user:***@10.0.0.1:3128");
    assert.equal(maskProxyUrl("https://user@host"), "https://user@host");
    assert.equal(maskProxyUrl("socks5h://host:1080"), "socks5h://host:1080");
    assert.equal(maskProxyUrl(`ftp://user:${SECRET}@host`), "(invalid proxy URL)");
  });

  it("takes the password out of a message that quotes the URL or the password, encoded or not", () => {
    const url = `http://user:${encodeURIComponent("p@ss word")}@host:3128`;
    assert.equal(
      withoutProxySecret(`cannot reach ${url}: refused`, url),
      "cannot reach http://user:***@host:3128: refused",
    );
    assert.equal(withoutProxySecret("auth p@ss word failed", url), "auth *** failed");
    assert.equal(withoutProxySecret("auth p%40ss%20word failed", url), "auth *** failed");
    assert.equal(withoutProxySecret("connect ECONNREFUSED", "socks5://host:1080"), "connect ECONNREFUSED");
  });
});

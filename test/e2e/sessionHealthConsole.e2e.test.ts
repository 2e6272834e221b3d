// The sessions panel's account health in a real headless Chromium against the real gateway: add a
// session with a proxy, see it masked, change it, set, restart and turn off the warm-up, set the
// unreplied budget, and never find the proxy's password anywhere in the page or the gateway's
// output. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { openConsoleBrowser, type ConsoleBrowser } from "../harness/browser.ts";
import { startPlatform, type Platform, type RunningService } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";

const SECRET = "c0nsole-Pw-77";
const CARD = '[data-session="shop"]';

describe("account health in the console", () => {
  let servers: Servers;
  let platform: Platform;
  let gateway: RunningService;
  let browser: ConsoleBrowser;
  let page: Page;

  before(async () => {
    browser = await openConsoleBrowser();
    page = browser.page;
    servers = await startServers();
    platform = await startPlatform(servers, { LOG_LEVEL: "trace", SEND_PER_DAY: "500" });
    gateway = await platform.start("gateway");
  });

  after(async () => {
    await browser?.close();
    await platform?.stop();
    await servers?.dispose();
  });

  const text = async (selector: string) => (await page.textContent(selector)) ?? "";
  const waitForText = (selector: string, pattern: RegExp) =>
    page.waitForFunction(
      ([sel, source]) => new RegExp(source).test(document.querySelector(sel)?.textContent ?? ""),
      [selector, pattern.source] as const,
    );

  it("sets the proxy and the warm-up from the sessions panel, showing the password nowhere", async () => {
    await browser.signIn(platform);
    await page.waitForSelector('[data-session="s1"] .status');

    // Add a session with a proxy: typed in a password field, shown masked once added.
    await page.fill(".add-session input[name=sessionId]", "shop");
    await page.fill(".add-session input[name=proxy]", `socks5://shop:${SECRET}@198.51.100.4:1080`);
    assert.equal(await page.getAttribute(".add-session input[name=proxy]", "type"), "password");
    await page.click(".add-session button[type=submit]");
    await page.waitForSelector(`${CARD} .proxy`);
    assert.equal(await text(`${CARD} .proxy`), "Proxy: socks5://shop:***@198.51.100.4:1080");
    assert.equal(await text(`${CARD} .warmup`), "Warm-up: off");
    assert.equal(await page.inputValue(".add-session input[name=proxy]"), "", "the field is cleared");

    // A bad proxy is refused with the reason and changes nothing.
    await page.click(`${CARD} .health-settings summary`);
    await page.fill(`${CARD} input.proxy-url`, `ftp://shop:${SECRET}@198.51.100.4:21`);
    await page.click(`${CARD} button.set-proxy`);
    await waitForText(`${CARD} .notice`, /invalid proxy: scheme "ftp" is not supported/);
    assert.equal(await text(`${CARD} .proxy`), "Proxy: socks5://shop:***@198.51.100.4:1080");
    await page.fill(`${CARD} input.proxy-url`, `http://shop:${SECRET}@198.51.100.5:3128`);
    await page.click(`${CARD} button.set-proxy`);
    await waitForText(`${CARD} .proxy`, /^Proxy: http:\/\/shop:\*\*\*@198\.51\.100\.5:3128$/);

    // A warm-up of 25 a day, doubling: day 1 until the account first sends.
    await page.fill(`${CARD} input.first-day`, "25");
    await page.fill(`${CARD} input.growth`, "2");
    await page.click(`${CARD} button.set-warmup`);
    await waitForText(
      `${CARD} .warmup`,
      /^Warm-up day 1 \(starts with the first send\): 0 of 25 in the last 24 h$/,
    );
    const pacing = (await (await platform.api("/api/sessions/shop/pacing")).json()) as object;
    assert.deepEqual(pacing, { warmup: { firstDay: 25, growth: 2 } });
    await page.click(`${CARD} button.restart-warmup`);
    await waitForText(`${CARD} .notice`, /starts over at the next send/);
    await browser.shot("session-health");
    await page.click(`${CARD} button.warmup-off`);
    await waitForText(`${CARD} .warmup`, /^Warm-up: off$/);
    await page.click(`${CARD} button.remove-proxy`);
    await waitForText(`${CARD} .proxy`, /^Proxy: none \(direct connection\)$/);

    // The month's messages to people who have not replied, and a budget of the account's own.
    const month = new Date().toISOString().slice(0, 7);
    assert.equal(
      await text(`${CARD} .unreplied`),
      `To people who have not replied (${month}, UTC): 0, no budget`,
    );
    await page.fill(`${CARD} input.unreplied-budget`, "300");
    await page.click(`${CARD} button.set-unreplied-budget`);
    await waitForText(`${CARD} .unreplied`, /: 0 of 300$/);
    await page.click(`${CARD} button.unreplied-budget-default`);
    await waitForText(`${CARD} .unreplied`, /: 0, no budget$/);

    assert.ok(!(await page.content()).includes(SECRET), "the page never holds the password");
    assert.ok(gateway.output().length > 0);
    assert.ok(!gateway.output().includes(SECRET), "the gateway never logged the password");
  });
});

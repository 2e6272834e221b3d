// The webhooks panel in a real headless Chromium against the real gateway and webhooks service:
// register an endpoint (its secret shown once), send a test and watch it delivered, watch one
// die against a failing receiver and redeliver it, rotate the secret, and delete the endpoint.
// Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { openConsoleBrowser, type ConsoleBrowser } from "../harness/browser.ts";
import { eventually, startPlatform, type Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { WebhookReceiver } from "../harness/webhookReceiver.ts";

const HOOK = "/console-hook";

describe("webhooks in the console", () => {
  let servers: Servers;
  let platform: Platform;
  let receiver: WebhookReceiver;
  let browser: ConsoleBrowser;
  let page: Page;

  before(async () => {
    browser = await openConsoleBrowser();
    page = browser.page;
    page.on("dialog", (dialog) => void dialog.accept());
    servers = await startServers();
    receiver = await WebhookReceiver.start();
    platform = await startPlatform(servers, {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      WEBHOOK_TIMEOUT_MS: "300",
      WEBHOOK_MAX_ATTEMPTS: "2",
      WEBHOOK_RETRY_BASE_MS: "50",
      WEBHOOK_RETRY_MAX_MS: "100",
    });
    await platform.start("gateway");
    await platform.start("webhooks");
  });

  after(async () => {
    await browser?.close();
    await platform?.stop();
    await receiver?.close();
    await servers?.dispose();
  });

  const waitForText = (selector: string, pattern: RegExp) =>
    page.waitForFunction(
      ([sel, source]) => new RegExp(source).test(document.querySelector(sel)?.textContent ?? ""),
      [selector, pattern.source] as const,
    );

  it("registers a webhook, shows its secret once, and follows its deliveries", async () => {
    await browser.signIn(platform);
    await page.click('nav.top a[href="/console#webhooks"]');
    await page.waitForSelector("#webhooks:not([hidden]) .webhook-form");

    // A private target is refused by the gateway's rule, not only by the browser's URL check.
    await page.fill(".webhook-form input[name=url]", "http://0.0.0.0:6379/");
    await page.click(".webhook-form button[type=submit]");
    await waitForText("#webhooks > .notice", /unspecified address/);

    await page.fill(".webhook-form input[name=url]", receiver.url(HOOK));
    await page.fill(".webhook-form input[name=description]", "CRM sync");
    await page.check('.webhook-form input[value="blast.completed"]');
    await page.click(".webhook-form button[type=submit]");
    await page.waitForSelector(".webhook-created .secret-value");
    const secret = (await page.textContent(".webhook-created .secret-value")) ?? "";
    assert.match(secret, /^whsec_/);
    receiver.trust(HOOK, secret);
    const card = "[data-webhook]";
    await waitForText(`${card} .webhook-url`, new RegExp(HOOK));
    assert.match((await page.textContent(`${card} .events`)) ?? "", /^blast\.completed, recipient\.sent, /);

    // A test event, delivered and logged with its status, latency and attempts.
    await page.click(`${card} button.show-deliveries`);
    await page.click(`${card} button.send-test`);
    await page.waitForSelector(`${card} tr[data-status="delivered"] .type`);
    const row = `${card} tr[data-status="delivered"]`;
    assert.equal(await page.textContent(`${row} .type`), "ping");
    assert.equal(await page.textContent(`${row} .http-status`), "200");
    assert.match((await page.textContent(`${row} .latency`)) ?? "", /^\d+ ms$/);
    assert.equal(await page.textContent(`${row} .attempts`), "1");
    const ping = receiver.requestsTo(HOOK)[0];
    assert.equal(ping?.type, "ping");
    assert.equal(ping?.signatureValid, true);

    // A receiver that fails: the next test dies after its attempts, then goes through by hand.
    receiver.script(HOOK, [], "fail");
    await page.click(`${card} button.send-test`);
    await page.waitForSelector(`${card} tr[data-status="dead"] button.redeliver`);
    assert.equal(await page.textContent(`${card} tr[data-status="dead"] .attempts`), "2");
    assert.equal(await page.textContent(`${card} tr[data-status="dead"] .error`), "HTTP 500");
    await browser.shot("webhook-dead");
    receiver.script(HOOK, [], "ok");
    const deadId = (await page.getAttribute(`${card} tr[data-status="dead"]`, "data-event")) ?? "";
    await page.click(`${card} tr[data-status="dead"] button.redeliver`);
    await page.waitForSelector(`${card} tr[data-event="${deadId}"][data-status="delivered"]`);
    assert.ok(receiver.processed(HOOK).includes(deadId));

    // A rotation shows the new secret once; the old one keeps signing beside it.
    await page.click(`${card} button.rotate-secret`);
    await page.waitForSelector(`${card} .webhook-secret .secret-value`);
    const rotated = (await page.textContent(`${card} .webhook-secret .secret-value`)) ?? "";
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, secret);
    await browser.shot("webhooks");

    await page.reload();
    await page.waitForSelector(`${card} .webhook-url`);
    const html = await page.content();
    assert.ok(!html.includes(secret) && !html.includes(rotated), "secrets are never listed");

    await page.click(`${card} button.delete`);
    await page.waitForSelector("#webhooks .webhooks .empty");
    await eventually(
      async () =>
        ((await (await platform.api("/api/webhooks")).json()) as { total: number }).total === 0 || undefined,
      5000,
      "the webhook deleted",
    );
  });
});

// The console in a real headless Chromium (Debian's package, driven by playwright-core), against
// the real services: sign in, start a blast from an uploaded .xlsx after previewing it, pause and
// resume it, link the WhatsApp session by QR, watch the blast finish, send one from a pool of two
// accounts and follow each account's share (one paused and resumed on its own), follow a large
// upload's rows as the gateway reads them, check the queue dashboard against the JetStream API,
// and start a blast that rotates two message variants. Screenshots of each page go to
// test-artifacts/.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import * as XLSX from "xlsx";
import type { BlastEvent } from "../../shared/domain/blast.ts";
import { chooseVariant, parseVariants } from "../../shared/domain/variants.ts";
import { connectNats, type Nats } from "../../shared/nats/connection.ts";
import { appendEvents } from "../../shared/nats/eventLog.ts";
import { openConsoleBrowser, type ConsoleBrowser } from "../harness/browser.ts";
import { eventually, startPlatform, TEST_API_KEY, type Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";

const SCAN_AFTER_MS = 4000;
const POOL = ["s1", "s2"];

function recipientsSheet(): { file: Buffer; valid: number; rejected: number; duplicates: number } {
  const rows: (string | number)[][] = [["Phone", "Name"]];
  for (let i = 0; i < 24; i++) rows.push([`+1 202 555 ${String(300 + i).padStart(4, "0")}`, `Guest ${i}`]);
  rows.push(["(202) 555-0300", "Guest 0 again"]);
  rows.push(["not a phone", "Nobody"]);
  rows.push(["+12025550399", ""]);
  const workbook = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(workbook, XLSX.utils.aoa_to_sheet(rows), "guests");
  const file = XLSX.write(workbook, { type: "buffer", bookType: "xlsx" }) as Buffer;
  return { file, valid: 24, rejected: 2, duplicates: 1 };
}

/**
 * A CSV far larger than one batch of the importer (1,000 rows), so the gateway tells its progress
 * while it reads it; one duplicate and one bad phone at the end.
 */
function largeRecipientsCsv(rows: number): { file: Buffer; rows: number; valid: number } {
  const lines = ["phone,name"];
  for (let i = 0; i < rows; i++) {
    lines.push(`+1212${300 + Math.floor(i / 10_000)}${String(i % 10_000).padStart(4, "0")},Guest ${i}`);
  }
  lines.push("+12123000000,Guest 0 again", "not a phone,Nobody");
  return { file: Buffer.from(lines.join("\n")), rows: rows + 2, valid: rows };
}

/** One state the import line was drawn in, as a person would have seen it. */
interface ImportLineState {
  phase: string;
  hidden: boolean;
  text: string;
}

/** The figures of an import line, whatever digit grouping the browser's locale uses. */
function importFigures(text: string) {
  const match =
    /^([\d.,\s]+) rows? read · ([\d.,\s]+) recipients? · ([\d.,\s]+) rejected(?: · ([\d.,\s]+) duplicates? merged)?$/.exec(
      text,
    );
  assert.ok(match, `an import line of figures: "${text}"`);
  const value = (group: string | undefined) => Number((group ?? "0").replace(/\D/g, ""));
  return {
    rows: value(match[1]),
    recipients: value(match[2]),
    rejected: value(match[3]),
    duplicates: value(match[4]),
  };
}

/** The dashboard's table rows keyed by `attribute`, with each `data-field` cell read as a number. */
async function tableRows(page: Page, attribute: string) {
  // Plain expressions only: the test runs through tsx, which would wrap named functions in a
  // helper the page does not have.
  const rows = await page.$$eval(
    `tr[${attribute}]`,
    (trs, name) =>
      trs.map((tr) => ({
        id: tr.getAttribute(name) ?? "",
        cells: Array.from(tr.querySelectorAll("[data-field]")).map(
          (td) => [td.getAttribute("data-field") ?? "", td.textContent ?? ""] as const,
        ),
      })),
    attribute,
  );
  return rows.map(({ id, cells }) => {
    const values = new Map(cells);
    return { id, field: (name: string) => Number(values.get(name)) };
  });
}

interface BlastFigures {
  status: string;
  total: number;
  sent: number;
  failed: number;
  inDoubt: number;
  delivered: number;
  read: number;
  replied: number;
  pending: number;
  sessionIds: string[];
  bySession: Record<string, { sent: number; failed: number; inDoubt: number; paused?: string }>;
}

describe("the web console in a real browser", () => {
  let servers: Servers;
  let platform: Platform;
  let nats: Nats;
  let browser: ConsoleBrowser;
  let page: Page;

  before(async () => {
    browser = await openConsoleBrowser();
    page = browser.page;
    servers = await startServers();
    platform = await startPlatform(servers, { SIM_SCAN_AFTER_MS: String(SCAN_AFTER_MS) });
    await platform.start("gateway");
    await platform.start("projector");
    nats = await connectNats(servers.nats.url, "console-test");
  });

  after(async () => {
    await browser?.close();
    await nats?.nc.close();
    await platform?.stop();
    await servers?.dispose();
  });

  const blastFigures = async (blastId: string) =>
    (await (await platform.api(`/api/blasts/${blastId}`)).json()) as BlastFigures;

  it("signs in, previews and starts a blast, pauses and resumes it, links the session and sees it finish", async () => {
    await page.goto(`${platform.baseUrl}/`);
    await page.waitForURL(/\/signin\?next=/);
    await page.fill("#api-key", "not-the-key-0123456789");
    await page.click("button[type=submit]");
    await page.waitForSelector(".notice[data-kind=error]");
    assert.match((await page.textContent(".notice")) ?? "", /not valid/);
    await browser.shot("signin");
    await page.fill("#api-key", TEST_API_KEY);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/console$/);

    // Sessions: s1 exists and no sender runs it yet.
    await page.waitForSelector('[data-session="s1"] .status');
    assert.equal(await page.textContent('[data-session="s1"] .status'), "idle");

    // A blast from an uploaded spreadsheet, previewed before it is sent.
    const sheet = recipientsSheet();
    await page.click('nav a[href="/console#blasts"]');
    await page.waitForSelector("#blasts:not([hidden]) .blast-form");
    // The only session is the pool's one account unless the user picks more.
    const s1Box = '.blast-form input[name=sessionIds][value="s1"]';
    assert.equal(await page.isChecked(s1Box), true, "one account is chosen by default");
    assert.equal(await page.textContent('.blast-form .pool-account[data-session="s1"] .status'), "idle");
    await page.setInputFiles(".blast-form input[type=file]", {
      name: "guests.xlsx",
      mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      buffer: sheet.file,
    });
    await page.fill(".blast-form textarea[name=message]", "Hello {name}, see you soon");
    assert.equal(await page.isDisabled(".blast-form button.send"), true, "nothing to send before a preview");
    await page.click(".blast-form .preview-button");
    await page.waitForSelector(".preview-messages li");
    assert.equal(
      await page.textContent(".preview-summary"),
      `${sheet.valid} message(s) will be sent · ${sheet.duplicates} duplicate(s) merged · ${sheet.rejected} rejected`,
    );
    const firstMessages = await page.$$eval(".preview-messages q", (qs) => qs.map((q) => q.textContent));
    assert.deepEqual(firstMessages.slice(0, 2), [
      "Hello Guest 0, see you soon",
      "Hello Guest 1, see you soon",
    ]);
    const rejectedReasons = await page.$$eval(".rejected tbody tr td:last-child", (tds) =>
      tds.map((td) => td.textContent),
    );
    assert.deepEqual(rejectedReasons, ["phone has invalid characters", "missing value for {name}"]);
    assert.equal((await (await platform.api("/api/blasts")).json()).total, 0, "a preview starts nothing");
    // A test send asks the account's sender, and none runs s1 yet: the console says so.
    await page.fill(".blast-form .test-send input[name=testTo]", "+12025559901");
    await page.click(".blast-form .test-send-button");
    await page.waitForSelector(".blast-form .test-send-result[data-kind=error]");
    assert.match(
      (await page.textContent(".blast-form .test-send-result")) ?? "",
      /no sender is running session s1/,
    );
    await browser.shot("blast-preview");

    await page.click(".blast-form button.send");
    await page.waitForSelector(".blast-form .notice[data-kind=ok]");
    const started = (await page.textContent(".blast-form .notice")) ?? "";
    const blastId = /Blast (\S+) started/.exec(started)?.[1];
    assert.ok(blastId, started);
    const card = `[data-blast="${blastId}"]`;
    await page.waitForSelector(`${card}[data-status=running]`);
    assert.equal(await page.getAttribute(`${card} progress`, "max"), String(sheet.valid));

    // Pause and resume while no sender runs the session yet, so nothing races the buttons.
    await page.click(`${card} button.pause`);
    await page.waitForSelector(`${card}[data-status=paused]`);
    assert.equal((await blastFigures(blastId)).status, "paused");
    await browser.shot("blast-paused");
    await page.click(`${card} button.resume`);
    await page.waitForSelector(`${card}[data-status=running]`);
    assert.equal((await blastFigures(blastId)).status, "running");

    // The dashboard warns that the session has work and nothing pulls it.
    await page.goto(`${platform.baseUrl}/admin/queues`);
    await page.waitForSelector('.warning[data-session="s1"]');
    assert.match((await page.textContent('.warning[data-session="s1"]')) ?? "", /no consumer is attached/);
    assert.equal(await page.textContent('tr[data-session="s1"] [data-field=queued]'), String(sheet.valid));
    await browser.shot("queues-waiting");

    // A sender takes the session: the QR appears, Connect replaces it, the scan completes.
    await page.goto(`${platform.baseUrl}/console#sessions`);
    await page.waitForSelector('[data-session="s1"] .status');
    await platform.start("sender");
    const qr = '[data-session="s1"] img.qr';
    await page.waitForSelector(`${qr}:not([hidden])`);
    const firstQr = await page.getAttribute(qr, "data-qr");
    assert.match((await page.getAttribute(qr, "src")) ?? "", /^data:image\/png;base64,/);
    assert.equal(await page.textContent('[data-session="s1"] .status'), "qr");
    await browser.shot("sessions-qr");
    await page.fill('[data-session="s1"] input.phone', "+1 202 555 0188");
    await page.click('[data-session="s1"] button.request-pairing');
    await page.waitForSelector('[data-session="s1"] .pairing-code:not([hidden])');
    assert.match((await page.textContent('[data-session="s1"] .pairing-code')) ?? "", /type [0-9A-F]{8}$/);
    await page.click('[data-session="s1"] button.connect');
    await page.waitForFunction(
      ([selector, previous]) => document.querySelector(selector)?.getAttribute("data-qr") !== previous,
      [qr, firstQr] as const,
    );
    await page.waitForSelector('[data-session="s1"][data-status=open]', { timeout: SCAN_AFTER_MS * 5 });
    assert.equal(await page.isHidden(qr), true, "the QR goes away once linked");
    await browser.shot("sessions-open");

    // The blast runs to the end; the bar and the counts match the API.
    await page.click('nav a[href="/console#blasts"]');
    await page.waitForSelector(`${card}[data-status=completed]`, { timeout: 60_000 });
    const final = await blastFigures(blastId);
    assert.equal(final.status, "completed");
    assert.equal(final.sent + final.failed + final.inDoubt, sheet.valid);
    assert.equal(await page.getAttribute(`${card} progress`, "value"), String(sheet.valid));
    assert.equal(await page.textContent(`${card} .percent`), "100%");
    for (const count of ["sent", "failed", "inDoubt", "replied", "pending"] as const) {
      assert.equal(await page.textContent(`${card} [data-count=${count}]`), String(final[count]), count);
    }
    assert.equal(
      await page.textContent(`${card} tr[data-account="s1"] [data-field=sent]`),
      String(final.sent),
    );
    await browser.shot("blast-completed");

    // A recipient answers after the blast finished: Replies lists it, as text, and the count follows.
    const replyText = "<b>Yes</b> & <img src=x onerror=alert(1)> thanks";
    const reply: BlastEvent = {
      type: "recipient.replied",
      data: {
        blastId,
        idx: 0,
        phone: "+12025550300",
        sessionId: "s1",
        messageId: "in-console-0",
        text: replyText,
        at: new Date().toISOString(),
      },
    };
    await appendEvents(nats.js, [reply]);
    await eventually(async () => ((await blastFigures(blastId)).replied === 1 ? true : undefined));
    await page.click(`${card} button.show-replies`);
    await page.waitForSelector(`${card} .replies tr[data-reply="0"]`);
    assert.equal(await page.textContent(`${card} [data-count=replied]`), "1");
    assert.equal(await page.textContent(`${card} tr[data-reply="0"] .phone`), "+12025550300");
    assert.equal(await page.textContent(`${card} tr[data-reply="0"] .reply-text`), replyText);
    assert.equal(await page.locator(`${card} .replies b, ${card} .replies img`).count(), 0, "no markup");
    await browser.shot("blast-replies");

    // Metrics count what the blast sent.
    const metrics = await (await platform.api("/metrics")).text();
    const sentLine = metrics
      .split("\n")
      .find((l) => l.startsWith('wa_blast_recipients_total{session_id="s1",outcome="sent"}'));
    assert.equal(Number(sentLine?.split(" ").at(-1)), final.sent);

    await page.click('nav a[href="/console#sessions"]');
    await page.click('[data-session="s1"] button.logout');
    await page.waitForSelector('[data-session="s1"][data-status=logged_out]');
    assert.equal(await page.textContent('[data-session="s1"] .reason'), "logged out");
  });

  it("sends a blast from a pool of two accounts, showing each account's share live, and resumes one account", async () => {
    // s1 was logged out at the end of the test before: link it again, and add s2 and link it too.
    // Each account holds 200-300 ms between its messages, so the pool shares the blast instead of
    // one account sending it in a single batch, and it lasts long enough to be paused.
    await page.goto(`${platform.baseUrl}/console#sessions`);
    await page.waitForSelector('[data-session="s1"][data-status=logged_out]');
    await page.fill(".add-session input[name=sessionId]", "s2");
    await page.click(".add-session button[type=submit]");
    await page.waitForSelector('[data-session="s2"] .status');
    for (const sessionId of POOL) {
      const res = await platform.api(`/api/sessions/${sessionId}/pacing`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ minDelayMs: 200, maxDelayMs: 300 }),
      });
      assert.equal(res.status, 200, await res.text());
    }
    await page.click('[data-session="s1"] button.connect');
    for (const sessionId of POOL) {
      await page.waitForSelector(`[data-session="${sessionId}"][data-status=open]`, {
        timeout: SCAN_AFTER_MS * 5,
      });
    }

    // The form lists both accounts as they are now; the user picks both.
    const sheet = recipientsSheet();
    await page.click('nav a[href="/console#blasts"]');
    await page.waitForSelector('.blast-form .pool-account[data-session="s2"][data-status=open]');
    for (const sessionId of POOL)
      await page.check(`.blast-form input[name=sessionIds][value="${sessionId}"]`);
    assert.match((await page.textContent(".blast-form .pool-hint")) ?? "", /^2 accounts share the sending/);
    await page.setInputFiles(".blast-form input[type=file]", {
      name: "guests.xlsx",
      mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      buffer: sheet.file,
    });
    await page.fill(".blast-form textarea[name=message]", "Hello {name}, from the team");
    await page.click(".blast-form .preview-button");
    await page.waitForSelector(".preview-messages li");
    assert.match(
      (await page.textContent(".preview-summary")) ?? "",
      new RegExp(`^${sheet.valid} message\\(s\\)`),
    );
    await page.click(".blast-form button.send");
    await page.waitForSelector(".blast-form .notice[data-kind=ok]");
    const started = (await page.textContent(".blast-form .notice")) ?? "";
    const blastId = /Blast (\S+) started/.exec(started)?.[1];
    assert.ok(blastId, started);
    const card = `[data-blast="${blastId}"]`;
    await page.waitForSelector(`${card}[data-status=running]`);
    await page.click(`${card} button.pause`);
    await page.waitForSelector(`${card}[data-status=paused]`);
    assert.match((await page.textContent(`${card} .meta`)) ?? "", /^pool of 2: s1, s2 · /);
    assert.deepEqual((await blastFigures(blastId)).sessionIds, POOL);
    // The list is drawn once; a card still carrying this mark at the end was updated in place, by
    // the blast's socket.
    await page.$eval(card, (node) => node.setAttribute("data-drawn-once", ""));

    // s2 is logged out while the blast is paused: the pool takes it out, with the reason.
    const s2Row = `${card} tr[data-account="s2"]`;
    await page.click('nav a[href="/console#sessions"]');
    await page.click('[data-session="s2"] button.logout');
    await page.waitForSelector('[data-session="s2"][data-status=logged_out]');
    await page.click('nav a[href="/console#blasts"]');
    await page.waitForSelector(`${s2Row}[data-paused] button.resume-account`);
    assert.match((await page.textContent(`${s2Row} [data-field=state]`)) ?? "", /^paused: logged out/);
    assert.equal(await page.getAttribute(`${card} tr[data-account="s1"]`, "data-paused"), null);
    assert.match((await blastFigures(blastId)).bySession.s2?.paused ?? "", /logged out/);
    await browser.shot("blast-pool-account-paused");

    // Linked again, s2 is resumed on its own; the person's pause of the whole blast stays until
    // they resume it.
    await page.click('nav a[href="/console#sessions"]');
    await page.click('[data-session="s2"] button.connect');
    await page.waitForSelector('[data-session="s2"][data-status=open]', { timeout: SCAN_AFTER_MS * 5 });
    await page.click('nav a[href="/console#blasts"]');
    await page.click(`${s2Row} button.resume-account`);
    await page.waitForSelector(`${s2Row}:not([data-paused])`);
    assert.equal(await page.isVisible(`${s2Row} button.resume-account`), false);
    assert.equal(await page.getAttribute(card, "data-status"), "paused");
    await page.click(`${card} button.resume`);
    await page.waitForSelector(`${card}[data-status=completed]`, { timeout: 60_000 });
    await browser.shot("blast-pool-completed");

    // What the card shows: both accounts, each with a part, adding up to the blast's figures,
    // which are the API's.
    const final = await blastFigures(blastId);
    assert.equal(final.sent + final.failed + final.inDoubt, sheet.valid);
    const rows = await page.$$eval(`${card} tr[data-account]`, (trs) =>
      trs.map((tr) => ({
        account: tr.getAttribute("data-account") ?? "",
        sent: Number(tr.querySelector("[data-field=sent]")?.textContent),
        failed: Number(tr.querySelector("[data-field=failed]")?.textContent),
        inDoubt: Number(tr.querySelector("[data-field=inDoubt]")?.textContent),
      })),
    );
    assert.deepEqual(
      rows.map((r) => r.account),
      POOL,
    );
    for (const count of ["sent", "failed", "inDoubt"] as const) {
      const shown = Number(await page.textContent(`${card} [data-count=${count}]`));
      assert.equal(shown, final[count], count);
      assert.equal(
        rows.reduce((sum, r) => sum + r[count], 0),
        shown,
        `the accounts' ${count} add up to the blast's`,
      );
    }
    for (const row of rows) {
      assert.ok(row.sent > 0, `${row.account} sent part of the blast`);
      assert.equal(row.sent, final.bySession[row.account]?.sent, row.account);
    }
    assert.equal(await page.getAttribute(card, "data-drawn-once"), "", "figures came over the socket");

    // The export names the account of each recipient, as the card counts them.
    const csv = await (
      await platform.api((await page.getAttribute(`${card} a.export`, "href")) ?? "")
    ).text();
    const [header, ...lines] = csv.split("\r\n").filter(Boolean);
    const columns = header?.split(",") ?? [];
    const sentBy = new Map<string, number>();
    for (const line of lines) {
      const cells = line.split(",");
      if (cells[columns.indexOf("outcome")] !== "sent") continue;
      const account = cells[columns.indexOf("session_id")] ?? "";
      sentBy.set(account, (sentBy.get(account) ?? 0) + 1);
    }
    assert.deepEqual(
      Object.fromEntries(sentBy),
      Object.fromEntries(rows.filter((r) => r.sent > 0).map((r) => [r.account, r.sent])),
    );
  });

  it("creates, previews and deletes a campaign", async () => {
    await page.goto(`${platform.baseUrl}/console#campaigns`);
    await page.waitForSelector("#campaigns:not([hidden]) .campaign-form");
    await page.fill(".campaign-form input[name=name]", "Guests");
    // Dropped on the zone, as a person drags a file from their desktop.
    const dropped = await page.evaluateHandle(
      (bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], "guests.xlsx"));
        return transfer;
      },
      [...recipientsSheet().file],
    );
    await page.dispatchEvent(".campaign-form .drop-zone", "drop", { dataTransfer: dropped });
    assert.match((await page.textContent(".campaign-form .file-caption")) ?? "", /^guests\.xlsx \(\d+ KB\)$/);
    await page.click(".campaign-form button[type=submit]");
    await page.waitForSelector(".campaign .preview-campaign");
    await page.click(".campaign .preview-campaign");
    await page.waitForSelector(".campaign-preview tbody tr");
    assert.equal(await page.$$eval(".campaign-preview tbody tr", (rows) => rows.length), 10);
    assert.equal(await page.textContent(".campaign-preview tbody tr td"), "+12025550300");
    await browser.shot("campaigns");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click(".campaign button.delete");
    await page.waitForSelector(".campaign", { state: "detached" });
    assert.equal((await (await platform.api("/api/campaigns")).json()).total, 0);
  });

  it("adds a number to the suppression list with a reason, and removes it", async () => {
    await page.goto(`${platform.baseUrl}/console#suppression`);
    await page.waitForSelector("#suppression:not([hidden]) .suppression-form");
    await page.fill(".suppression-form textarea[name=phones]", "(202) 555-0777\nnot a phone");
    await page.fill(".suppression-form input[name=reason]", "<b>asked</b> by phone");
    await page.click(".suppression-form button[type=submit]");
    const row = 'tr[data-phone="+12025550777"]';
    await page.waitForSelector(row);
    assert.match(
      (await page.textContent("#suppression .notice")) ?? "",
      /^1 number\(s\) added .* 1 rejected$/,
    );
    assert.equal(await page.textContent(`${row} .reason`), "<b>asked</b> by phone", "shown as text");
    assert.equal(await page.$$eval("#suppression .reason b", (nodes) => nodes.length), 0);
    assert.equal((await (await platform.api("/api/suppression/%2B12025550777")).json()).source, "api");
    await browser.shot("suppression");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click(`${row} button.remove`);
    await page.waitForSelector(row, { state: "detached" });
    assert.equal((await (await platform.api("/api/suppression")).json()).total, 0);
  });

  it("shows a large upload's rows as they are read, then the preview's figures, and why an upload stopped", async () => {
    await page.goto(`${platform.baseUrl}/console#blasts`);
    await page.waitForSelector(".blast-form input[name=sessionIds]:checked");
    const csv = largeRecipientsCsv(40_000);
    await page.setInputFiles(".blast-form input[type=file]", {
      name: "many.csv",
      mimeType: "text/csv",
      buffer: csv.file,
    });
    await page.fill(".blast-form textarea[name=message]", "Hi {name}");
    // Every state the line is drawn in is kept, so a state shown for a moment is seen too.
    const line = ".blast-form .import-progress";
    await page.$eval(line, (node) => {
      const seen: ImportLineState[] = [];
      (window as unknown as { importLine: ImportLineState[] }).importLine = seen;
      new MutationObserver(() =>
        seen.push({
          phase: node.getAttribute("data-phase") ?? "",
          hidden: node.hasAttribute("hidden"),
          text: node.querySelector(".import-line")?.textContent ?? "",
        }),
      ).observe(node, { attributes: true, childList: true, subtree: true, characterData: true });
    });
    await page.click(".blast-form .preview-button");
    await page.waitForSelector(".preview-summary");
    await page.waitForSelector(`${line}[data-phase=done]:not([hidden])`);
    assert.equal(
      await page.textContent(".preview-summary"),
      `${csv.valid} message(s) will be sent · 1 duplicate(s) merged · 1 rejected`,
    );
    const final = importFigures((await page.textContent(`${line} .import-line`)) ?? "");
    assert.deepEqual(final, { rows: csv.rows, recipients: csv.valid, rejected: 1, duplicates: 1 });
    assert.equal(await page.isHidden(`${line} progress`), true, "no bar once the file is read");
    const states = await page.evaluate(
      () => (window as unknown as { importLine: ImportLineState[] }).importLine,
    );
    const reading = states.filter((s) => s.phase === "reading" && !s.hidden && / read · /.test(s.text));
    assert.ok(reading.length >= 1, `rows read shown before the answer: ${JSON.stringify(states)}`);
    const readSoFar = reading.map((s) => importFigures(s.text).rows);
    assert.ok(
      readSoFar[0]! > 0 && readSoFar[0]! < csv.rows,
      `a count on the way, not the end: ${readSoFar[0]}`,
    );
    for (let i = 1; i < readSoFar.length; i++)
      assert.ok(readSoFar[i]! >= readSoFar[i - 1]!, "the count only grows");
    await browser.shot("blast-import-read");

    // A cell over the importer's limit far down the file: the line says where reading stopped, and why.
    const bad = largeRecipientsCsv(3_000);
    await page.setInputFiles(".blast-form input[type=file]", {
      name: "late-fault.csv",
      mimeType: "text/csv",
      buffer: Buffer.concat([bad.file, Buffer.from(`\n+12124009999,${"x".repeat(2000)}`)]),
    });
    assert.equal(await page.isHidden(line), true, "a new file hides the last file's figures");
    await page.click(".blast-form .preview-button");
    await page.waitForSelector(`${line}[data-phase=failed]:not([hidden])`);
    const stopped = (await page.textContent(`${line} .import-line`)) ?? "";
    assert.match(
      stopped,
      /^Stopped after .* rows read · .*: line \d+, column "name" is longer than 1000 characters$/,
    );
    assert.match((await page.textContent(".blast-form .notice[data-kind=error]")) ?? "", /longer than/);
    assert.equal((await (await platform.api("/api/blasts")).json()).total, 2, "previews start nothing");
  });

  it("shows on the queue dashboard the figures the JetStream API reports", async () => {
    await page.goto(`${platform.baseUrl}/admin/queues`);
    await page.uncheck("#auto-refresh");
    // Sender leases renew every few seconds, so read the page and the API back to back until one
    // pair is taken between two renewals.
    await eventually(
      async () => {
        const before = await page.getAttribute(".updated", "data-at");
        await page.click("button.refresh");
        await page.waitForFunction(
          (previous) => document.querySelector(".updated")?.getAttribute("data-at") !== previous,
          before,
        );
        const shown = (await tableRows(page, "data-stream")).map(({ id, field }) => ({
          name: id,
          messages: field("messages"),
          bytes: field("bytes"),
          firstSeq: field("firstSeq"),
          lastSeq: field("lastSeq"),
          consumers: field("consumers"),
        }));
        const consumersShown = (await tableRows(page, "data-consumer")).map(({ id, field }) => ({
          id,
          numPending: field("numPending"),
          numAckPending: field("numAckPending"),
          numRedelivered: field("numRedelivered"),
          numWaiting: field("numWaiting"),
        }));
        const streams = [];
        const consumers = [];
        for await (const info of nats.jsm.streams.list()) {
          streams.push({
            name: info.config.name,
            messages: info.state.messages,
            bytes: info.state.bytes,
            firstSeq: info.state.first_seq,
            lastSeq: info.state.last_seq,
            consumers: info.state.consumer_count,
          });
          for await (const c of nats.jsm.consumers.list(info.config.name)) {
            consumers.push({
              id: `${c.stream_name}/${c.name}`,
              numPending: c.num_pending,
              numAckPending: c.num_ack_pending,
              numRedelivered: c.num_redelivered,
              numWaiting: c.num_waiting,
            });
          }
        }
        const byName = <T extends { name?: string | null; id?: string | null }>(a: T, b: T) =>
          String(a.name ?? a.id).localeCompare(String(b.name ?? b.id));
        try {
          assert.ok(
            shown.some((s) => s.name === "SEND_WORK") && shown.some((s) => s.name === "BLAST_EVENTS"),
          );
          assert.deepEqual(shown.sort(byName), streams.sort(byName));
          assert.deepEqual(consumersShown.sort(byName), consumers.sort(byName));
          return true;
        } catch (err) {
          return void err;
        }
      },
      30_000,
      "the dashboard and the JetStream API to agree",
    );
    const blastEvents = await nats.jsm.streams.info("BLAST_EVENTS");
    // Created, its recipients, its outcomes (batched) and its completion at least.
    assert.ok(blastEvents.state.messages >= 4, "the blast's events are counted");
    await browser.shot("queues");
  });

  it("creates a blast with two message variants, seeing how the recipients split in the preview", async () => {
    await page.goto(`${platform.baseUrl}/console#blasts`);
    await page.waitForSelector(".blast-form input[name=sessionIds]:checked");
    const sheet = recipientsSheet();
    await page.setInputFiles(".blast-form input[type=file]", {
      name: "guests.xlsx",
      mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      buffer: sheet.file,
    });
    await page.fill(".blast-form textarea[name=message]", "Hello {name}, see you soon");
    assert.equal(
      await page.isHidden(".blast-form .variants > .variant-weight"),
      true,
      "one message, no weight",
    );
    await page.click(".blast-form .add-variant");
    await page.fill(".blast-form .variant textarea[name=variantText]", "Hi {name}, see you later");
    await page.fill(".blast-form .variant input[name=variantWeight]", "3");
    await page.click(".blast-form .preview-button");
    await page.waitForSelector(".variant-shares tbody tr");
    // The split the gateway will make, worked out here from the same rule.
    const variants = parseVariants([
      { text: "Hello {name}, see you soon", weight: 1 },
      { text: "Hi {name}, see you later", weight: 3 },
    ]);
    const expected = [0, 0];
    for (let i = 0; i < sheet.valid; i++) {
      const { variant } = chooseVariant(variants, `+1202555${String(300 + i).padStart(4, "0")}`);
      expected[variant] = (expected[variant] ?? 0) + 1;
    }
    const shares = await page.$$eval(".variant-shares tbody tr", (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? "")),
    );
    assert.deepEqual(
      shares.map(([variant, count]) => [variant, Number(count)]),
      [
        ["1", expected[0]],
        ["2", expected[1]],
      ],
    );
    assert.match(shares[0]?.[3] ?? "", /^Hello Guest \d+, see you soon$/);
    assert.match(shares[1]?.[3] ?? "", /^Hi Guest \d+, see you later$/);
    // A test of the first message, sent now by a running account: no blast is made of it.
    const blastsBefore = (await (await platform.api("/api/blasts")).json()).total;
    await page.fill(".blast-form .test-send input[name=testTo]", "+12025559902");
    await page.click(".blast-form .test-send-button");
    await page.waitForSelector(".blast-form .test-send-result[data-kind=ok]");
    assert.match(
      (await page.textContent(".blast-form .test-send-result")) ?? "",
      /^Test sent from s\d to \+12025559902 \(variant [12]\): “(Hello Guest \d+, see you soon|Hi Guest \d+, see you later)”$/,
    );
    assert.equal(
      (await (await platform.api("/api/blasts")).json()).total,
      blastsBefore,
      "a test is no blast",
    );
    await browser.shot("blast-variants-preview");

    await page.click(".blast-form button.send");
    await page.waitForSelector(".blast-form .notice[data-kind=ok]");
    const started = (await page.textContent(".blast-form .notice")) ?? "";
    const blastId = /Blast (\S+) started/.exec(started)?.[1];
    assert.ok(blastId, started);
    const csv = await eventually(async () => {
      const res = await platform.api(`/api/blasts/${blastId}/results.csv`);
      return res.status === 200 ? res.text() : undefined;
    });
    const [header, ...lines] = csv.split("\r\n").filter(Boolean);
    const column = header?.split(",").indexOf("variant") ?? -1;
    const recorded = lines.map((line) => line.split(",")[column]);
    assert.deepEqual(
      [recorded.filter((v) => v === "1").length, recorded.filter((v) => v === "2").length],
      expected,
      "each recipient's variant is in the results, as the preview split them",
    );

    await page.click(".blast-form .remove-variant");
    assert.equal(await page.$$eval(".blast-form .variant", (rows) => rows.length), 0);
  });
});

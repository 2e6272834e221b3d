// Scheduled blasts, drafts and the media library in the console, in a real headless Chromium
// against the real services (sim transport): an image goes into the library; a blast with two
// variants and that image is scheduled from the form in another zone than the viewer's, counts
// down on its card with its start in both zones, and is started at once; a draft is saved, edited
// and started. The viewer's zone is set in the browser, so the test means the same on any machine.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { openConsoleBrowser, type ConsoleBrowser } from "../harness/browser.ts";
import { outbox } from "../harness/inspect.ts";
import { eventually, startPlatform, untilBlastCompleted, type Platform } from "../harness/platform.ts";
import { startServers, type Servers } from "../harness/servers.ts";
import { solidPng } from "../harness/testImages.ts";

/** The browser's zone, and another one the blast is scheduled in: both shown on its card. */
const VIEWER_ZONE = "America/New_York";
const BLAST_ZONE = "Asia/Jakarta";
const PNG = solidPng(16, [0x12, 0x8c, 0x7e]);
const VARIANTS = ["Hello {name}, the sale starts now", "Hi {name}, our sale has started"];

interface MediaView {
  mediaId: string;
  kind: string;
  fileName: string;
  size: number;
}

interface BlastView {
  blastId: string;
  status: string;
  total: number;
  sent: number;
  template: string;
  scheduledFor?: string;
  timeZone?: string;
  variants?: Array<{ text: string; weight?: number }>;
  media?: MediaView;
  frequencyCap?: { max: number; periodHours: number } | null;
}

/** `at` as the wall clock of `timeZone`, "YYYY-MM-DDTHH:mm", worked out apart from the console's code. */
function wallClockIn(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** Three guests as a .csv, which the form reads like a spreadsheet. */
function guestsCsv(first: number): Buffer {
  const lines = ["phone,name"];
  for (let i = 0; i < 3; i++) lines.push(`+1202555${String(first + i).padStart(4, "0")},Guest ${i}`);
  return Buffer.from(lines.join("\n"));
}

async function chooseRecipients(page: Page, first: number): Promise<void> {
  await page.setInputFiles(".blast-form input[name=recipientsFile]", {
    name: "guests.csv",
    mimeType: "text/csv",
    buffer: guestsCsv(first),
  });
}

/** Previews the form (which the send button needs) and checks it would send three messages. */
async function preview(page: Page): Promise<void> {
  await page.click(".blast-form .preview-button");
  await page.waitForSelector(".blast-form .preview-summary");
  assert.match(
    (await page.textContent(".blast-form .preview-summary")) ?? "",
    /^3 message\(s\) will be sent/,
  );
  await page.waitForSelector(".blast-form button.send:not([disabled])");
}

/** Sends the form and returns the notice, failing with the gateway's answer when it refused. */
async function submit(page: Page): Promise<string> {
  await page.click(".blast-form button.send");
  await page.waitForSelector(".blast-form .notice[data-kind]");
  const text = (await page.textContent(".blast-form .notice")) ?? "";
  assert.equal(await page.getAttribute(".blast-form .notice", "data-kind"), "ok", text);
  return text;
}

/** Clicks a card's Start now, failing with the gateway's answer when it refused. */
async function startNow(page: Page, card: string): Promise<void> {
  await page.click(`${card} button.start-now`);
  const started = `${card}:is([data-status=running], [data-status=completed])`;
  await page.waitForSelector(`${started}, ${card} .notice[data-kind=error]`);
  const refused = (await page.$(`${card} .notice[data-kind=error]`)) !== null;
  assert.equal(refused, false, (await page.textContent(`${card} .notice`)) ?? "");
}

describe("scheduled blasts, drafts and the media library in the console", () => {
  let servers: Servers;
  let platform: Platform;
  let browser: ConsoleBrowser;
  let page: Page;
  let image: MediaView;

  before(async () => {
    browser = await openConsoleBrowser();
    page = browser.page;
    // The viewer is in New York whatever this machine's zone: the card shows the start there.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Emulation.setTimezoneOverride", { timezoneId: VIEWER_ZONE });
    servers = await startServers();
    platform = await startPlatform(servers);
    await platform.start("gateway");
    await platform.start("projector");
    await platform.start("sender");
    await eventually(
      async () => {
        const res = await platform.api("/api/sessions/s1");
        return res.ok && ((await res.json()) as { status: string }).status === "open" ? true : undefined;
      },
      30_000,
      "session s1 open",
    );
    await browser.signIn(platform);
    // The console drawn: no navigation of the sign-in left to cut the next one short.
    await page.waitForSelector('nav.top a[href="/console#media"]');
    await page.waitForLoadState("load");
  });

  after(async () => {
    await browser?.close();
    await platform?.stop();
    await servers?.dispose();
  });

  const blast = async (blastId: string) =>
    (await (await platform.api(`/api/blasts/${blastId}`)).json()) as BlastView;

  it("uploads an image to the media library and lists it", async () => {
    await page.goto(`${platform.baseUrl}/console#media`);
    await page.waitForSelector("#media:not([hidden]) .media-form");
    assert.equal(
      await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone),
      VIEWER_ZONE,
      "the browser reads the zone set for it",
    );
    await page.setInputFiles(".media-form input[name=file]", {
      name: "sale-banner.png",
      mimeType: "image/png",
      buffer: PNG,
    });
    await page.click(".media-form button[type=submit]");
    await page.waitForSelector("#media .notice[data-kind=ok]");
    const listed = await platform.api("/api/media");
    const items = ((await listed.json()) as { items: MediaView[] }).items;
    assert.equal(items.length, 1);
    image = items[0]!;
    assert.equal(image.kind, "image");
    assert.equal(image.size, PNG.length);
    const row = `#media tr[data-media="${image.mediaId}"]`;
    await page.waitForSelector(row);
    assert.equal(await page.textContent(`${row} .file-name`), "sale-banner.png");
    assert.equal(await page.textContent(`${row} .kind`), "image");
    assert.equal(await page.getAttribute(`${row} .size`, "title"), `${PNG.length} bytes`);
    assert.notEqual(await page.textContent(`${row} .created`), "");
    await browser.shot("media-library");

    // A second file, deleted again: the list and the API lose it.
    const pdf = Buffer.concat([
      Buffer.from("%PDF-1.4\n"),
      Buffer.alloc(2_000, 0x41),
      Buffer.from("\n%%EOF\n"),
    ]);
    await page.setInputFiles(".media-form input[name=file]", {
      name: "terms.pdf",
      mimeType: "application/pdf",
      buffer: pdf,
    });
    await page.click(".media-form button[type=submit]");
    await page.waitForSelector('#media tr[data-kind="document"]');
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click('#media tr[data-kind="document"] button.delete');
    await page.waitForSelector('#media tr[data-kind="document"]', { state: "detached" });
    const left = ((await (await platform.api("/api/media")).json()) as { items: MediaView[] }).items;
    assert.deepEqual(
      left.map((m) => m.mediaId),
      [image.mediaId],
    );
  });

  it("schedules an image blast with two variants in another zone, shows its countdown, and starts it now", async () => {
    await page.goto(`${platform.baseUrl}/console#blasts`);
    await page.waitForSelector(".blast-form input[name=sessionIds]:checked");
    // The library's file is offered by the form, without uploading it again.
    await page.waitForSelector(`.blast-form select[name=mediaId] option[value="${image.mediaId}"]`, {
      state: "attached",
    });
    await chooseRecipients(page, 610);
    await page.fill(".blast-form textarea[name=message]", VARIANTS[0]!);
    await page.click(".blast-form .add-variant");
    await page.fill(".blast-form .variant textarea[name=variantText]", VARIANTS[1]!);
    await page.selectOption(".blast-form select[name=mediaId]", image.mediaId);
    await preview(page);

    // The next whole minute at least 40 s away, as a wall clock in Jakarta: what a person there types.
    const startAt = new Date(Math.ceil((Date.now() + 40_000) / 60_000) * 60_000);
    const jakartaClock = wallClockIn(startAt, BLAST_ZONE);
    await page.check(".blast-form input[name=when][value=schedule]");
    assert.equal(
      await page.inputValue(".blast-form select[name=timeZone]"),
      VIEWER_ZONE,
      "the zone defaults to the viewer's",
    );
    await page.fill(".blast-form input[name=sendAt]", jakartaClock);
    await page.selectOption(".blast-form select[name=timeZone]", BLAST_ZONE);
    assert.equal(await page.textContent(".blast-form button.send"), "Schedule blast");
    const created = await submit(page);
    const blastId = /Blast (\S+) scheduled for /.exec(created)?.[1];
    assert.ok(blastId, created);

    // The API has it as scheduled, at the instant meant, with its image and both variants.
    const view = await blast(blastId);
    assert.equal(view.status, "scheduled", JSON.stringify(view));
    assert.equal(new Date(view.scheduledFor ?? "").getTime(), startAt.getTime(), view.scheduledFor);
    assert.equal(view.timeZone, BLAST_ZONE);
    assert.equal(view.media?.mediaId, image.mediaId);
    assert.deepEqual(
      view.variants?.map((v) => v.text),
      VARIANTS,
    );
    assert.equal(view.sent, 0, "nothing is sent before its time");

    // The card counts down, and gives the start in New York and in Jakarta.
    const card = `[data-blast="${blastId}"]`;
    await page.waitForSelector(`${card}[data-status=scheduled] .countdown`);
    assert.equal(await page.textContent(`${card} .status`), "scheduled");
    const countdown = /^starts in (?:(\d+) min )?(\d+) s$/;
    const secondsLeft = async () => {
      const match = countdown.exec((await page.textContent(`${card} .countdown`)) ?? "");
      assert.ok(match, "a countdown");
      return Number(match[1] ?? 0) * 60 + Number(match[2]);
    };
    const first = await secondsLeft();
    assert.ok(first > 0 && first <= 100, `${first} s left`);
    await page.waitForFunction(([selector, text]) => document.querySelector(selector)?.textContent !== text, [
      `${card} .countdown`,
      await page.textContent(`${card} .countdown`),
    ] as const);
    assert.ok((await secondsLeft()) < first, "the countdown runs");
    assert.equal(
      await page.textContent(`${card} .local-time`),
      `${wallClockIn(startAt, VIEWER_ZONE).replace("T", " ")} ${VIEWER_ZONE}`,
    );
    assert.equal(
      await page.textContent(`${card} .blast-zone-time`),
      ` (${jakartaClock.replace("T", " ")} ${BLAST_ZONE})`,
    );
    assert.equal(await page.getAttribute(`${card} .blast-media`, "data-media"), image.mediaId);
    assert.deepEqual(
      await page.$$eval(`${card} .template-variant .template`, (qs) => qs.map((q) => q.textContent)),
      VARIANTS,
    );
    assert.equal(await page.isHidden(`${card} progress`), true, "no progress before the start");
    await browser.shot("blast-scheduled");

    // Started now rather than at its time: the countdown gives way to the progress.
    await startNow(page, card);
    assert.equal(await page.isVisible(`${card} .countdown`), false);
    await page.waitForSelector(`${card}[data-status=completed]`, { timeout: 60_000 });
    const final = await untilBlastCompleted(platform, blastId);
    assert.equal(final.sent, 3);
    assert.equal(await page.textContent(`${card} [data-count=sent]`), "3");
    assert.equal(await page.isVisible(`${card} progress`), true);
    await browser.shot("blast-scheduled-started");

    // Each guest got the image, captioned with one of the two variants.
    const sent = (await outbox(platform.outboxPath)).filter((l) => l.to.startsWith("+1202555061"));
    assert.equal(sent.length, 3);
    for (const line of sent) {
      assert.equal(line.media?.mediaId, image.mediaId);
      assert.match(line.text, /^(Hello Guest \d, the sale starts now|Hi Guest \d, our sale has started)$/);
    }
  });

  it("saves a draft, edits its message, and starts it", async () => {
    // A new page: the form keeps the last blast's variants, which this one does not have.
    await page.goto(`${platform.baseUrl}/console#blasts`);
    await page.reload();
    await page.waitForSelector(".blast-form input[name=sessionIds]:checked");
    await chooseRecipients(page, 620);
    await page.fill(".blast-form textarea[name=message]", "Draft for {name}");
    // Its own frequency cap, sent as the JSON string a multipart form carries.
    await page.selectOption(".blast-form select[name=frequencyCapMode]", "custom");
    await page.fill(".blast-form input[name=frequencyCapMax]", "5");
    await page.fill(".blast-form input[name=frequencyCapHours]", "48");
    await preview(page);
    await page.check(".blast-form input[name=when][value=draft]");
    assert.equal(await page.textContent(".blast-form button.send"), "Save draft");
    const created = await submit(page);
    const blastId = /Blast (\S+) saved as a draft/.exec(created)?.[1];
    assert.ok(blastId, created);
    const draft = await blast(blastId);
    assert.equal(draft.status, "draft");
    assert.deepEqual(draft.frequencyCap, { max: 5, periodHours: 48 });

    const card = `[data-blast="${blastId}"]`;
    await page.waitForSelector(`${card}[data-status=draft]`);
    assert.equal(await page.textContent(`${card} .status`), "draft");
    assert.match((await page.textContent(`${card} .schedule`)) ?? "", /^Draft/);

    await page.click(`${card} button.edit`);
    const editor = `${card} .blast-editor`;
    await page.waitForSelector(`${editor} input[name=sessionIds]:checked`);
    assert.equal(await page.inputValue(`${editor} textarea[name=message]`), "Draft for {name}");
    await page.fill(`${editor} textarea[name=message]`, "Edited for {name}");
    await page.click(`${editor} button.save-edit`);
    await page.waitForSelector(`${card} .notice[data-kind]`);
    const notices = await page.$$eval(`${card} .notice[data-kind]`, (ps) =>
      ps.map((p) => `${p.getAttribute("data-kind")}: ${p.textContent}`),
    );
    assert.deepEqual(notices, ["ok: Saved."]);
    assert.equal(await page.isVisible(editor), false, "the editor closes once saved");
    assert.equal(await page.textContent(`${card} blockquote.template`), "Edited for {name}");
    const edited = await blast(blastId);
    assert.equal(edited.status, "draft");
    assert.equal(edited.template, "Edited for {name}");
    await browser.shot("blast-draft-edited");

    await startNow(page, card);
    await page.waitForSelector(`${card}[data-status=completed]`, { timeout: 60_000 });
    assert.equal((await untilBlastCompleted(platform, blastId)).sent, 3);
    const sent = (await outbox(platform.outboxPath)).filter((l) => l.to.startsWith("+1202555062"));
    assert.deepEqual(sent.map((l) => l.text).sort(), [
      "Edited for Guest 0",
      "Edited for Guest 1",
      "Edited for Guest 2",
    ]);
    await browser.shot("blast-draft-started");
  });

  it("follows a scheduled blast that starts by itself: the countdown gives way to its progress", async () => {
    // Given through the API with its offset, to the second, so the wait is short.
    const startAt = new Date(Math.ceil((Date.now() + 15_000) / 1000) * 1000);
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        sessionId: "s1",
        message: "On time, {name}",
        recipients: [0, 1, 2].map((i) => ({ phone: `+1202555063${i}`, name: `Guest ${i}` })),
        sendAt: startAt.toISOString(),
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { blastId, status } = (await res.json()) as { blastId: string; status: string };
    assert.equal(status, "scheduled");
    await page.goto(`${platform.baseUrl}/console#blasts`);
    await page.reload();
    const card = `[data-blast="${blastId}"]`;
    await page.waitForSelector(`${card}[data-status=scheduled] .countdown`);
    // No zone of its own: the start is shown in the viewer's only.
    assert.equal(
      await page.textContent(`${card} .local-time`),
      `${wallClockIn(startAt, VIEWER_ZONE).replace("T", " ")} ${VIEWER_ZONE}`,
    );
    assert.equal(await page.$(`${card} .blast-zone-time`), null);
    // The card is drawn once; still carrying this mark at the end, it was updated by its socket.
    await page.$eval(card, (node) => node.setAttribute("data-drawn-once", ""));
    await page.waitForSelector(`${card}[data-status=completed]`, { timeout: 60_000 });
    assert.equal(await page.getAttribute(card, "data-drawn-once"), "", "the socket told the start");
    assert.equal(await page.isVisible(`${card} .countdown`), false);
    assert.equal(await page.textContent(`${card} [data-count=sent]`), "3");
    assert.ok(Date.now() >= startAt.getTime(), "not before its time");
    await browser.shot("blast-scheduled-started-by-itself");
  });

  it("schedules a draft from the editor in another zone, makes it a draft again, and closes the editor when it starts", async () => {
    const res = await platform.api("/api/blasts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        sessionId: "s1",
        message: "Later, {name}",
        recipients: [0, 1].map((i) => ({ phone: `+1202555064${i}`, name: `Guest ${i}` })),
        draft: true,
      }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { blastId } = (await res.json()) as { blastId: string };
    await page.goto(`${platform.baseUrl}/console#blasts`);
    await page.reload();
    const card = `[data-blast="${blastId}"]`;
    const editor = `${card} .blast-editor`;
    const save = async () => {
      await page.click(`${editor} button.save-edit`);
      await page.waitForSelector(`${card} .notice[data-kind]`);
      assert.equal(await page.textContent(`${card} .notice`), "Saved.");
      assert.equal(await page.isVisible(editor), false);
    };

    // Scheduled from the editor, two hours ahead as a wall clock in Jakarta.
    const startAt = new Date(Math.ceil((Date.now() + 2 * 3_600_000) / 60_000) * 60_000);
    await page.click(`${card} button.edit`);
    await page.waitForSelector(`${editor} input[name=sessionIds]:checked`);
    await page.check(`${editor} input[value=schedule]`);
    await page.fill(`${editor} input[name=editSendAt]`, wallClockIn(startAt, BLAST_ZONE));
    await page.selectOption(`${editor} select[name=editTimeZone]`, BLAST_ZONE);
    await save();
    await page.waitForSelector(`${card}[data-status=scheduled] .countdown`);
    assert.match(
      (await page.textContent(`${card} .countdown`)) ?? "",
      /^starts in (1 h 59|2 h 00) min \d\d s$/,
    );
    const scheduled = await blast(blastId);
    assert.equal(scheduled.status, "scheduled");
    assert.equal(new Date(scheduled.scheduledFor ?? "").getTime(), startAt.getTime());
    assert.equal(scheduled.timeZone, BLAST_ZONE);
    assert.equal(
      await page.textContent(`${card} .blast-zone-time`),
      ` (${wallClockIn(startAt, BLAST_ZONE).replace("T", " ")} ${BLAST_ZONE})`,
    );
    await browser.shot("blast-rescheduled");

    // The editor shows the time in the blast's zone; back to a draft, it has none.
    await page.click(`${card} button.edit`);
    await page.waitForSelector(`${editor} input[name=sessionIds]:checked`);
    assert.equal(await page.inputValue(`${editor} input[name=editSendAt]`), wallClockIn(startAt, BLAST_ZONE));
    assert.equal(await page.inputValue(`${editor} select[name=editTimeZone]`), BLAST_ZONE);
    await page.check(`${editor} input[value=draft]`);
    await save();
    await page.waitForSelector(`${card}[data-status=draft]`);
    assert.equal((await blast(blastId)).status, "draft");

    // Started elsewhere while its editor is open: the editor goes, saying why.
    await page.click(`${card} button.edit`);
    await page.waitForSelector(`${editor} input[name=sessionIds]:checked`);
    const started = await platform.api(`/api/blasts/${blastId}/start`, { method: "POST" });
    assert.equal(started.status, 202, await started.clone().text());
    await page.waitForSelector(`${card}:is([data-status=running], [data-status=completed])`);
    assert.equal(await page.isVisible(editor), false);
    assert.match((await page.textContent(`${card} .notice`)) ?? "", /now: it can no longer be edited\.$/);
    // What the editor would have met: the gateway refuses the edit of a started blast.
    const late = await platform.api(`/api/blasts/${blastId}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "Too late, {name}" }),
    });
    assert.equal(late.status, 409, await late.clone().text());
  });
});

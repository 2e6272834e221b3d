// A real headless Chromium for the console's browser tests: Debian's package driven by
// playwright-core, so nothing downloads a browser of its own. Screenshots go to test-artifacts/.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { TEST_API_KEY, type Platform } from "./platform.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;

export interface ConsoleBrowser {
  readonly page: Page;
  /** Signs in with the test API key and waits for the console. */
  signIn(platform: Pick<Platform, "baseUrl">): Promise<void>;
  /** A full-page screenshot, as test-artifacts/console-<name>.png. */
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Launches Chromium on a throw-away profile with one page. Call it before starting anything else:
 * a machine without Chromium fails at once, saying how to install it.
 */
export async function openConsoleBrowser(): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the browser tests need Debian's chromium package ` +
        "(`sudo apt-get install -y chromium`, or `make system-deps`), or CHROMIUM_PATH set to a Chromium binary",
    );
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const profileDir = await mkdtemp(join(tmpdir(), "wa-blast-chromium-"));
  const context = await chromium
    .launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      // The sandbox needs privileges a test runner's container may lack; the rest keep Chromium
      // from going online by itself while a test runs.
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 900 },
    })
    .catch(async (err: unknown) => {
      await rm(profileDir, { recursive: true, force: true });
      throw err;
    });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  return {
    page,
    async signIn(platform) {
      await page.goto(`${platform.baseUrl}/signin?next=/console`);
      await page.fill("#api-key", TEST_API_KEY);
      await page.click("button[type=submit]");
      await page.waitForURL(/\/console$/);
    },
    async shot(name) {
      await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}

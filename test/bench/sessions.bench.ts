// What holding sessions costs one sender: its RSS and idle CPU with 500 sim sessions open, and
// the RSS each real Baileys session adds, linked by QR against the fake WhatsApp server.
import { startFakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import type { Platform } from "../harness/platform.ts";
import { startServers } from "../harness/servers.ts";
import { hasStatus, isQr, watchSession } from "../harness/sessionWatch.ts";
import {
  coreShareDuring,
  log,
  memoryOf,
  pidOf,
  sessionIds,
  sleep,
  startBenchPlatform,
  waitForOpenSessions,
} from "./benchSupport.ts";

/** Time for start-up work to finish before memory is read. */
const SETTLE_MS = 5000;

/** Lets the benchmark ask a service for a full GC before reading its RSS (see gcOnSignal.mjs). */
const gcOnSignalEnv = {
  NODE_OPTIONS: `--import ${new URL("./gcOnSignal.mjs", import.meta.url).pathname}`,
};

/** RSS after a full garbage collection in the child. */
async function liveRssMb(pid: number): Promise<number> {
  process.kill(pid, "SIGUSR2");
  await sleep(1000);
  return memoryOf(pid).rssMb;
}

export interface SimSessionsResult {
  readonly sessions: number;
  readonly rssMb: number;
  readonly idleCoreShare: number;
}

export async function measureSimSessions(sessions: number, idleSeconds: number): Promise<SimSessionsResult> {
  const servers = await startServers();
  const platform = await startBenchPlatform(servers, {
    SESSION_IDS: sessionIds(sessions).join(","),
    ...gcOnSignalEnv,
  });
  try {
    await platform.start("gateway");
    await platform.start("sender");
    await waitForOpenSessions(platform, sessions, 300_000);
    await sleep(SETTLE_MS);
    const sender = pidOf(platform, "sender");
    const idleCoreShare = await coreShareDuring(sender, () => sleep(idleSeconds * 1000));
    const result = { sessions, rssMb: await liveRssMb(sender), idleCoreShare };
    log(
      `${sessions} sim sessions: RSS ${Math.round(result.rssMb)} MB, idle ${result.idleCoreShare.toFixed(1)}% of a core`,
    );
    return result;
  } finally {
    await platform.stop();
    await servers.dispose();
  }
}

export interface BaileysSessionsResult {
  readonly sessions: number;
  readonly rssOneSessionMb: number;
  readonly rssAllSessionsMb: number;
  readonly perSessionMb: number;
  readonly idleCoreShare: number;
}

async function link(
  platform: Platform,
  scan: (qr: string, phone: string) => Promise<unknown>,
  sessionId: string,
  phone: string,
): Promise<void> {
  const watch = await watchSession(platform, sessionId);
  try {
    const qr = await watch.next(isQr, { timeoutMs: 60_000 });
    const from = watch.received.length;
    await scan(qr.qr, phone);
    await watch.next(hasStatus("open"), { from, timeoutMs: 60_000 });
  } finally {
    watch.close();
  }
}

/** One linked session first, then `sessions - 1` more added through the API: the RSS difference per added session. */
export async function measureBaileysSessions(
  sessions: number,
  idleSeconds: number,
): Promise<BaileysSessionsResult> {
  const servers = await startServers();
  const wa = await startFakeWhatsApp();
  const platform = await startBenchPlatform(servers, {
    WA_TRANSPORT: "baileys",
    WA_WEBSOCKET_URL: wa.url,
    SESSION_IDS: "s1",
    ...gcOnSignalEnv,
  });
  const scan = (qr: string, phone: string) => wa.scanQr(qr, phone);
  const phone = (i: number) => `+1555${String(1_000_000 + i).slice(1)}`;
  try {
    await platform.start("gateway");
    await platform.start("sender");
    await link(platform, scan, "s1", phone(1));
    await sleep(SETTLE_MS);
    const sender = pidOf(platform, "sender");
    const rssOneSessionMb = await liveRssMb(sender);
    const more = sessionIds(sessions).slice(1);
    for (const sessionId of more) {
      const res = await platform.api("/api/sessions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sessionId }),
      });
      if (!res.ok) throw new Error(`POST /api/sessions answered ${res.status}: ${await res.text()}`);
    }
    // Linked a few at a time: each link is a QR, a scan, and the restart WhatsApp asks for (515).
    const LINKS_AT_ONCE = 5;
    for (let i = 0; i < more.length; i += LINKS_AT_ONCE) {
      await Promise.all(
        more.slice(i, i + LINKS_AT_ONCE).map((id, j) => link(platform, scan, id, phone(i + j + 2))),
      );
    }
    await waitForOpenSessions(platform, sessions);
    await sleep(SETTLE_MS);
    const idleCoreShare = await coreShareDuring(sender, () => sleep(idleSeconds * 1000));
    const rssAllSessionsMb = await liveRssMb(sender);
    const result: BaileysSessionsResult = {
      sessions,
      rssOneSessionMb,
      rssAllSessionsMb,
      perSessionMb: (rssAllSessionsMb - rssOneSessionMb) / (sessions - 1),
      idleCoreShare,
    };
    log(`${sessions} Baileys sessions: ${result.perSessionMb.toFixed(1)} MB each`);
    return result;
  } finally {
    await platform.stop();
    await wa.close();
    await servers.dispose();
  }
}

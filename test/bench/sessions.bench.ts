// What holding sessions costs one sender: its RSS and idle CPU with 500 sim sessions open, and
// the RSS and heap each real Baileys session adds, linked by QR against the fake WhatsApp server
// with and without the history sync a real account pushes to a newly linked device.
import { startFakeWhatsApp, type FakeWhatsApp } from "../fakeWhatsApp/fakeWhatsAppServer.ts";
import { REALISTIC_HISTORY } from "../fakeWhatsApp/historySync.ts";
import type { Platform } from "../harness/platform.ts";
import { freePort, startServers } from "../harness/servers.ts";
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
  /** Whether the fake pushed each newly linked device the realistic history (REALISTIC_HISTORY). */
  readonly history: boolean;
  /** The sender with no session, after a full GC. */
  readonly before: SenderMemory;
  /** The sender with every session open and every history push confirmed, after a full GC. */
  readonly after: SenderMemory;
  /** The sender's peak RSS (VmHWM) over the whole run: history is decoded while it arrives. */
  readonly peakRssMb: number;
  /** (after - before) / sessions: counts Baileys' one-off start-up against the sessions too. */
  readonly rssPerSessionMb: number;
  readonly heapUsedPerSessionMb: number;
  /** History chunks the fake pushed, and those the sessions confirmed with `hist_sync` receipts. */
  readonly historyChunksPushed: number;
  readonly historyChunksConfirmed: number;
  /** From the first session added to every session open and every history push confirmed. */
  readonly linkSeconds: number;
  readonly idleCoreShare: number;
}

/** What the sender holds: RSS from /proc, V8's heap and the memory outside it (Buffers) from its metrics. */
export interface SenderMemory {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly externalMb: number;
}

/** Adds the session through the API and links it: a QR, the phone's scan, the restart WhatsApp asks for (515). */
async function addAndLink(
  platform: Platform,
  scan: (qr: string, phone: string) => Promise<unknown>,
  sessionId: string,
  phone: string,
): Promise<void> {
  const res = await platform.api("/api/sessions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sessionId }),
  });
  if (!res.ok) throw new Error(`POST /api/sessions answered ${res.status}: ${await res.text()}`);
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

/** One prom-client gauge from the sender's /metrics, in MB. */
function gaugeMb(metrics: string, name: string): number {
  const value = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metrics)?.[1];
  return Number(value ?? Number.NaN) / 1024 / 1024;
}

/** RSS, heap and external memory after a full GC in the sender. */
async function senderMemory(platform: Platform, pid: number, metricsPort: number): Promise<SenderMemory> {
  const rssMb = await liveRssMb(pid);
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: platform.authHeaders });
  if (!res.ok) throw new Error(`sender /metrics answered ${res.status}`);
  const metrics = await res.text();
  return {
    rssMb,
    heapUsedMb: gaugeMb(metrics, "nodejs_heap_size_used_bytes"),
    externalMb: gaugeMb(metrics, "nodejs_external_memory_bytes"),
  };
}

/** Until every account's phone has pushed its history and the linked device confirmed every chunk. */
async function waitForHistory(
  wa: FakeWhatsApp,
  phones: readonly string[],
  timeoutMs: number,
): Promise<{ pushed: number; confirmed: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let pushed = 0;
    let confirmed = 0;
    let done = true;
    for (const phone of phones) {
      const pushes = wa.historySyncs(phone);
      if (pushes.length === 0) done = false;
      for (const push of pushes) {
        pushed += push.ids.length;
        confirmed += push.confirmed;
        if (push.ids.length === 0 || push.confirmed < push.ids.length) done = false;
      }
    }
    if (done) return { pushed, confirmed };
    if (Date.now() > deadline) {
      throw new Error(`history not confirmed in ${timeoutMs} ms: ${confirmed} of ${pushed} chunks`);
    }
    await sleep(250);
  }
}

/**
 * The sender started with no session, then `sessions` sessions added through the API and linked by
 * QR against the fake WhatsApp server, which pushes each newly linked device the realistic history
 * (or none, with `history: false`): the RSS and heap the sessions add, divided by their count.
 */
export async function measureBaileysSessions(
  sessions: number,
  idleSeconds: number,
  { history }: { history: boolean },
): Promise<BaileysSessionsResult> {
  const servers = await startServers();
  const wa = await startFakeWhatsApp({ historySync: history ? REALISTIC_HISTORY : false });
  const metricsPort = await freePort();
  const platform = await startBenchPlatform(servers, {
    WA_TRANSPORT: "baileys",
    WA_WEBSOCKET_URL: wa.url,
    SESSION_IDS: "",
    SENDER_METRICS_PORT: String(metricsPort),
    ...gcOnSignalEnv,
  });
  const scan = (qr: string, phone: string) => wa.scanQr(qr, phone);
  const phones = Array.from({ length: sessions }, (_, i) => `+1555${String(1_000_000 + i + 1).slice(1)}`);
  const ids = sessionIds(sessions);
  try {
    await platform.start("gateway");
    await platform.start("sender");
    await sleep(SETTLE_MS);
    const sender = pidOf(platform, "sender");
    const before = await senderMemory(platform, sender, metricsPort);
    const linkStarted = performance.now();
    // A few at a time, each added just before its scan: a QR left unscanned expires (408).
    const LINKS_AT_ONCE = 10;
    for (let i = 0; i < ids.length; i += LINKS_AT_ONCE) {
      await Promise.all(
        ids.slice(i, i + LINKS_AT_ONCE).map((id, j) => addAndLink(platform, scan, id, phones[i + j] ?? "")),
      );
      log(
        `linked ${Math.min(ids.length, i + LINKS_AT_ONCE)} sessions in ${((performance.now() - linkStarted) / 1000).toFixed(0)} s`,
      );
    }
    await waitForOpenSessions(platform, sessions, 300_000);
    const chunks = history ? await waitForHistory(wa, phones, 300_000) : { pushed: 0, confirmed: 0 };
    const linkSeconds = (performance.now() - linkStarted) / 1000;
    await sleep(SETTLE_MS);
    const idleCoreShare = await coreShareDuring(sender, () => sleep(idleSeconds * 1000));
    const after = await senderMemory(platform, sender, metricsPort);
    const result: BaileysSessionsResult = {
      sessions,
      history,
      before,
      after,
      peakRssMb: memoryOf(sender).peakRssMb,
      rssPerSessionMb: (after.rssMb - before.rssMb) / sessions,
      heapUsedPerSessionMb: (after.heapUsedMb - before.heapUsedMb) / sessions,
      historyChunksPushed: chunks.pushed,
      historyChunksConfirmed: chunks.confirmed,
      linkSeconds,
      idleCoreShare,
    };
    log(
      `${sessions} Baileys sessions, history ${history ? "on" : "off"}: RSS ${Math.round(before.rssMb)} → ` +
        `${Math.round(after.rssMb)} MB (${result.rssPerSessionMb.toFixed(1)} MB each), heap ` +
        `${Math.round(before.heapUsedMb)} → ${Math.round(after.heapUsedMb)} MB ` +
        `(${result.heapUsedPerSessionMb.toFixed(1)} MB each), external ${Math.round(before.externalMb)} → ` +
        `${Math.round(after.externalMb)} MB, peak RSS ${Math.round(result.peakRssMb)} MB, ` +
        `${chunks.confirmed}/${chunks.pushed} history chunks confirmed, ${linkSeconds.toFixed(0)} s to link`,
    );
    return result;
  } finally {
    await platform.stop();
    await wa.close();
    await servers.dispose();
  }
}

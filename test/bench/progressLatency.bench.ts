// Progress latency: for each send (its line in the sim outbox, stamped when the send resolved),
// the time until a `blast_progress` counting it reaches a WebSocket client; and what watching
// costs the gateway: its CPU while a blast runs with 1,000 sockets on it, minus the same blast
// with one socket.
import { writeFileSync } from "node:fs";
import WebSocket from "ws";
import { outbox } from "../harness/inspect.ts";
import type { Platform } from "../harness/platform.ts";
import { startServers } from "../harness/servers.ts";
import {
  coreShareDuring,
  log,
  percentile,
  pidOf,
  postJsonBlast,
  recipientsOf,
  startBenchPlatform,
  waitForCompletion,
} from "./benchSupport.ts";

interface ProgressMessage {
  readonly type: string;
  readonly sent: number;
  readonly status: string;
}

interface Watcher {
  readonly received: Array<{ at: number; sent: number }>;
  readonly socket: WebSocket;
}

async function watch(platform: Platform, blastId: string): Promise<Watcher> {
  const socket = new WebSocket(`${platform.wsUrl}/?blastId=${blastId}`, { headers: platform.authHeaders });
  const received: Watcher["received"] = [];
  socket.on("message", (raw) => {
    const message = JSON.parse(String(raw)) as ProgressMessage;
    if (message.type === "blast_progress") received.push({ at: Date.now(), sent: message.sent });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { received, socket };
}

export interface ProgressLatencyResult {
  readonly messages: number;
  readonly sockets: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Gateway CPU while the blast ran, in % of one core. */
  readonly gatewayCoreShareOneSocket: number;
  readonly gatewayCoreShareManySockets: number;
}

/**
 * The blast is queued while no sender runs, the sockets are opened, then a sender starts it, so
 * every socket sees the whole blast. Returns the latencies seen by the first socket.
 */
async function runBlast(
  platform: Platform,
  sockets: number,
  messages: number,
): Promise<{ latenciesMs: number[]; coreShare: number }> {
  writeFileSync(platform.outboxPath, "");
  const blastId = await postJsonBlast(platform, "s1", recipientsOf(messages));
  const watchers: Watcher[] = [];
  for (let i = 0; i < sockets; i++) watchers.push(await watch(platform, blastId));
  const gateway = pidOf(platform, "gateway");
  const coreShare = await coreShareDuring(gateway, async () => {
    const sender = await platform.start("sender");
    await waitForCompletion(platform, [blastId], 300_000);
    await platform.kill(sender, "SIGTERM");
  });
  const first = watchers[0] as Watcher;
  const sendTimes = (await outbox(platform.outboxPath))
    .map((line) => Date.parse(line.at))
    .sort((a, b) => a - b);
  const latenciesMs: number[] = [];
  sendTimes.forEach((sentAt, i) => {
    const seen = first.received.find((m) => m.sent >= i + 1);
    if (seen) latenciesMs.push(seen.at - sentAt);
  });
  for (const w of watchers) w.socket.close();
  if (latenciesMs.length !== messages)
    throw new Error(`${latenciesMs.length} of ${messages} sends seen on the socket`);
  return { latenciesMs, coreShare };
}

export async function measureProgressLatency(
  messages: number,
  sockets: number,
): Promise<ProgressLatencyResult> {
  const servers = await startServers();
  // A little latency spreads the sends over the blast as a paced session would, instead of one burst.
  const platform = await startBenchPlatform(servers, { SIM_LATENCY_MS: "2" });
  try {
    await platform.start("gateway");
    await platform.start("projector");
    const one = await runBlast(platform, 1, messages);
    const many = await runBlast(platform, sockets, messages);
    const latencies = [...one.latenciesMs, ...many.latenciesMs];
    const result: ProgressLatencyResult = {
      messages,
      sockets,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      gatewayCoreShareOneSocket: one.coreShare,
      gatewayCoreShareManySockets: many.coreShare,
    };
    log(`progress latency p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms`);
    return result;
  } finally {
    await platform.stop();
    await servers.dispose();
  }
}

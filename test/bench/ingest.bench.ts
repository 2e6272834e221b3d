// Ingest: a generated .xlsx or .csv of N recipients uploaded to POST /api/blasts. The gateway
// publishes every recipient's work (awaiting JetStream's acks) before it answers 202, so the
// time to the 202 is the time until all work is durable. Alongside: the gateway's peak RSS
// (VmHWM of a gateway started for this one upload), how late its event loop ran while importing
// (a /healthz probe every 25 ms from outside, and prom-client's own lag gauges), and the bound to
// compare with: parsing the same file in-process plus raw JetStream publishes of as many messages.
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import * as XLSX from "xlsx";
import { newId } from "../../shared/domain/ids.ts";
import { readRecipientsFile } from "../../shared/import/recipientsFile.ts";
import { connectNats, ensureStreams } from "../../shared/nats/connection.ts";
import { subjects } from "../../shared/nats/topology.ts";
import type { Platform } from "../harness/platform.ts";
import { startNats, startServers } from "../harness/servers.ts";
import { parsePrometheus } from "../harness/prometheusText.ts";
import {
  benchEnv,
  log,
  memoryOf,
  percentile,
  phoneOf,
  pidOf,
  sleep,
  startBenchPlatform,
  TEMPLATE,
} from "./benchSupport.ts";
import { publishRaw } from "./ceiling.bench.ts";

export type IngestFormat = "csv" | "xlsx";

export interface IngestFiles {
  readonly dir: string;
  readonly rows: number;
  readonly csvPath: string;
  readonly xlsxPath: string;
  readonly generateSeconds: { csv: number; xlsx: number };
}

const CSV_CHUNK_ROWS = 10_000;

/** Writes the CSV as a stream and builds the .xlsx with SheetJS in dense mode (the sparse mode runs out of time at 1M rows). */
export async function generateFiles(rows: number): Promise<IngestFiles> {
  const dir = await mkdtemp(join(tmpdir(), "wa-blast-ingest-"));
  const csvPath = join(dir, `recipients-${rows}.csv`);
  const xlsxPath = join(dir, `recipients-${rows}.xlsx`);
  let started = performance.now();
  const csv = createWriteStream(csvPath);
  csv.write("phone,name\n");
  for (let from = 0; from < rows; from += CSV_CHUNK_ROWS) {
    let chunk = "";
    for (let i = from; i < Math.min(rows, from + CSV_CHUNK_ROWS); i++) chunk += `${phoneOf(i)},Person${i}\n`;
    if (!csv.write(chunk)) await once(csv, "drain");
  }
  csv.end();
  await once(csv, "finish");
  const csvSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const table: string[][] = [["phone", "name"]];
  for (let i = 0; i < rows; i++) table.push([phoneOf(i), `Person${i}`]);
  const sheet = XLSX.utils.aoa_to_sheet(table, { dense: true });
  const book = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(book, sheet, "Recipients");
  // The ESM build of SheetJS has no fs of its own: write the buffer it returns.
  await writeFile(
    xlsxPath,
    XLSX.write(book, { type: "buffer", bookType: "xlsx", compression: true }) as Buffer,
  );
  const xlsxSeconds = (performance.now() - started) / 1000;
  return { dir, rows, csvPath, xlsxPath, generateSeconds: { csv: csvSeconds, xlsx: xlsxSeconds } };
}

export async function removeFiles(files: IngestFiles): Promise<void> {
  await rm(files.dir, { recursive: true, force: true });
}

export interface IngestBaseline {
  readonly rows: number;
  readonly parseSeconds: { csv: number; xlsx: number };
  readonly rawPublishSeconds: number;
}

/** What the import cannot beat: the file parsed in this process, and raw publishes of as many messages. */
export async function measureBaseline(files: IngestFiles): Promise<IngestBaseline> {
  const limits = { maxRows: files.rows, maxExpandedBytes: Number(benchEnv.MAX_XLSX_EXPANDED_BYTES) };
  const parseSeconds = { csv: 0, xlsx: 0 };
  for (const format of ["csv", "xlsx"] as const) {
    const path = format === "csv" ? files.csvPath : files.xlsxPath;
    const data = await readFile(path);
    const started = performance.now();
    const parsed = readRecipientsFile(path, data, "file", limits);
    parseSeconds[format] = (performance.now() - started) / 1000;
    if (parsed.length !== files.rows) throw new Error(`parsed ${parsed.length} of ${files.rows} rows`);
  }
  const server = await startNats();
  const nats = await connectNats(server.url, "bench-ingest-baseline");
  try {
    await ensureStreams(nats.jsm);
    const blastId = newId("b");
    const rawPublishSeconds = await publishRaw(nats, subjects.sendWork(blastId), blastId, files.rows);
    return { rows: files.rows, parseSeconds, rawPublishSeconds };
  } finally {
    await nats.nc.close();
    await server.dispose();
  }
}

export interface IngestResult {
  readonly rows: number;
  readonly format: IngestFormat;
  readonly seconds: number;
  readonly peakRssMb: number;
  /** Latency of /healthz probes sent every 25 ms during the import: what any other request waited. */
  readonly probeP99Ms: number;
  readonly probeMaxMs: number;
  /** prom-client's monitorEventLoopDelay gauges over the import (it resets them on every scrape). */
  readonly eventLoopLagP99Ms: number;
  readonly eventLoopLagMaxMs: number;
  /** Set when the gateway refused or failed the upload: what it said; the figures are up to then. */
  readonly error?: string;
}

async function lagGauges(platform: Platform): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await platform.api("/metrics")).text();
  const { samples } = parsePrometheus(text);
  const value = (name: string) => (samples.find((s) => s.name === name)?.value ?? Number.NaN) * 1000;
  return {
    p99Ms: value("nodejs_eventloop_lag_p99_seconds"),
    maxMs: value("nodejs_eventloop_lag_max_seconds"),
  };
}

/** Probes /healthz back to back, 25 ms apart, until `stop` resolves; returns each probe's latency. */
async function probeWhile(platform: Platform, stop: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let stopped = false;
  void stop.finally(() => (stopped = true));
  while (!stopped) {
    const started = performance.now();
    const answered = await fetch(`${platform.baseUrl}/healthz`)
      .then((r) => r.arrayBuffer())
      .then(
        () => true,
        () => false,
      );
    // A gateway that died mid-import fails the upload itself; the probe only stops.
    if (!answered) break;
    latencies.push(performance.now() - started);
    await sleep(25);
  }
  return latencies;
}

/**
 * One upload (or `copies` of it at once) to a gateway started for it alone, so its VmHWM is this
 * import's peak. `seconds` runs until the last 202.
 */
export async function measureIngest(
  files: IngestFiles,
  format: IngestFormat,
  gatewayEnv: Record<string, string> = {},
  copies = 1,
  /** `preview` reads and plans the file without queueing anything (200 instead of 202). */
  mode: "start" | "preview" = "start",
): Promise<IngestResult> {
  const servers = await startServers();
  const platform = await startBenchPlatform(servers);
  try {
    // Warnings only: the probes would push the import's own log lines out of the kept tail.
    const gateway = await platform.start("gateway", { LOG_LEVEL: "warn", ...gatewayEnv });
    const pid = pidOf(platform, "gateway");
    const path = format === "csv" ? files.csvPath : files.xlsxPath;
    const data = await readFile(path);
    const form = new FormData();
    form.set("sessionId", "s1");
    form.set("message", TEMPLATE);
    form.set("recipientsFile", new Blob([data]), `recipients.${format}`);
    await lagGauges(platform);
    const started = performance.now();
    const uploads = Array.from({ length: copies }, async () => {
      const path = mode === "preview" ? "/api/blasts/preview" : "/api/blasts";
      const res = await platform.api(path, { method: "POST", body: form }).catch((err: unknown) => {
        throw new Error(`upload failed (${String(err)}); gateway said: ${gateway.output().slice(-1500)}`);
      });
      const body = await res.text();
      if (res.status !== (mode === "preview" ? 200 : 202)) {
        const logged = /"err":\{"type":"(\w+)","message":"([^"]*)"/.exec(gateway.output());
        return `HTTP ${res.status}${logged ? `: ${logged[1]}: ${logged[2]}` : `: ${body.slice(0, 200)}`}`;
      }
      const { total } = JSON.parse(body) as { total: number };
      return total === files.rows ? undefined : `queued ${total} of ${files.rows}`;
    });
    const all = Promise.all(uploads);
    const probes = probeWhile(platform, all);
    const error = (await all).find((e) => e !== undefined);
    const seconds = (performance.now() - started) / 1000;
    const latencies = await probes;
    const lag = await lagGauges(platform);
    const result: IngestResult = {
      rows: files.rows,
      format,
      seconds,
      peakRssMb: memoryOf(pid).peakRssMb,
      probeP99Ms: percentile(latencies, 99),
      probeMaxMs: Math.max(...latencies),
      eventLoopLagP99Ms: lag.p99Ms,
      eventLoopLagMaxMs: lag.maxMs,
      ...(error === undefined ? {} : { error }),
    };
    log(
      `ingest ${files.rows} ${format}${copies > 1 ? ` ×${copies} at once` : ""}: ${seconds.toFixed(1)} s, peak RSS ${Math.round(result.peakRssMb)} MB${error === undefined ? "" : `, FAILED: ${error}`}`,
    );
    return result;
  } finally {
    // A profiled gateway writes its profile only when it exits by itself.
    if (gatewayEnv.CPU_PROFILE_DIR !== undefined) {
      for (const service of platform.running()) await platform.kill(service, "SIGTERM");
    }
    await platform.stop();
    await servers.dispose();
  }
}

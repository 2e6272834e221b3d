// The original Express + BullMQ design's send loop, rebuilt as the peer to beat: one BullMQ queue
// per WhatsApp session with a worker of concurrency 1 (a session sends one message at a time),
// each job a sim send (the same zero-latency outbox line our sim transport writes), then the
// blast's counters bumped with HINCRBY and a progress snapshot published on Redis pub/sub.
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { newId } from "../../shared/domain/ids.ts";
import { startRedis } from "../harness/servers.ts";
import { cpuSecondsOf, phoneOf, serverPidOn, sessionIds, TEMPLATE } from "./benchSupport.ts";

interface PeerJob {
  readonly blastId: string;
  readonly sessionId: string;
  readonly idx: number;
  readonly phone: string;
  readonly text: string;
}

export interface PeerResult {
  readonly sessions: number;
  readonly messages: number;
  readonly messagesPerSecond: number;
  /**
   * CPU milliseconds per message of this process (queueing the jobs, then the workers; it runs
   * nothing else meanwhile) and of redis-server, from the first job queued to the last completed.
   */
  readonly cpuMsPerMessage: Readonly<Record<string, number>>;
}

/** Sends `messages` split evenly over `sessions` queues; the clock runs from the first job started to the last completed. */
export async function measureBullmqPeer(sessions: number, messages: number): Promise<PeerResult> {
  const server = await startRedis();
  const workDir = mkdtempSync(join(tmpdir(), "wa-blast-bullmq-"));
  const outboxPath = join(workDir, "outbox.jsonl");
  const connection = { host: "127.0.0.1", port: server.port, maxRetriesPerRequest: null };
  const redis = new Redis(connection);
  const queues: Queue<PeerJob>[] = [];
  const workers: Worker<PeerJob>[] = [];
  try {
    const perSession = Math.ceil(messages / sessions);
    // Queueing the jobs counts, as the gateway's import of the work does in the pipeline's figure.
    const redisPid = serverPidOn(server.port);
    const redisCpuBefore = redisPid === undefined ? Number.NaN : cpuSecondsOf(redisPid);
    const workersCpuBefore = process.cpuUsage();
    const blasts = sessionIds(sessions).map((sessionId) => ({ sessionId, blastId: newId("b") }));
    for (const { sessionId, blastId } of blasts) {
      const queue = new Queue<PeerJob>(`send-${sessionId}`, { connection });
      queues.push(queue);
      await redis.hset(`blast:${blastId}`, "total", perSession, "sent", 0, "failed", 0);
      const jobs = Array.from({ length: perSession }, (_, idx) => ({
        name: "send",
        data: {
          blastId,
          sessionId,
          idx,
          phone: phoneOf(idx),
          text: TEMPLATE.replace("{name}", `Person${idx}`),
        },
        opts: { removeOnComplete: true, removeOnFail: true },
      }));
      for (let from = 0; from < jobs.length; from += 1000) await queue.addBulk(jobs.slice(from, from + 1000));
    }
    const total = perSession * sessions;
    let firstStartedAt = 0;
    let completed = 0;
    let finish: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => (finish = resolve));
    const send = async (job: Job<PeerJob>) => {
      if (firstStartedAt === 0) firstStartedAt = performance.now();
      const { blastId, sessionId, idx, phone, text } = job.data;
      const line = {
        at: new Date().toISOString(),
        sessionId,
        messageId: `${blastId}.${idx}`,
        to: phone,
        text,
      };
      appendFileSync(outboxPath, `${JSON.stringify(line)}\n`);
      const sent = await redis.hincrby(`blast:${blastId}`, "sent", 1);
      await redis.publish(`progress:${blastId}`, JSON.stringify({ blastId, sent, total: perSession }));
    };
    for (const { sessionId } of blasts) {
      const worker = new Worker<PeerJob>(`send-${sessionId}`, send, { connection, concurrency: 1 });
      worker.on("completed", () => {
        if (++completed === total) finish();
      });
      workers.push(worker);
    }
    await allDone;
    const seconds = (performance.now() - firstStartedAt) / 1000;
    const workersCpu = process.cpuUsage(workersCpuBefore);
    const redisCpu = redisPid === undefined ? Number.NaN : cpuSecondsOf(redisPid) - redisCpuBefore;
    return {
      sessions,
      messages: total,
      messagesPerSecond: total / seconds,
      cpuMsPerMessage: {
        "bullmq process": (workersCpu.user + workersCpu.system) / 1000 / total,
        "redis-server": (redisCpu * 1000) / total,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(queues.map((q) => q.close()));
    redis.disconnect();
    await server.dispose();
    rmSync(workDir, { recursive: true, force: true });
  }
}

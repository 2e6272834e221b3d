// Wires the sender: config, NATS, Redis, the session leases, the transport, and the supervisor.
import { hostname } from "node:os";
import { ApiKeys } from "../../shared/auth/apiKeys.ts";
import {
  apiKeysOf,
  loadConfig,
  natsSecurityOf,
  pacingDefaults,
  redisTlsOf,
  replicaAcksOf,
  sendLimitDefaults,
  sessionIdsOf,
} from "../../shared/config/config.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { connectNats, ensureStreams } from "../../shared/nats/connection.ts";
import { MediaLibrary } from "../../shared/nats/mediaLibrary.ts";
import { SessionLeases } from "../../shared/nats/sessionLeases.ts";
import { onStopSignal } from "../../shared/process/stopSignals.ts";
import { connectRedis } from "../../shared/redis/connection.ts";
import { durabilityWarning } from "../../shared/redis/durability.ts";
import {
  ConsentKeywordMatcher,
  DEFAULT_OPT_IN_KEYWORDS,
  DEFAULT_OPT_OUT_KEYWORDS,
  keywordsFrom,
} from "../../shared/domain/consentKeywords.ts";
import { Conversations } from "../../shared/redis/conversations.ts";
import { IdempotencyRecords } from "../../shared/redis/idempotency.ts";
import { BlastProjection } from "../../shared/redis/projection.ts";
import { SessionRegistry } from "../../shared/redis/sessions.ts";
import { SuppressionList } from "../../shared/redis/suppression.ts";
import { InboundLog } from "./inbound/inboundLog.ts";
import { InboundProcessor } from "./inbound/inboundProcessor.ts";
import { requestPacedReply } from "./sessions/sessionCommands.ts";
import { serveMetrics } from "../../shared/metrics/metricsServer.ts";
import { NumberCheck } from "./numberCheck.ts";
import { ReceiptRecorder } from "./receipts.ts";
import { createSenderMetrics } from "./senderMetrics.ts";
import { MediaBytes } from "./sending/mediaBytes.ts";
import { SendPacer } from "./sendPacer.ts";
import { SessionSupervisor } from "./sessions/sessionSupervisor.ts";
import { baileysTransport } from "./transports/baileys/baileysTransport.ts";
import { removeHashedMediaFiles } from "./transports/baileys/mediaUploads.ts";
import { claimAuthFence } from "./transports/baileys/redisAuthState.ts";
import { parseNumberList, parseReplyTexts, simTransport } from "./transports/sim.ts";
import type { Transport } from "./transports/transport.ts";

const config = loadConfig();
const owner = config.SENDER_ID ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, "-")}-${process.pid}`;
const log = createLogger("sender", config.LOG_LEVEL).child({ owner });

const nats = await connectNats(config.NATS_URL, `sender-${owner}`, natsSecurityOf(config));
await ensureStreams(nats.jsm, { replicas: config.NATS_REPLICAS, log });
const mediaLibrary = await MediaLibrary.open(nats.js);
const leases = await SessionLeases.open(nats.nc, config.LEASE_TTL_MS, config.NATS_REPLICAS);
const redis = connectRedis(config.REDIS_URL, redisTlsOf(config), log);
const redisWarning = await durabilityWarning(redis);
if (redisWarning) log.warn(redisWarning);
const registry = new SessionRegistry(redis, config.REDIS_PREFIX);
for (const sessionId of sessionIdsOf(config)) await registry.add(sessionId);

const transport: Transport =
  config.WA_TRANSPORT === "baileys"
    ? baileysTransport({
        redis,
        prefix: config.REDIS_PREFIX,
        log,
        replicaAcks: replicaAcksOf(config),
        ...(config.WA_WEBSOCKET_URL ? { waWebSocketUrl: config.WA_WEBSOCKET_URL } : {}),
      })
    : simTransport({
        latencyMs: config.SIM_LATENCY_MS,
        failureRate: config.SIM_FAILURE_RATE,
        notOnWhatsApp: parseNumberList(config.SIM_NOT_ON_WHATSAPP),
        outboxPath: config.SIM_OUTBOX,
        scanAfterMs: config.SIM_SCAN_AFTER_MS,
        replyRate: config.SIM_REPLY_RATE,
        replyTexts: parseReplyTexts(config.SIM_REPLY_TEXTS),
        replyAfterMs: config.SIM_REPLY_AFTER_MS,
        pairing: {
          isPaired: (id) => registry.isSimPaired(id),
          setPaired: (id, p) => registry.setSimPaired(id, p),
        },
      });

// The supervisor is created below; the gauge reads its sessions at scrape time.
const metrics = createSenderMetrics(() => supervisor.statuses());
const projection = new BlastProjection(redis, config.REDIS_PREFIX);
const replyWindowMs = config.REPLY_WINDOW_HOURS * 3600 * 1000;
const conversations = new Conversations(redis, config.REDIS_PREFIX, replyWindowMs);
const supervisor: SessionSupervisor = new SessionSupervisor({
  owner,
  nats,
  leases,
  registry,
  projection,
  idempotency: new IdempotencyRecords(redis, config.REDIS_PREFIX, replicaAcksOf(config)),
  receipts: new ReceiptRecorder(redis, config.REDIS_PREFIX, nats, log),
  conversations,
  inbound: new InboundLog(nats, conversations, log),
  transport,
  pacing: pacingDefaults(config),
  limits: sendLimitDefaults(config),
  pacer: new SendPacer(redis, config.REDIS_PREFIX),
  numbers: new NumberCheck(redis, config.REDIS_PREFIX),
  ackWaitMs: config.SEND_ACK_WAIT_MS,
  // A real account sends one message at a time, whatever its pacing says.
  maxBatch: transport.name === "baileys" ? 1 : config.SEND_BATCH_MAX,
  log,
  claimFence: (sessionId, token) => claimAuthFence(redis, config.REDIS_PREFIX, sessionId, token),
  metrics,
  mediaBytes: new MediaBytes((mediaId) => mediaLibrary.read(mediaId)),
});
const metricsServer =
  config.SENDER_METRICS_PORT > 0
    ? await serveMetrics(
        metrics.registry,
        new ApiKeys(apiKeysOf(config)),
        config.SENDER_METRICS_HOST,
        config.SENDER_METRICS_PORT,
      )
    : undefined;
const inboundProcessor = new InboundProcessor({
  nats,
  conversations,
  suppression: new SuppressionList(redis, config.REDIS_PREFIX),
  projection,
  keywords: new ConsentKeywordMatcher({
    optOut: keywordsFrom(config.OPT_OUT_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS),
    optIn: keywordsFrom(config.OPT_IN_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS),
  }),
  replyWindowMs,
  log,
  onConsent: (change, sessionId) => metrics.consent(change, sessionId),
  confirmations: { optout: config.OPT_OUT_CONFIRMATION, optin: config.OPT_IN_CONFIRMATION },
  sendReply: (sessionId, to, text, messageId) => requestPacedReply(nats, sessionId, to, text, messageId),
  claimConfirmation: (sessionId, messageId) => conversations.claimConfirmation(sessionId, messageId),
  releaseConfirmation: (sessionId, messageId) => conversations.releaseConfirmation(sessionId, messageId),
});
await supervisor.start();
await inboundProcessor.start();
log.info({ transport: transport.name, sessions: supervisor.owned }, "sender ready");

onStopSignal(async (signal) => {
  log.info({ signal }, "sender draining");
  await supervisor.stop();
  await inboundProcessor.stop();
  await removeHashedMediaFiles();
  await leases.close();
  metricsServer?.close();
  await nats.nc.drain();
  redis.disconnect();
  log.info("sender stopped");
});

// Configuration comes only from the environment, is validated once at start-up, and a bad value
// stops the process with a message naming the variable, never a half-configured service.
import { Type, type Static, type TSchema } from "typebox";
import { Value } from "typebox/value";
import { isCountryCode } from "../domain/phones.ts";
import { ID_PATTERN } from "../domain/ids.ts";
import { defaultPacing, mergePacing, type PacingPolicy } from "../domain/pacing.ts";
import type { RetryPolicy } from "../domain/webhookRetry.ts";
import {
  MAX_FREQUENCY_CAP,
  MAX_FREQUENCY_PERIOD_HOURS,
  MAX_UNREPLIED_BUDGET,
  type SendLimitDefaults,
} from "../domain/sendLimits.ts";

const Int = (min: number, max: number, def: number) =>
  Type.Integer({ minimum: min, maximum: max, default: def });

export const ConfigSchema = Type.Object({
  /** One server, or a cluster's servers comma-separated (`nats://a:4222,nats://b:4222,...`). */
  NATS_URL: Type.String({
    default: "nats://127.0.0.1:4222",
    pattern: "^\\s*[^,\\s]+(\\s*,\\s*[^,\\s]+)*\\s*$",
  }),
  /**
   * Copies of every stream, KV bucket and object store the services create: 1 on one server, 3
   * (or 5) on a JetStream cluster of at least that many servers. Existing ones are scaled at start.
   */
  NATS_REPLICAS: Int(1, 5, 1),
  REDIS_URL: Type.String({ default: "redis://127.0.0.1:6379" }),
  /** NATS credentials and TLS: user/password, a token, or a .creds file (JWT + nkey). */
  NATS_USER: Type.Optional(Type.String({ minLength: 1 })),
  NATS_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  NATS_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  NATS_CREDS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  NATS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  NATS_TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  NATS_TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Redis TLS with a private CA (`rediss://` in REDIS_URL turns TLS on; a password goes in the URL). */
  REDIS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_PREFIX: Type.String({ pattern: "^[A-Za-z0-9_-]{1,32}:$", default: "wa:" }),
  /**
   * Redis replicas that must hold an idempotency claim before its message is sent, and each write
   * of WhatsApp credentials, so a failover forgets neither (WAIT). 0 for a single Redis; 1 behind
   * Sentinel (REDIS_URL=redis+sentinel://…). Fewer in time: the send waits and is retried.
   */
  REDIS_REPLICA_ACKS: Type.Integer({ minimum: 0, maximum: 5, default: 0 }),
  REDIS_REPLICA_ACK_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
    { default: "info" },
  ),
  HTTP_HOST: Type.String({ default: "127.0.0.1" }),
  HTTP_PORT: Int(0, 65535, 3000),
  API_KEYS: Type.String({ default: "" }),
  COOKIE_SECURE: Type.Boolean({ default: false }),
  DEFAULT_COUNTRY: Type.String({ pattern: "^[A-Z]{2}$", default: "US" }),
  SESSION_IDS: Type.String({ default: "" }),
  /** Uploads are spooled to disk and read as streams, so this bounds disk and time, not memory. */
  MAX_UPLOAD_BYTES: Int(1024, 1024 * 1024 * 1024, 200 * 1024 * 1024),
  MAX_ROWS: Int(1, 5_000_000, 1_000_000),
  /**
   * What an .xlsx may inflate to (zip bombs): its parts together, before anything parses them.
   * Read as a stream, a sheet never sits in memory inflated: a million rows of five columns is ~400 MB.
   */
  MAX_XLSX_EXPANDED_BYTES: Int(1024 * 1024, 4 * 1024 * 1024 * 1024, 1024 * 1024 * 1024),
  /** JSON request bodies; multipart uploads are bounded by MAX_UPLOAD_BYTES instead. */
  MAX_JSON_BODY_BYTES: Int(1024, 64 * 1024 * 1024, 1024 * 1024),
  /** Requests a minute per API key (per client address without a key), counted in Redis. */
  RATE_LIMIT_PER_MINUTE: Int(1, 1_000_000, 600),
  /** The stricter budget of the routes that parse uploads: blasts, their preview, campaigns. */
  RATE_LIMIT_UPLOADS_PER_MINUTE: Int(1, 1_000_000, 30),
  /** Open WebSockets on one gateway, in total and per API key. */
  WS_MAX_CLIENTS: Int(1, 1_000_000, 2000),
  WS_MAX_CLIENTS_PER_KEY: Int(1, 1_000_000, 200),
  WA_TRANSPORT: Type.Union([Type.Literal("sim"), Type.Literal("baileys")], { default: "sim" }),
  SENDER_ID: Type.Optional(Type.String({ pattern: ID_PATTERN })),
  WA_WEBSOCKET_URL: Type.Optional(Type.String({ pattern: "^wss?://" })),
  LEASE_TTL_MS: Int(1500, 300_000, 15_000),
  /** The sender's Prometheus endpoint; 0 turns it off (several senders on one host need their own). */
  SENDER_METRICS_PORT: Int(0, 65_535, 0),
  SENDER_METRICS_HOST: Type.String({ default: "127.0.0.1" }),
  /** The webhooks service's Prometheus endpoint; 0 turns it off. */
  WEBHOOKS_METRICS_PORT: Int(0, 65_535, 0),
  WEBHOOKS_METRICS_HOST: Type.String({ default: "127.0.0.1" }),
  SEND_MIN_DELAY_MS: Int(0, 3_600_000, 4000),
  SEND_MAX_DELAY_MS: Int(0, 3_600_000, 12000),
  SEND_ACK_WAIT_MS: Int(1000, 600_000, 30_000),
  /**
   * Recipients per batch (claimed, sent at once, settled and logged together) for an account whose
   * pacing holds no time between messages; the sim transport only (Baileys sends one at a time).
   * Also the most recipients one crash can leave in doubt on such an account.
   */
  SEND_BATCH_MAX: Int(1, 1000, 100),
  SEND_PER_MINUTE: Int(0, 10_000, 8),
  SEND_PER_HOUR: Int(0, 100_000, 200),
  SEND_PER_DAY: Int(0, 1_000_000, 1000),
  SEND_TYPING: Type.Boolean({ default: true }),
  SEND_CHECK_NUMBERS: Type.Boolean({ default: true }),
  SEND_WINDOW: Type.String({ pattern: "^$|^([01]?[0-9]|2[0-3])-([01]?[0-9]|2[0-3])$", default: "" }),
  SEND_TIMEZONE: Type.String({ default: "UTC" }),
  /** A new account's ramp: messages on its first day of sending (0 = no ramp), then times growth a day. */
  WARMUP_FIRST_DAY: Int(0, 1_000_000, 0),
  WARMUP_GROWTH: Type.Number({ minimum: 1, maximum: 10, default: 2 }),
  /**
   * At most this many campaign messages to one number in any trailing FREQUENCY_CAP_HOURS, over
   * every blast (0 = no cap unless a blast sets one); checked in the send claim.
   */
  FREQUENCY_CAP_MAX: Int(0, MAX_FREQUENCY_CAP, 0),
  FREQUENCY_CAP_HOURS: Int(1, MAX_FREQUENCY_PERIOD_HOURS, 168),
  /**
   * Messages an account may send in a calendar month (UTC) to numbers that never wrote to it, before
   * it stops taking new recipients (0 = no budget; each session can set its own).
   */
  UNREPLIED_BUDGET_PER_MONTH: Int(0, MAX_UNREPLIED_BUDGET, 0),
  /** How long after a blast message a person's message that does not quote it still counts as its reply. */
  REPLY_WINDOW_HOURS: Int(0, 24 * 90, 72),
  /** Comma-separated; empty means the defaults (STOP, UNSUBSCRIBE, BERHENTI, PARAR, ALTO, ARRÊT...). */
  OPT_OUT_KEYWORDS: Type.String({ default: "" }),
  /** Comma-separated; empty means the defaults (START, UNSTOP, SUBSCRIBE, MULAI...). */
  OPT_IN_KEYWORDS: Type.String({ default: "" }),
  /** Sent back, at the account's pace, to a person who opted out by keyword; empty sends nothing. */
  OPT_OUT_CONFIRMATION: Type.String({ maxLength: 1000, default: "" }),
  /** Sent back to a person who opted back in by keyword; empty sends nothing. */
  OPT_IN_CONFIRMATION: Type.String({ maxLength: 1000, default: "" }),
  /** Let webhooks target loopback, private, link-local, unique-local and CGNAT addresses. */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: Type.Boolean({ default: false }),
  /** One webhook request, from connecting to the receiver's status line. */
  WEBHOOK_TIMEOUT_MS: Int(100, 60_000, 5000),
  /** Attempts per delivery (the first included) before it is dead and kept for a redelivery. */
  WEBHOOK_MAX_ATTEMPTS: Int(1, 100, 8),
  /** The wait after a delivery's first failure, doubled after each next one up to the max, jittered. */
  WEBHOOK_RETRY_BASE_MS: Int(10, 3_600_000, 30_000),
  WEBHOOK_RETRY_MAX_MS: Int(10, 86_400_000, 3_600_000),
  /** How long the secret a rotation replaced keeps signing beside the new one. */
  WEBHOOK_SECRET_GRACE_HOURS: Int(0, 24 * 30, 24),
  SIM_LATENCY_MS: Int(0, 60_000, 200),
  SIM_FAILURE_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  SIM_NOT_ON_WHATSAPP: Type.String({ default: "" }),
  SIM_OUTBOX: Type.String({ default: "var/sim-outbox.jsonl" }),
  SIM_SCAN_AFTER_MS: Int(0, 600_000, 0),
  /** Share of recipients who answer what the sim sends them, decided by their number (0 = none). */
  SIM_REPLY_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  /** Comma-separated answers; empty means the sim's own ("Thanks!", "Who is this?", "STOP"). */
  SIM_REPLY_TEXTS: Type.String({ default: "" }),
  SIM_REPLY_AFTER_MS: Int(0, 600_000, 1000),
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

function pick<T extends TSchema>(schema: T, env: NodeJS.ProcessEnv): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys((schema as unknown as { properties: object }).properties)) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const withDefaults = Value.Default(schema, raw);
  const converted = Value.Convert(schema, withDefaults);
  if (!Value.Check(schema, converted)) {
    const problems = Value.Errors(schema, converted).map((e) => {
      const key = e.instancePath.replace(/^\//, "") || "(config)";
      return `${key}=${JSON.stringify(raw[key] ?? null)}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  return converted as Static<T>;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = pick(ConfigSchema, env);
  if (!isCountryCode(config.DEFAULT_COUNTRY)) {
    throw new ConfigError(
      `invalid configuration: DEFAULT_COUNTRY=${config.DEFAULT_COUNTRY} is not a known country`,
    );
  }
  if (config.SEND_MAX_DELAY_MS < config.SEND_MIN_DELAY_MS) {
    throw new ConfigError("invalid configuration: SEND_MAX_DELAY_MS must be >= SEND_MIN_DELAY_MS");
  }
  if (config.WEBHOOK_RETRY_MAX_MS < config.WEBHOOK_RETRY_BASE_MS) {
    throw new ConfigError("invalid configuration: WEBHOOK_RETRY_MAX_MS must be >= WEBHOOK_RETRY_BASE_MS");
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: config.SEND_TIMEZONE });
  } catch {
    throw new ConfigError(
      `invalid configuration: SEND_TIMEZONE=${config.SEND_TIMEZONE} is not a known time zone`,
    );
  }
  const bad = sessionIdsOf(config).find((id) => !new RegExp(ID_PATTERN).test(id));
  if (bad !== undefined)
    throw new ConfigError(`invalid configuration: SESSION_IDS has an invalid id "${bad}"`);
  return config;
}

/** API keys for the gateway: comma-separated, each 16-256 characters without spaces or commas. */
export function apiKeysOf(config: Config): string[] {
  const keys = config.API_KEYS.split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new ConfigError("invalid configuration: API_KEYS must list at least one key");
  const weak = keys.findIndex((k) => !/^[\x21-\x2b\x2d-\x7e]{16,256}$/.test(k));
  if (weak !== -1) {
    throw new ConfigError(
      `invalid configuration: API_KEYS key #${weak + 1} must be 16-256 visible characters`,
    );
  }
  return keys;
}

/** How to reach NATS securely; the files are read when connecting, so a missing one stops start-up. */
export function natsSecurityOf(config: Config): NatsSecurity {
  if (config.NATS_USER !== undefined && config.NATS_PASSWORD === undefined) {
    throw new ConfigError("invalid configuration: NATS_USER needs NATS_PASSWORD");
  }
  if ((config.NATS_TLS_CERT_FILE === undefined) !== (config.NATS_TLS_KEY_FILE === undefined)) {
    throw new ConfigError("invalid configuration: NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together");
  }
  const tls =
    config.NATS_TLS_CA_FILE || config.NATS_TLS_CERT_FILE
      ? {
          ...(config.NATS_TLS_CA_FILE ? { caFile: config.NATS_TLS_CA_FILE } : {}),
          ...(config.NATS_TLS_CERT_FILE ? { certFile: config.NATS_TLS_CERT_FILE } : {}),
          ...(config.NATS_TLS_KEY_FILE ? { keyFile: config.NATS_TLS_KEY_FILE } : {}),
        }
      : undefined;
  return {
    ...(config.NATS_USER && config.NATS_PASSWORD
      ? { user: config.NATS_USER, pass: config.NATS_PASSWORD }
      : {}),
    ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
    ...(config.NATS_CREDS_FILE ? { credsFile: config.NATS_CREDS_FILE } : {}),
    ...(tls ? { tls } : {}),
  };
}

export function replicaAcksOf(config: Config): { replicas: number; timeoutMs: number } {
  return { replicas: config.REDIS_REPLICA_ACKS, timeoutMs: config.REDIS_REPLICA_ACK_TIMEOUT_MS };
}

export function redisTlsOf(config: Config): { caFile?: string } {
  return config.REDIS_TLS_CA_FILE ? { caFile: config.REDIS_TLS_CA_FILE } : {};
}

export interface NatsSecurity {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly credsFile?: string;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
}

export function sessionIdsOf(config: Config): string[] {
  return config.SESSION_IDS.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** How failed webhook deliveries are retried. */
export function webhookRetryPolicy(config: Config): RetryPolicy {
  return {
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    baseDelayMs: config.WEBHOOK_RETRY_BASE_MS,
    maxDelayMs: config.WEBHOOK_RETRY_MAX_MS,
  };
}

/** The deployment's default pacing; sessions can override any field, blasts any but the warm-up. */
export function pacingDefaults(config: Config): PacingPolicy {
  const window = config.SEND_WINDOW.match(/^(\d+)-(\d+)$/);
  return mergePacing(defaultPacing, {
    minDelayMs: config.SEND_MIN_DELAY_MS,
    maxDelayMs: config.SEND_MAX_DELAY_MS,
    perMinute: config.SEND_PER_MINUTE,
    perHour: config.SEND_PER_HOUR,
    perDay: config.SEND_PER_DAY,
    typing: config.SEND_TYPING,
    checkNumbers: config.SEND_CHECK_NUMBERS,
    window: window
      ? { startHour: Number(window[1]), endHour: Number(window[2]), timeZone: config.SEND_TIMEZONE }
      : null,
    warmup:
      config.WARMUP_FIRST_DAY > 0
        ? { firstDay: config.WARMUP_FIRST_DAY, growth: config.WARMUP_GROWTH }
        : null,
  });
}

/** The deployment's frequency cap and unreplied budget; blasts and sessions may set their own. */
export function sendLimitDefaults(config: Config): SendLimitDefaults {
  return {
    frequencyCap:
      config.FREQUENCY_CAP_MAX > 0
        ? { max: config.FREQUENCY_CAP_MAX, periodHours: config.FREQUENCY_CAP_HOURS }
        : null,
    unrepliedBudgetPerMonth: config.UNREPLIED_BUDGET_PER_MONTH,
  };
}

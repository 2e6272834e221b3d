// Webhook endpoints: where to send which events, and the secrets to sign them with. One hash per
// endpoint (fields written one at a time, so a rotation and an edit made together both stick),
// an index by registration time, and a version every change bumps: the webhooks service reloads
// its endpoints when the version moves, checked before each fact it fans out.
import type { Redis } from "ioredis";
import { isWebhookEventType, type WebhookEventType } from "../domain/webhookEvents.ts";
import { appKeys } from "./keys.ts";

export interface WebhookEndpoint {
  readonly webhookId: string;
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  readonly description: string;
  /** A disabled endpoint gets nothing new queued, and what is queued waits. */
  readonly enabled: boolean;
  readonly createdAt: string;
  /** Signs every request. Never listed by the API: shown once, when made. */
  readonly secret: string;
  /** The secret before the last rotation, still signing beside the new one until it expires. */
  readonly previousSecret?: string;
  readonly previousSecretExpiresAt?: string;
}

export interface WebhookChange {
  readonly url?: string;
  readonly events?: readonly WebhookEventType[];
  readonly description?: string;
  readonly enabled?: boolean;
}

/** KEYS: index, endpoint, version. ARGV: id, score, most endpoints, then field/value pairs. */
const CREATE_SCRIPT = `
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
`;

/** KEYS: endpoint, version. ARGV: field/value pairs. 0 when the endpoint is gone. */
const UPDATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('INCR', KEYS[2])
return 1
`;

/** KEYS: endpoint, version. ARGV: new secret, when the old one stops signing. */
const ROTATE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'secret')
if not current then return 0 end
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'previousSecret', current, 'previousSecretExpiresAt', ARGV[2])
redis.call('INCR', KEYS[2])
return 1
`;

type ScriptRedis = Redis & {
  createWebhook(index: string, endpoint: string, version: string, ...args: string[]): Promise<number>;
  updateWebhook(endpoint: string, version: string, ...fields: string[]): Promise<number>;
  rotateWebhookSecret(endpoint: string, version: string, secret: string, until: string): Promise<number>;
};

function scripted(redis: Redis): ScriptRedis {
  if (!("createWebhook" in redis)) {
    redis.defineCommand("createWebhook", { numberOfKeys: 3, lua: CREATE_SCRIPT });
    redis.defineCommand("updateWebhook", { numberOfKeys: 2, lua: UPDATE_SCRIPT });
    redis.defineCommand("rotateWebhookSecret", { numberOfKeys: 2, lua: ROTATE_SCRIPT });
  }
  return redis as ScriptRedis;
}

function fieldsOf(change: WebhookChange): string[] {
  const fields: string[] = [];
  if (change.url !== undefined) fields.push("url", change.url);
  if (change.events !== undefined) fields.push("events", JSON.stringify(change.events));
  if (change.description !== undefined) fields.push("description", change.description);
  if (change.enabled !== undefined) fields.push("enabled", change.enabled ? "1" : "0");
  return fields;
}

function decodeEndpoint(webhookId: string, hash: Record<string, string>): WebhookEndpoint | undefined {
  const { url, events, description, enabled, createdAt, secret, previousSecret, previousSecretExpiresAt } =
    hash;
  if (url === undefined || events === undefined || createdAt === undefined || secret === undefined) {
    return undefined;
  }
  const parsed: unknown = JSON.parse(events);
  const types = Array.isArray(parsed)
    ? parsed.filter((t): t is WebhookEventType => isWebhookEventType(String(t)))
    : [];
  return {
    webhookId,
    url,
    events: types,
    description: description ?? "",
    enabled: enabled !== "0",
    createdAt,
    secret,
    ...(previousSecret !== undefined ? { previousSecret } : {}),
    ...(previousSecretExpiresAt !== undefined ? { previousSecretExpiresAt } : {}),
  };
}

export type CreateResult = "created" | "full" | "exists";

export class WebhookEndpoints {
  private readonly keys: ReturnType<typeof appKeys>;
  private readonly redis: ScriptRedis;

  constructor(redis: Redis, prefix: string) {
    this.redis = scripted(redis);
    this.keys = appKeys(prefix);
  }

  async create(
    endpoint: Omit<WebhookEndpoint, "previousSecret" | "previousSecretExpiresAt">,
    maxEndpoints: number,
  ): Promise<CreateResult> {
    const { webhookId, createdAt, secret } = endpoint;
    const result = await this.redis.createWebhook(
      this.keys.webhooks,
      this.keys.webhook(webhookId),
      this.keys.webhooksVersion,
      webhookId,
      String(Date.parse(createdAt)),
      String(maxEndpoints),
      ...fieldsOf(endpoint),
      "createdAt",
      createdAt,
      "secret",
      secret,
    );
    return result === 1 ? "created" : result === 0 ? "full" : "exists";
  }

  async get(webhookId: string): Promise<WebhookEndpoint | undefined> {
    return decodeEndpoint(webhookId, await this.redis.hgetall(this.keys.webhook(webhookId)));
  }

  /** Every endpoint, oldest first (there are at most a few hundred). */
  async list(): Promise<WebhookEndpoint[]> {
    const ids = await this.redis.zrange(this.keys.webhooks, 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.webhook(id));
    const results = (await pipeline.exec()) ?? [];
    const endpoints: WebhookEndpoint[] = [];
    ids.forEach((id, i) => {
      const [err, hash] = results[i] ?? [];
      if (err) throw err;
      const endpoint = decodeEndpoint(id, (hash ?? {}) as Record<string, string>);
      if (endpoint) endpoints.push(endpoint);
    });
    return endpoints;
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.keys.webhooks);
  }

  /** The endpoint after the change, or undefined when there is no such endpoint. */
  async update(webhookId: string, change: WebhookChange): Promise<WebhookEndpoint | undefined> {
    const fields = fieldsOf(change);
    if (fields.length > 0) {
      const updated = await this.redis.updateWebhook(
        this.keys.webhook(webhookId),
        this.keys.webhooksVersion,
        ...fields,
      );
      if (updated === 0) return undefined;
    }
    return this.get(webhookId);
  }

  /** Makes `secret` the signing secret; the one it replaces keeps signing until `previousUntil`. */
  async rotateSecret(
    webhookId: string,
    secret: string,
    previousUntil: Date,
  ): Promise<WebhookEndpoint | undefined> {
    const rotated = await this.redis.rotateWebhookSecret(
      this.keys.webhook(webhookId),
      this.keys.webhooksVersion,
      secret,
      previousUntil.toISOString(),
    );
    return rotated === 1 ? this.get(webhookId) : undefined;
  }

  /** Deletes the endpoint and its delivery log; false when there was none. */
  async delete(webhookId: string): Promise<boolean> {
    const results = await this.redis
      .multi()
      .zrem(this.keys.webhooks, webhookId)
      .del(
        this.keys.webhook(webhookId),
        this.keys.webhookDeliveries(webhookId),
        this.keys.webhookDelivery(webhookId),
      )
      .incr(this.keys.webhooksVersion)
      .exec();
    const [err, removed] = results?.[0] ?? [];
    if (err) throw err;
    return removed === 1;
  }

  async version(): Promise<number> {
    return Number((await this.redis.get(this.keys.webhooksVersion)) ?? 0);
  }
}

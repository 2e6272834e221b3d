// The session registry (which WhatsApp accounts exist) and each session's last known status.
import type { Redis } from "ioredis";
import type { PacingOverrides } from "../domain/pacing.ts";
import type { SessionStatusMessage } from "../messages/sessionEvents.ts";
import { appKeys } from "./keys.ts";

export interface SessionRecord {
  readonly sessionId: string;
  readonly status: string;
  readonly reason?: string;
  readonly account?: string;
  readonly owner?: string;
  readonly updatedAt?: string;
}

export class SessionRegistry {
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = appKeys(prefix);
  }

  /** Returns false when the session already existed. */
  async add(sessionId: string): Promise<boolean> {
    return (await this.redis.sadd(this.keys.sessions, sessionId)) === 1;
  }

  async exists(sessionId: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.sessions, sessionId)) === 1;
  }

  async ids(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.sessions)).sort();
  }

  async recordStatus(message: SessionStatusMessage): Promise<void> {
    const fields: Record<string, string> = {
      status: message.status,
      updatedAt: message.at,
      reason: message.reason ?? "",
    };
    if (message.account) fields.account = message.account;
    if (message.owner) fields.owner = message.owner;
    const key = this.keys.session(message.sessionId);
    // A session asking for a scan, or logged out, is linked to no account any more.
    const unlinked = message.status === "qr" || message.status === "logged_out";
    const tx = this.redis.multi().hset(key, fields);
    if (unlinked) tx.hdel(key, "account");
    await tx.exec();
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    if (!(await this.exists(sessionId))) return undefined;
    const h = await this.redis.hgetall(this.keys.session(sessionId));
    return {
      sessionId,
      status: h.status ?? "idle",
      ...(h.reason ? { reason: h.reason } : {}),
      ...(h.account ? { account: h.account } : {}),
      ...(h.owner ? { owner: h.owner } : {}),
      ...(h.updatedAt ? { updatedAt: h.updatedAt } : {}),
    };
  }

  async list(): Promise<SessionRecord[]> {
    const ids = await this.ids();
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is SessionRecord => r !== undefined);
  }

  /** The session's own pacing settings (fields not set fall back to the deployment's defaults). */
  async pacing(sessionId: string): Promise<PacingOverrides> {
    const raw = await this.redis.hget(this.keys.session(sessionId), "pacing");
    return raw ? (JSON.parse(raw) as PacingOverrides) : {};
  }

  async setPacing(sessionId: string, pacing: PacingOverrides): Promise<void> {
    await this.redis.hset(this.keys.session(sessionId), "pacing", JSON.stringify(pacing));
  }

  async isSimPaired(sessionId: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.session(sessionId), "simPaired")) === "1";
  }

  async setSimPaired(sessionId: string, paired: boolean): Promise<void> {
    await this.redis.hset(this.keys.session(sessionId), "simPaired", paired ? "1" : "0");
  }
}

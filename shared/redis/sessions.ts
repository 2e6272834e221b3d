// The session registry (which WhatsApp accounts exist), each session's last known status, its own
// settings (pacing, proxy, unreplied budget) and what its status shows of its sending (the warm-up,
// the month's messages to people who have not replied).
import type { Redis } from "ioredis";
import type { PacingOverrides } from "../domain/pacing.ts";
import { maskProxyUrl } from "../domain/proxy.ts";
import { unrepliedMonthOf } from "../domain/sendLimits.ts";
import type { SessionStatusMessage } from "../messages/sessionEvents.ts";
import { appKeys } from "./keys.ts";

const DAY_MS = 24 * 3600 * 1000;

/** Registers the session and its proxy in one step: a sender must never see it without its proxy. */
const ADD_SCRIPT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'proxy', ARGV[2]) end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`;

type ScriptRedis = Redis & {
  addSession(sessions: string, session: string, sessionId: string, proxy: string): Promise<number>;
};

function scripted(redis: Redis): ScriptRedis {
  if (!("addSession" in redis)) redis.defineCommand("addSession", { numberOfKeys: 2, lua: ADD_SCRIPT });
  return redis as ScriptRedis;
}

export interface SessionRecord {
  readonly sessionId: string;
  readonly status: string;
  readonly reason?: string;
  readonly account?: string;
  readonly owner?: string;
  readonly updatedAt?: string;
  /** The account's proxy with its password masked; the real URL only through `proxy()`. */
  readonly proxy?: string;
}

/** What the warm-up status needs of an account's sending. */
export interface SendingRecord {
  /** When the account first sent (ms); undefined before its first send or after a restart. */
  readonly firstSendAt?: number;
  /** Sends in the trailing 24 hours, as the caps count them. */
  readonly sentLastDay: number;
}

/** What the unreplied budget's status needs: the month's count and the account's own budget. */
export interface UnrepliedRecord {
  /** The calendar month (UTC, `YYYY-MM`) counted. */
  readonly month: string;
  /** Messages that month to numbers that had not written to the account. */
  readonly sends: number;
  /** The account's own budget; undefined: the deployment's applies. */
  readonly ownBudget?: number;
}

/** The account's own settings the sender reads for each batch. */
export interface SessionSendingSettings {
  readonly pacing: PacingOverrides;
  /** Messages a month to people who have not replied; undefined: the deployment's budget. */
  readonly unrepliedBudgetPerMonth?: number;
}

const budgetOf = (raw: string | null | undefined): number | undefined =>
  raw === null || raw === undefined || raw === "" ? undefined : Number(raw);

export class SessionRegistry {
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = appKeys(prefix);
  }

  /** Returns false when the session already existed (its settings are left as they were). */
  async add(sessionId: string, options: { proxy?: string } = {}): Promise<boolean> {
    const added = await scripted(this.redis).addSession(
      this.keys.sessions,
      this.keys.session(sessionId),
      sessionId,
      options.proxy ?? "",
    );
    return added === 1;
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
      ...(h.proxy ? { proxy: maskProxyUrl(h.proxy) } : {}),
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

  /** The pacing and the unreplied budget of the account, in one read. */
  async sendingSettings(sessionId: string): Promise<SessionSendingSettings> {
    const [pacing, budget] = await this.redis.hmget(
      this.keys.session(sessionId),
      "pacing",
      "unrepliedBudget",
    );
    const perMonth = budgetOf(budget);
    return {
      pacing: pacing ? (JSON.parse(pacing) as PacingOverrides) : {},
      ...(perMonth !== undefined ? { unrepliedBudgetPerMonth: perMonth } : {}),
    };
  }

  /** Sets the account's own unreplied budget (0: none), or with undefined falls back to the deployment's. */
  async setUnrepliedBudget(sessionId: string, perMonth: number | undefined): Promise<void> {
    const key = this.keys.session(sessionId);
    if (perMonth === undefined) await this.redis.hdel(key, "unrepliedBudget");
    else await this.redis.hset(key, "unrepliedBudget", String(perMonth));
  }

  /** Each account's messages this month (UTC) to people who had not written to it, in one read. */
  async unrepliedSends(sessionIds: readonly string[], now: number): Promise<Map<string, number>> {
    if (sessionIds.length === 0) return new Map();
    const month = unrepliedMonthOf(now);
    const counts = await this.redis.mget(...sessionIds.map((id) => this.keys.unrepliedSends(id, month)));
    return new Map(sessionIds.map((id, i) => [id, Number(counts[i] ?? 0)]));
  }

  /** The proxy URL the account connects through, credentials included: for the transport only. */
  async proxy(sessionId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.session(sessionId), "proxy")) ?? undefined;
  }

  /** Sets or (with undefined) removes the proxy; a sender uses it from the session's next opening. */
  async setProxy(sessionId: string, proxy: string | undefined): Promise<void> {
    const key = this.keys.session(sessionId);
    if (proxy === undefined) await this.redis.hdel(key, "proxy");
    else await this.redis.hset(key, "proxy", proxy);
  }

  /** The last 24 hours' sends and the first send, in one round trip: what the warm-up status shows. */
  async sending(sessionId: string, now: number): Promise<SendingRecord> {
    const replies = await this.redis
      .multi()
      .zcount(this.keys.pace(sessionId), `(${now - DAY_MS}`, now)
      .get(this.keys.firstSend(sessionId))
      .exec();
    const [count, first] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    const firstSendAt = typeof first === "string" ? Number(first) : NaN;
    return {
      sentLastDay: Number(count ?? 0),
      ...(Number.isFinite(firstSendAt) ? { firstSendAt } : {}),
    };
  }

  /** This month's messages to people who had not written to the account, and its own budget. */
  async unreplied(sessionId: string, now: number): Promise<UnrepliedRecord> {
    const month = unrepliedMonthOf(now);
    const [sends, [budget]] = await Promise.all([
      this.redis.get(this.keys.unrepliedSends(sessionId, month)),
      this.redis.hmget(this.keys.session(sessionId), "unrepliedBudget"),
    ]);
    const ownBudget = budgetOf(budget);
    return { month, sends: Number(sends ?? 0), ...(ownBudget !== undefined ? { ownBudget } : {}) };
  }

  /** Starts the warm-up over: the account's next send is the first day of its ramp again. */
  async restartWarmup(sessionId: string): Promise<void> {
    await this.redis.del(this.keys.firstSend(sessionId));
  }

  async isSimPaired(sessionId: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.session(sessionId), "simPaired")) === "1";
  }

  async setSimPaired(sessionId: string, paired: boolean): Promise<void> {
    await this.redis.hset(this.keys.session(sessionId), "simPaired", paired ? "1" : "0");
  }
}

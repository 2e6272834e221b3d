// Baileys' auth state (creds + Signal keys) in Redis, one session per key pair. Every write is one
// atomic Lua step that first checks the session's fencing token, so a sender that lost its lease
// can never overwrite the keys of the sender that took over ("Bad MAC" from diverged keys). A read
// error is raised, never mistaken for "no credentials" (which would start a fresh login).
import {
  BufferJSON,
  initAuthCreds,
  proto,
  type AuthenticationCreds,
  type AuthenticationState,
  type SignalDataSet,
  type SignalDataTypeMap,
} from "@whiskeysockets/baileys";
import type { Redis } from "ioredis";
import {
  confirmReplicated,
  NO_REPLICA_ACKS,
  type ReplicaAckPolicy,
} from "../../../../shared/redis/replicaAcks.ts";

const WRITE_SCRIPT = `
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED: lease token ' .. ARGV[1] .. ' is not the current one (' .. fence .. ')')
end
local mode = ARGV[2]
if mode == 'creds' then
  redis.call('SET', KEYS[2], ARGV[3])
elseif mode == 'keys' then
  local nset = tonumber(ARGV[3])
  local i = 4
  for _ = 1, nset do
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  local ndel = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, ndel do
    redis.call('HDEL', KEYS[3], ARGV[i])
    i = i + 1
  end
elseif mode == 'clear' then
  redis.call('DEL', KEYS[2], KEYS[3])
end
return 1
`;

const FENCE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
`;

type ScriptRedis = Redis & {
  authWrite(fence: string, creds: string, keys: string, ...args: (string | number)[]): Promise<number>;
  authFence(fence: string, token: number): Promise<number>;
};

export class StaleLeaseError extends Error {}

export function authKeys(prefix: string, sessionId: string) {
  const root = `${prefix}auth:${sessionId}:`;
  return { fence: `${root}fence`, creds: `${root}creds`, keys: `${root}keys` };
}

function scripted(redis: Redis): ScriptRedis {
  if (!("authWrite" in redis)) {
    redis.defineCommand("authWrite", { numberOfKeys: 3, lua: WRITE_SCRIPT });
    redis.defineCommand("authFence", { numberOfKeys: 1, lua: FENCE_SCRIPT });
  }
  return redis as ScriptRedis;
}

export interface RedisAuth {
  readonly state: AuthenticationState;
  saveCreds(): Promise<void>;
  /** Forgets the account (after logout or a 401): the next connect shows a new QR. */
  clear(): Promise<void>;
}

/** Raises the session's fence to `token` (a new lease); false if a newer owner already did. */
export async function claimAuthFence(
  redis: Redis,
  prefix: string,
  sessionId: string,
  token: number,
): Promise<boolean> {
  return (await scripted(redis).authFence(authKeys(prefix, sessionId).fence, token)) === 1;
}

export async function hasStoredCreds(redis: Redis, prefix: string, sessionId: string): Promise<boolean> {
  return (await redis.exists(authKeys(prefix, sessionId).creds)) === 1;
}

export async function redisAuthState(
  redis: Redis,
  prefix: string,
  sessionId: string,
  token: number,
  replicaAcks: ReplicaAckPolicy = NO_REPLICA_ACKS,
): Promise<RedisAuth> {
  const r = scripted(redis);
  const keys = authKeys(prefix, sessionId);
  const write = async (...args: (string | number)[]) => {
    try {
      await r.authWrite(keys.fence, keys.creds, keys.keys, token, ...args);
    } catch (err) {
      if (String(err).includes("FENCED")) throw new StaleLeaseError(String((err as Error).message));
      throw err;
    }
    // Signal keys a failover forgets would leave the account unable to decrypt, or to be decrypted.
    await confirmReplicated(redis, replicaAcks, "the WhatsApp credentials");
  };
  const stored = await redis.get(keys.creds);
  const creds: AuthenticationCreds = stored
    ? (JSON.parse(stored, BufferJSON.reviver) as AuthenticationCreds)
    : initAuthCreds();

  const state: AuthenticationState = {
    creds,
    keys: {
      get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
        const out: { [id: string]: SignalDataTypeMap[T] } = {};
        if (ids.length === 0) return out;
        const values = await redis.hmget(keys.keys, ...ids.map((id) => `${type}:${id}`));
        ids.forEach((id, i) => {
          const raw = values[i];
          if (raw === null || raw === undefined) return;
          let value: unknown = JSON.parse(raw, BufferJSON.reviver);
          if (type === "app-state-sync-key") {
            value = proto.Message.AppStateSyncKeyData.fromObject(value as Record<string, unknown>);
          }
          out[id] = value as SignalDataTypeMap[T];
        });
        return out;
      },
      set: async (data: SignalDataSet) => {
        const sets: string[] = [];
        const dels: string[] = [];
        for (const [type, entries] of Object.entries(data)) {
          for (const [id, value] of Object.entries(entries ?? {})) {
            const field = `${type}:${id}`;
            if (value === null || value === undefined) dels.push(field);
            else sets.push(field, JSON.stringify(value, BufferJSON.replacer));
          }
        }
        if (sets.length === 0 && dels.length === 0) return;
        await write("keys", sets.length / 2, ...sets, dels.length, ...dels);
      },
    },
  };
  return {
    state,
    saveCreds: () => write("creds", JSON.stringify(state.creds, BufferJSON.replacer)),
    clear: () => write("clear"),
  };
}

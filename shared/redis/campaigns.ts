// Campaigns: saved recipient segments. Rows are stored normalized (E.164 phone, lower-case
// columns) so a blast from a campaign only renders its template.
//
// A campaign is a hash (name, total, createdAt, and its columns once, in the order its rows are
// written) and a list of rows, each the JSON array of its cells in that order: a million rows do
// not repeat their column names a million times. Campaigns saved before had a JSON object per row;
// those are still read, row by row (`[` or `{`).
//
// A campaign is written as it is read: its rows go to a draft list a batch at a time, and one
// script makes it visible (list, hash and index entry together) only once every row is in. A
// draft has a TTL, so a gateway that dies halfway leaves nothing for good.
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { InputRow, Recipient } from "../domain/recipients.ts";
import { appKeys } from "./keys.ts";

export interface CampaignSummary {
  readonly campaignId: string;
  readonly name: string;
  readonly total: number;
  /** Sorted. */
  readonly columns: string[];
  readonly createdAt: string;
}

/** What is known of a campaign before its rows are read. */
export type CampaignDraftInfo = Pick<CampaignSummary, "campaignId" | "name" | "createdAt">;

/** A campaign being saved; nothing of it is visible until `commit`. */
export interface CampaignDraft {
  /** Adds rows after those already appended. */
  append(recipients: readonly Recipient[]): Promise<void>;
  /**
   * Makes the campaign visible with every row appended, in one step; undefined (and the draft
   * dropped) when the id was taken meanwhile.
   */
  commit(): Promise<CampaignSummary | undefined>;
  /** Drops the rows appended so far. */
  abort(): Promise<void>;
}

/** Long enough for the slowest import, short enough that a dead gateway's draft goes soon. */
const DRAFT_TTL_SECONDS = 3600;

/**
 * KEYS: draft, recipients, campaign hash, index. ARGV: campaignId, name, total, columns (JSON),
 * createdAt, index score. 1 saved, 0 the id is taken (the draft is dropped), -1 the draft expired.
 */
const COMMIT_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[3], 'campaignId', ARGV[1], 'name', ARGV[2], 'total', ARGV[3],
  'columns', ARGV[4], 'createdAt', ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
return 1
`;

type ScriptRedis = Redis & {
  commitCampaign(
    draft: string,
    recipients: string,
    campaign: string,
    index: string,
    campaignId: string,
    name: string,
    total: string,
    columns: string,
    createdAt: string,
    score: string,
  ): Promise<number>;
};

function scripted(redis: Redis): ScriptRedis {
  if (!("commitCampaign" in redis)) {
    redis.defineCommand("commitCampaign", { numberOfKeys: 4, lua: COMMIT_SCRIPT });
  }
  return redis as ScriptRedis;
}

/** Column positions of one campaign's rows: a column gets the next one the first time it is met. */
class ColumnOrder {
  readonly columns: string[] = [];
  private readonly positions = new Map<string, number>();

  encode(values: Readonly<Record<string, string>>): string {
    const cells: string[] = [];
    for (const [column, value] of Object.entries(values)) {
      let position = this.positions.get(column);
      if (position === undefined) {
        position = this.columns.push(column) - 1;
        this.positions.set(column, position);
      }
      cells[position] = value;
    }
    // A column this row lacks is an empty cell; trailing ones are left off altogether.
    let end = cells.length;
    while (end > 0 && !cells[end - 1]) end--;
    return JSON.stringify(Array.from({ length: end }, (_, i) => cells[i] ?? ""));
  }
}

/** One stored row, either format, keyed by column. */
function decodeRow(stored: string, columns: readonly string[]): Record<string, string> {
  const parsed: unknown = JSON.parse(stored);
  if (!Array.isArray(parsed)) return parsed as Record<string, string>;
  // Every column, a missing cell empty: templates and the console read an empty cell and a
  // missing one alike. fromEntries defines own keys, whatever a column is called.
  return Object.fromEntries(
    columns.map((column, i) => {
      const cell: unknown = parsed[i];
      return [column, typeof cell === "string" ? cell : ""];
    }),
  );
}

function parseColumns(stored: string | null | undefined): string[] {
  return stored ? (JSON.parse(stored) as string[]) : [];
}

export class CampaignStore {
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = appKeys(prefix);
  }

  /** Starts saving a campaign; its rows are appended in batches, then committed or aborted. */
  begin(info: CampaignDraftInfo): CampaignDraft {
    const { redis, keys } = this;
    const draftKey = keys.campaignDraft(info.campaignId, randomBytes(8).toString("hex"));
    const order = new ColumnOrder();
    let total = 0;
    let finished = false;
    const open = () => {
      if (finished) throw new Error(`campaign ${info.campaignId} is already committed or aborted`);
    };
    return {
      async append(recipients) {
        open();
        if (recipients.length === 0) return;
        const rows = recipients.map((r) => order.encode(r.values));
        // The TTL is renewed with every batch: only a draft nobody writes to any more expires.
        const results = await redis
          .multi()
          .rpush(draftKey, ...rows)
          .expire(draftKey, DRAFT_TTL_SECONDS)
          .exec();
        const failed = results?.find(([err]) => err !== null)?.[0];
        if (failed) throw failed;
        total += recipients.length;
      },
      async commit() {
        open();
        finished = true;
        const saved = await scripted(redis).commitCampaign(
          draftKey,
          keys.campaignRecipients(info.campaignId),
          keys.campaign(info.campaignId),
          keys.campaigns,
          info.campaignId,
          info.name,
          String(total),
          JSON.stringify(order.columns),
          info.createdAt,
          String(Date.parse(info.createdAt)),
        );
        if (saved === -1) {
          throw new Error(`campaign ${info.campaignId}: its rows expired before they were all read`);
        }
        if (saved === 0) return undefined;
        return { ...info, total, columns: [...order.columns].sort() };
      },
      async abort() {
        finished = true;
        await redis.del(draftKey);
      },
    };
  }

  async get(campaignId: string): Promise<CampaignSummary | undefined> {
    const h = await this.redis.hgetall(this.keys.campaign(campaignId));
    if (!h.campaignId || !h.createdAt) return undefined;
    return {
      campaignId,
      name: h.name ?? "",
      total: Number(h.total ?? 0),
      columns: parseColumns(h.columns).sort(),
      createdAt: h.createdAt,
    };
  }

  async list(offset: number, limit: number): Promise<{ total: number; items: CampaignSummary[] }> {
    const [total, ids] = await Promise.all([
      this.redis.zcard(this.keys.campaigns),
      this.redis.zrevrange(this.keys.campaigns, offset, offset + limit - 1),
    ]);
    const items = await Promise.all(ids.map((id) => this.get(id)));
    return { total, items: items.filter((c): c is CampaignSummary => c !== undefined) };
  }

  /** A page of the campaign's rows, keyed by column. */
  async recipients(
    campaignId: string,
    offset: number,
    limit: number,
  ): Promise<Array<Record<string, string>>> {
    const [columns, rows] = await this.page(campaignId, offset, limit);
    return rows.map((row) => decodeRow(row, columns));
  }

  /** Every row of the campaign, `batchSize` at a time: never the whole list in memory. */
  async *rowBatches(campaignId: string, batchSize: number): AsyncGenerator<InputRow[]> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size ${batchSize}`);
    for (let offset = 0; ; offset += batchSize) {
      const [columns, rows] = await this.page(campaignId, offset, batchSize);
      if (rows.length > 0) {
        yield rows.map((row, i) => ({
          source: "campaign",
          row: offset + i + 1,
          values: decodeRow(row, columns),
        }));
      }
      if (rows.length < batchSize) return;
    }
  }

  /** The stored column order with the rows it decodes, read together. */
  private async page(campaignId: string, offset: number, limit: number): Promise<[string[], string[]]> {
    const results = await this.redis
      .multi()
      .hget(this.keys.campaign(campaignId), "columns")
      .lrange(this.keys.campaignRecipients(campaignId), offset, offset + limit - 1)
      .exec();
    if (!results) throw new Error(`campaign ${campaignId}: reading a page was aborted`);
    const [[columnsErr, columns], [rowsErr, rows]] = results as [
      [Error | null, string | null],
      [Error | null, string[]],
    ];
    if (columnsErr) throw columnsErr;
    if (rowsErr) throw rowsErr;
    return [parseColumns(columns), rows];
  }

  async delete(campaignId: string): Promise<boolean> {
    const [[, removed]] = (await this.redis
      .multi()
      .del(this.keys.campaign(campaignId))
      .del(this.keys.campaignRecipients(campaignId))
      .zrem(this.keys.campaigns, campaignId)
      .exec()) as [[unknown, number]];
    return removed === 1;
  }
}

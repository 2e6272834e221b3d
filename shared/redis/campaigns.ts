// Campaigns: saved recipient segments. Rows are stored normalized (E.164 phone, lower-case
// columns) so a blast from a campaign only renders its template.
import type { Redis } from "ioredis";
import type { InputRow, Recipient } from "../domain/recipients.ts";
import { appKeys } from "./keys.ts";

export interface CampaignSummary {
  readonly campaignId: string;
  readonly name: string;
  readonly total: number;
  readonly columns: string[];
  readonly createdAt: string;
}

export class CampaignStore {
  private readonly keys: ReturnType<typeof appKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = appKeys(prefix);
  }

  /** Stores the whole campaign in one transaction; false when the id is taken. */
  async create(summary: CampaignSummary, recipients: readonly Recipient[]): Promise<boolean> {
    const key = this.keys.campaign(summary.campaignId);
    const claimed = await this.redis.hsetnx(key, "campaignId", summary.campaignId);
    if (claimed === 0) return false;
    const multi = this.redis.multi();
    multi.hset(key, {
      name: summary.name,
      total: String(summary.total),
      columns: JSON.stringify(summary.columns),
      createdAt: summary.createdAt,
    });
    const listKey = this.keys.campaignRecipients(summary.campaignId);
    for (let i = 0; i < recipients.length; i += 5000) {
      multi.rpush(listKey, ...recipients.slice(i, i + 5000).map((r) => JSON.stringify(r.values)));
    }
    multi.zadd(this.keys.campaigns, Date.parse(summary.createdAt), summary.campaignId);
    await multi.exec();
    return true;
  }

  async get(campaignId: string): Promise<CampaignSummary | undefined> {
    const h = await this.redis.hgetall(this.keys.campaign(campaignId));
    if (!h.campaignId || !h.createdAt) return undefined;
    return {
      campaignId,
      name: h.name ?? "",
      total: Number(h.total ?? 0),
      columns: JSON.parse(h.columns ?? "[]") as string[],
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

  async recipients(
    campaignId: string,
    offset: number,
    limit: number,
  ): Promise<Array<Record<string, string>>> {
    const rows = await this.redis.lrange(
      this.keys.campaignRecipients(campaignId),
      offset,
      offset + limit - 1,
    );
    return rows.map((r) => JSON.parse(r) as Record<string, string>);
  }

  async rows(campaignId: string): Promise<InputRow[]> {
    const all = await this.redis.lrange(this.keys.campaignRecipients(campaignId), 0, -1);
    return all.map((json, i) => ({
      source: "campaign",
      row: i + 1,
      values: JSON.parse(json) as Record<string, string>,
    }));
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

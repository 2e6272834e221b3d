// The rows of blasts that wait (scheduled, drafts) until they start: stored as the campaigns are
// (compact rows, written to a draft and renamed into place), under a prefix of their own.
import { CampaignStore } from "../../../shared/redis/campaigns.ts";
import { keptRecipientsPrefix } from "../../../shared/redis/keys.ts";
import type { GatewayDeps } from "../deps.ts";

export function keptRecipientsOf(deps: Pick<GatewayDeps, "redis" | "config">): CampaignStore {
  return new CampaignStore(deps.redis, keptRecipientsPrefix(deps.config.REDIS_PREFIX));
}

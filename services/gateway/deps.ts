import type { Redis } from "ioredis";
import type { Config } from "../../shared/config/config.ts";
import type { Nats } from "../../shared/nats/connection.ts";
import type { CampaignStore } from "../../shared/redis/campaigns.ts";
import type { BlastProjection } from "../../shared/redis/projection.ts";
import type { SessionRegistry } from "../../shared/redis/sessions.ts";
import type { SuppressionList } from "../../shared/redis/suppression.ts";

/** What the gateway's plugins are given; built in main.ts (or a test) and decorated on the app. */
export interface GatewayDeps {
  readonly config: Config;
  readonly nats: Nats;
  readonly redis: Redis;
  readonly projection: BlastProjection;
  readonly sessions: SessionRegistry;
  readonly campaigns: CampaignStore;
  /** Numbers that opted out: checked when a blast is planned, and changed through the API. */
  readonly suppression: SuppressionList;
}

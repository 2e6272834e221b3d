// The shapes the console reads from the API and the WebSockets (see the OpenAPI document).
import type {
  AccountProgress as DomainAccountProgress,
  BlastProgress as DomainProgress,
} from "../../../../shared/domain/blast.ts";
import type { ImportProgress } from "../../blasts/blastCommands.ts";
import type { BlastReply } from "../../../../shared/redis/projection.ts";
import type { PacingOverrides } from "../../../../shared/domain/pacing.ts";
import type { QrUpdateMessage, SessionStatusMessage } from "../../../../shared/messages/sessionEvents.ts";
import type { DeliveryEntry } from "../../../../shared/redis/webhookDeliveries.ts";
import type { WebhookView } from "../../webhooks/webhookCommands.ts";

export type { QrUpdateMessage, SessionStatusMessage };
/** A recipient's first reply (GET /api/blasts/:id/replies). */
export type { BlastReply };
export type BlastProgress = DomainProgress;
/** One account of a blast's pool: its outcomes, and why it takes no work when it is paused. */
export type AccountProgress = DomainAccountProgress;

export interface Session {
  sessionId: string;
  status: string;
  reason?: string;
  account?: string;
  owner?: string;
  updatedAt?: string;
  /** The account's proxy, password shown as ***. */
  proxy?: string;
  /** The warm-up ramp today; absent when the account has none. */
  warmup?: WarmupStatus;
  /** This month's messages to people who have not replied, against the account's budget. */
  unreplied: UnrepliedStatus;
}

export interface UnrepliedStatus {
  /** The calendar month counted, UTC: `YYYY-MM`. */
  month: string;
  sent: number;
  /** 0: no budget. */
  budget: number;
  /** The account's own budget; absent: the deployment's applies. */
  ownBudget?: number;
  reached: boolean;
}

export interface WarmupStatus {
  day: number;
  todayCap: number;
  sentToday: number;
  complete: boolean;
  startedAt?: string;
  nextDayAt?: string;
}

/** The account's own pacing settings (GET/PUT /api/sessions/:id/pacing). */
export type SessionPacing = PacingOverrides;

/**
 * A blast's status, with the two a blast has before it starts: `scheduled` (it starts by itself at
 * `scheduledFor`) and `draft` (saved, starting only when someone starts or schedules it).
 */
export type BlastStatus = BlastProgress["status"] | "scheduled" | "draft";

/** A file of the media library (GET /api/media), as a blast's summary names it too. */
export interface MediaItem {
  mediaId: string;
  kind: "image" | "video" | "document" | "audio";
  mimetype: string;
  fileName: string;
  size: number;
  sha256: string;
  createdAt?: string;
}

export interface MessageVariant {
  text: string;
  weight?: number;
}

/** A blast's own frequency cap; null: sent without one. */
export type FrequencyCap = { max: number; periodHours: number } | null;

export interface BlastSummary extends Omit<BlastProgress, "status"> {
  status: BlastStatus;
  /** The first account of the pool, kept for clients from before pools. */
  sessionId: string;
  campaignId?: string;
  template: string;
  rejected: number;
  duplicates: number;
  createdAt: string;
  updatedAt: string;
  reason: string;
  media?: MediaItem;
  /** When a scheduled blast starts, UTC. */
  scheduledFor?: string;
  /** The zone its start was given in. */
  timeZone?: string;
  variants?: MessageVariant[];
  pacing?: SessionPacing;
  frequencyCap?: FrequencyCap;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

export interface RejectedRow {
  source: "campaign" | "file" | "body";
  row: number;
  phone: string;
  reason: string;
}

export interface BlastPreview {
  total: number;
  duplicates: number;
  rejected: { count: number; sample: RejectedRow[] };
  messages: Array<{ idx: number; phone: string; name?: string; text: string; variant?: string }>;
  /** With variants or spintax: recipients per variant and the first one's message. */
  variants?: Array<{ variant: string; count: number; sample?: string }>;
}

/** What POST /api/blasts/test-send answers: the message and where it went. */
export interface TestSent {
  sessionId: string;
  text: string;
  variant?: string;
  sent: Array<{ to: string; messageId: string }>;
}

export interface CreatedBlast {
  blastId: string;
  /** Absent from gateways older than scheduling, which only start blasts. */
  status?: "running" | "scheduled" | "draft";
  scheduledFor?: string;
  total: number;
  duplicates: number;
  rejected: { count: number; sample: RejectedRow[] };
}

export interface Campaign {
  campaignId: string;
  name: string;
  total: number;
  columns: string[];
  createdAt: string;
}

/**
 * The socket's first message is read from the blast's summary without the pool; the projector's
 * updates that follow carry it. A page keeps the pool figures it has when a message lacks them.
 */
export type BlastProgressMessage = Omit<BlastProgress, "sessionIds" | "bySession" | "status"> &
  Partial<Pick<BlastProgress, "sessionIds" | "bySession">> & { status: BlastStatus; type: "blast_progress" };

/** What `/?importId=` sends while an upload's request runs. */
export type ImportProgressMessage = ImportProgress;

/** One number on the suppression list (GET /api/suppression). */
export interface SuppressionEntry {
  phone: string;
  source: "keyword" | "api" | "import";
  reason?: string;
  sessionId?: string;
  messageId?: string;
  text?: string;
  at: string;
}

/** What adding numbers or importing a list did (POST /api/suppression, /api/suppression/import). */
export interface SuppressionChange {
  added: number;
  alreadyListed: number;
  duplicates: number;
  rejected: { count: number; sample: RejectedRow[] };
}

/** A webhook endpoint (GET /api/webhooks): never its secret. */
export type Webhook = WebhookView & { queued?: number; dead?: number };

/** One event in an endpoint's delivery log (GET /api/webhooks/:id/deliveries). */
export type WebhookDelivery = DeliveryEntry;

// The shapes the console reads from the API and the WebSockets (see the OpenAPI document).
import type { BlastProgress as DomainProgress } from "../../../../shared/domain/blast.ts";
import type { QrUpdateMessage, SessionStatusMessage } from "../../../../shared/messages/sessionEvents.ts";

export type { QrUpdateMessage, SessionStatusMessage };
export type BlastProgress = DomainProgress;

export interface Session {
  sessionId: string;
  status: string;
  reason?: string;
  account?: string;
  owner?: string;
  updatedAt?: string;
}

export interface BlastSummary extends BlastProgress {
  sessionId: string;
  campaignId?: string;
  template: string;
  rejected: number;
  duplicates: number;
  createdAt: string;
  updatedAt: string;
  reason: string;
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
  messages: Array<{ idx: number; phone: string; name?: string; text: string }>;
}

export interface CreatedBlast {
  blastId: string;
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

export type BlastProgressMessage = BlastProgress & { type: "blast_progress" };

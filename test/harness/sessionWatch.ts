// A WebSocket client on `/?sessionId=`, as the console is: it keeps every `session_status` and
// `qr_update` it receives, so tests can wait for the next one that matches.
import WebSocket from "ws";
import type { SessionEventMessage } from "../../shared/messages/sessionEvents.ts";
import type { Platform } from "./platform.ts";

export interface SessionWatch {
  readonly received: SessionEventMessage[];
  /** Resolves with the first message from index `from` on that matches. */
  next<T extends SessionEventMessage>(
    match: (m: SessionEventMessage) => m is T,
    opts?: { from?: number; timeoutMs?: number },
  ): Promise<T>;
  close(): void;
}

export const isQr = (m: SessionEventMessage): m is Extract<SessionEventMessage, { type: "qr_update" }> =>
  m.type === "qr_update";

export const hasStatus =
  (status: string) =>
  (m: SessionEventMessage): m is Extract<SessionEventMessage, { type: "session_status" }> =>
    m.type === "session_status" && m.status === status;

/** Where the gateway listens and how to sign in to it: a whole platform, or a gateway on its own. */
export type GatewaySocketTarget = Pick<Platform, "wsUrl" | "authHeaders">;

/** `timeoutMs` is how long `next` waits unless it is told otherwise. */
export async function watchSession(
  gateway: GatewaySocketTarget,
  sessionId: string,
  { timeoutMs: defaultTimeoutMs = 20_000 }: { timeoutMs?: number } = {},
): Promise<SessionWatch> {
  const socket = new WebSocket(`${gateway.wsUrl}/?sessionId=${sessionId}`, {
    headers: gateway.authHeaders,
  });
  const received: SessionEventMessage[] = [];
  const waiters = new Set<() => void>();
  socket.on("message", (raw) => {
    received.push(JSON.parse(String(raw)) as SessionEventMessage);
    for (const wake of waiters) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return {
    received,
    next(match, { from = 0, timeoutMs = defaultTimeoutMs } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.slice(from).find(match);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching session event on ${sessionId}; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => socket.close(),
  };
}

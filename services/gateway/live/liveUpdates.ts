// WebSocket at `/`: `?blastId=` streams `blast_progress`, `?sessionId=` streams `qr_update` and
// `session_status`, `?importId=` streams an upload's `import_progress` while its request runs (a
// plain GET of `/` is sent to the console). One NATS subscription per kind
// fans out to every socket watching that id; a new socket first gets the current state (for a
// session showing a QR, the code too), so it never waits for the next change to see anything.
// Sockets are capped in total and per API key, and a socket is one-way: a client that talks is
// closed.
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { progressOf } from "../../../shared/domain/blast.ts";
import { isValidId } from "../../../shared/domain/ids.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";
import { presentedKey } from "../http/auth.ts";
import { HttpError } from "../http/errors.ts";
import { currentQr, outdatesStoredQr } from "./currentQr.ts";

const decoder = new TextDecoder();

class Watchers {
  private readonly byId = new Map<string, Set<WebSocket>>();

  add(id: string, socket: WebSocket): void {
    let set = this.byId.get(id);
    if (!set) this.byId.set(id, (set = new Set()));
    set.add(socket);
    socket.once("close", () => {
      set.delete(socket);
      if (set.size === 0) this.byId.delete(id);
    });
  }

  send(id: string, text: string): void {
    for (const socket of this.of(id)) if (socket.readyState === socket.OPEN) socket.send(text);
  }

  of(id: string): ReadonlySet<WebSocket> {
    return this.byId.get(id) ?? new Set();
  }

  get count(): number {
    let n = 0;
    for (const set of this.byId.values()) n += set.size;
    return n;
  }
}

/** Open sockets in total and per client; a client is the digest of its API key. */
class SocketBudget {
  private total = 0;
  private readonly byClient = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerClient: number,
  ) {}

  refusal(client: string): string | undefined {
    if (this.total >= this.maxTotal) return "the gateway has too many live connections; retry later";
    if ((this.byClient.get(client) ?? 0) >= this.maxPerClient) {
      return `at most ${this.maxPerClient} live connections per API key`;
    }
    return undefined;
  }

  admit(client: string, socket: WebSocket): boolean {
    if (this.refusal(client) !== undefined) return false;
    this.total++;
    this.byClient.set(client, (this.byClient.get(client) ?? 0) + 1);
    socket.once("close", () => {
      this.total--;
      const left = (this.byClient.get(client) ?? 1) - 1;
      if (left === 0) this.byClient.delete(client);
      else this.byClient.set(client, left);
    });
    return true;
  }
}

function socketClient(request: FastifyRequest): string {
  return createHash("sha256")
    .update(presentedKey(request) ?? request.ip)
    .digest("hex");
}

/** WebSocket close code 1013, "try again later": the server is over capacity. */
const TRY_AGAIN_LATER = 1013;
/** WebSocket close code 1008: the client broke the protocol (these sockets only send). */
const POLICY_VIOLATION = 1008;

export async function liveUpdates(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const blastWatchers = new Watchers();
  const sessionWatchers = new Watchers();
  const importWatchers = new Watchers();
  const budget = new SocketBudget(deps.config.WS_MAX_CLIENTS, deps.config.WS_MAX_CLIENTS_PER_KEY);

  const progress = deps.nats.nc.subscribe(subjects.allBlastProgress, {
    callback: (err, msg) => {
      if (!err) blastWatchers.send(msg.subject.split(".")[1] ?? "", decoder.decode(msg.data));
    },
  });
  const imports = deps.nats.nc.subscribe(subjects.allImportProgress, {
    callback: (err, msg) => {
      if (!err) importWatchers.send(msg.subject.split(".")[1] ?? "", decoder.decode(msg.data));
    },
  });
  /** Sockets that, since they joined, got a live event that makes the stored QR not worth sending. */
  const pastStoredQr = new WeakSet<WebSocket>();
  const sessionEvents = deps.nats.nc.subscribe(subjects.allSessionEvents, {
    callback: (err, msg) => {
      if (err) return;
      const sessionId = msg.subject.split(".")[1] ?? "";
      const watchers = sessionWatchers.of(sessionId);
      if (watchers.size === 0) return;
      const text = decoder.decode(msg.data);
      if (outdatesStoredQr(msg.subject, text)) for (const socket of watchers) pastStoredQr.add(socket);
      sessionWatchers.send(sessionId, text);
    },
  });
  app.addHook("onClose", async () => {
    progress.unsubscribe();
    sessionEvents.unsubscribe();
    imports.unsubscribe();
  });

  app.route({
    method: "GET",
    url: "/",
    schema: { hide: true },
    // Refused before the upgrade, so a flood of sockets costs a short HTTP answer each.
    onRequest: async (request) => {
      if (!request.ws) return;
      const refusal = budget.refusal(socketClient(request));
      if (refusal !== undefined) throw new HttpError(429, refusal);
    },
    // A browser opening the gateway's address gets the console; only upgrades reach the sockets.
    handler: async (_request, reply) => reply.redirect("/console", 302),
    wsHandler: (socket, request) => {
      // Two upgrades can pass the check above at once; the second is closed here instead.
      if (!budget.admit(socketClient(request), socket)) {
        socket.close(TRY_AGAIN_LATER, "too many live connections");
        return;
      }
      socket.on("message", () => socket.close(POLICY_VIOLATION, "this socket only sends updates"));
      const query = request.query as Record<string, unknown>;
      const { blastId, sessionId, importId } = query;
      const refuse = (message: string) => {
        socket.send(JSON.stringify({ type: "error", message }));
        socket.close(POLICY_VIOLATION, message.slice(0, 120));
      };
      if (blastId !== undefined) {
        if (!isValidId(blastId)) return refuse("invalid blastId");
        blastWatchers.add(blastId, socket);
        void deps.projection.state(blastId).then((state) => {
          if (state.status === "none") return refuse(`blast ${blastId} not found`);
          // The same snapshot the projector publishes afterwards, per-account figures included.
          socket.send(JSON.stringify({ type: "blast_progress", ...progressOf(state) }));
        });
        return;
      }
      if (sessionId !== undefined) {
        if (!isValidId(sessionId)) return refuse("invalid sessionId");
        sessionWatchers.add(sessionId, socket);
        void deps.sessions
          .get(sessionId)
          .then(async (record) => {
            if (!record) return refuse(`session ${sessionId} not found`);
            socket.send(
              JSON.stringify({
                type: "session_status",
                ...record,
                at: record.updatedAt ?? new Date().toISOString(),
              }),
            );
            // The sender published the code once, before this socket joined; `connect` on a session
            // already showing one publishes nothing either (Baileys keeps the socket it has).
            if (record.status !== "qr") return;
            const qr = await currentQr(deps.nats.jsm, sessionId);
            if (qr !== undefined && !pastStoredQr.has(socket) && socket.readyState === socket.OPEN) {
              socket.send(qr);
            }
          })
          .catch((err: unknown) =>
            request.log.warn({ err, sessionId }, "could not send the session's state"),
          );
        return;
      }
      if (importId !== undefined) {
        // Progress exists only while the import's request runs: nothing to send until it starts.
        if (!isValidId(importId)) return refuse("invalid importId");
        importWatchers.add(importId, socket);
        return;
      }
      refuse("connect with ?blastId=<id>, ?sessionId=<id> or ?importId=<id>");
    },
  });
}

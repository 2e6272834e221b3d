// WebSocket at `/`: `?blastId=` streams `blast_progress`, `?sessionId=` streams `qr_update` and
// `session_status` (a plain GET of `/` is sent to the console). One NATS subscription per kind
// fans out to every socket watching that id; a new socket first gets the current state, so it
// never waits for the next change to see anything.
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import { isValidId } from "../../../shared/domain/ids.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { GatewayDeps } from "../deps.ts";

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
    for (const socket of this.byId.get(id) ?? []) if (socket.readyState === socket.OPEN) socket.send(text);
  }

  get count(): number {
    let n = 0;
    for (const set of this.byId.values()) n += set.size;
    return n;
  }
}

export async function liveUpdates(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const blastWatchers = new Watchers();
  const sessionWatchers = new Watchers();

  const progress = deps.nats.nc.subscribe(subjects.allBlastProgress, {
    callback: (err, msg) => {
      if (!err) blastWatchers.send(msg.subject.split(".")[1] ?? "", decoder.decode(msg.data));
    },
  });
  const sessionEvents = deps.nats.nc.subscribe(subjects.allSessionEvents, {
    callback: (err, msg) => {
      if (!err) sessionWatchers.send(msg.subject.split(".")[1] ?? "", decoder.decode(msg.data));
    },
  });
  app.addHook("onClose", async () => {
    progress.unsubscribe();
    sessionEvents.unsubscribe();
  });

  app.route({
    method: "GET",
    url: "/",
    schema: { hide: true },
    // A browser opening the gateway's address gets the console; only upgrades reach the sockets.
    handler: async (_request, reply) => reply.redirect("/console", 302),
    wsHandler: (socket, request) => {
      const query = request.query as Record<string, unknown>;
      const { blastId, sessionId } = query;
      const refuse = (message: string) => {
        socket.send(JSON.stringify({ type: "error", message }));
        socket.close(1008, message.slice(0, 120));
      };
      if (blastId !== undefined) {
        if (!isValidId(blastId)) return refuse("invalid blastId");
        blastWatchers.add(blastId, socket);
        void deps.projection.summary(blastId).then((summary) => {
          if (!summary) return refuse(`blast ${blastId} not found`);
          const { blastId: id, status, total, sent, failed, inDoubt, delivered, read, pending } = summary;
          const progress = {
            type: "blast_progress",
            blastId: id,
            status,
            total,
            sent,
            failed,
            inDoubt,
            delivered,
            read,
            pending,
          };
          socket.send(JSON.stringify(progress));
        });
        return;
      }
      if (sessionId !== undefined) {
        if (!isValidId(sessionId)) return refuse("invalid sessionId");
        sessionWatchers.add(sessionId, socket);
        void deps.sessions.get(sessionId).then((record) => {
          if (!record) return refuse(`session ${sessionId} not found`);
          socket.send(
            JSON.stringify({
              type: "session_status",
              ...record,
              at: record.updatedAt ?? new Date().toISOString(),
            }),
          );
        });
        return;
      }
      refuse("connect with ?blastId=<id> or ?sessionId=<id>");
    },
  });
}

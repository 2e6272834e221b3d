// A webhook receiver on loopback for tests, built the way the README tells receivers to be: it
// checks every request's signature against the secrets it was given, and dedupes on the event id
// (an event processed twice counts once). Each path answers from a script (500, hang past the
// sender's timeout, close the socket, accept), then with its default; a request can be held
// unanswered while a test kills the sender.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verifySignature, WEBHOOK_HEADERS } from "../../shared/domain/webhookSignature.ts";

export type Answer = "ok" | "fail" | "hang" | "slam";

export interface ReceivedRequest {
  readonly path: string;
  readonly eventId: string;
  readonly type: string;
  readonly attempt: number;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  readonly signatureValid: boolean;
  readonly answer: Answer | "held";
}

interface PathState {
  script: Answer[];
  fallback: Answer;
  delayMs: number;
  secrets: string[];
  /** Event ids processed, in the order first processed. */
  processed: string[];
  seen: Set<string>;
  duplicates: number;
  hold: { arrived: () => void; released: Promise<void> } | undefined;
}

export interface HeldRequest {
  /** Resolves when the next request reaches the path (it is processed, and left unanswered). */
  readonly arrived: Promise<void>;
  /** Answers it 200, if anyone is still listening. */
  release(): void;
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : (value ?? "");
};

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly paths = new Map<string, PathState>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const receiver = new WebhookReceiver(server, (server.address() as AddressInfo).port);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => receiver.handle(req, res));
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  private state(path: string): PathState {
    let state = this.paths.get(path);
    if (!state) {
      state = {
        script: [],
        fallback: "ok",
        delayMs: 0,
        secrets: [],
        processed: [],
        seen: new Set(),
        duplicates: 0,
        hold: undefined,
      };
      this.paths.set(path, state);
    }
    return state;
  }

  /** The secrets a request to the path may be signed with (one is enough). */
  trust(path: string, ...secrets: string[]): void {
    this.state(path).secrets = secrets;
  }

  /** The next requests' answers, then `fallback` for every one after. */
  script(path: string, answers: Answer[], fallback: Answer = "ok"): void {
    const state = this.state(path);
    state.script = [...answers];
    state.fallback = fallback;
  }

  /** How long an accepted request waits before its 200. */
  slow(path: string, delayMs: number): void {
    this.state(path).delayMs = delayMs;
  }

  holdNext(path: string): HeldRequest {
    let arrived!: () => void;
    let release!: () => void;
    const arrivedPromise = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.state(path).hold = { arrived, released };
    return { arrived: arrivedPromise, release };
  }

  /** Event ids the path processed, each once, in the order it first did. */
  processed(path: string): string[] {
    return [...this.state(path).processed];
  }

  /** Requests for an event the path had already processed (dropped by its dedupe). */
  duplicates(path: string): number {
    return this.state(path).duplicates;
  }

  requestsTo(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const state = this.state(path);
      const hold = state.hold;
      state.hold = undefined;
      const answer: Answer | "held" = hold ? "held" : (state.script.shift() ?? state.fallback);
      const timestamp = header(req, WEBHOOK_HEADERS.timestamp);
      const signature = header(req, WEBHOOK_HEADERS.signature);
      const now = Math.floor(Date.now() / 1000);
      const eventId = header(req, WEBHOOK_HEADERS.eventId);
      this.requests.push({
        path,
        eventId,
        type: header(req, WEBHOOK_HEADERS.eventType),
        attempt: Number(header(req, WEBHOOK_HEADERS.attempt)),
        timestamp,
        signature,
        body,
        signatureValid: state.secrets.some((secret) =>
          verifySignature({ secret, header: signature, timestamp, body, now }),
        ),
        answer,
      });
      if (answer === "slam") return req.socket.destroy();
      if (answer === "hang") {
        this.hanging.add(res);
        res.on("close", () => this.hanging.delete(res));
        return;
      }
      if (answer === "fail") return void res.writeHead(500).end("not now");
      // Processed before answering, as a receiver with side effects would: a sender that dies
      // before it reads the 200 sends the event again, and the dedupe drops it.
      if (state.seen.has(eventId)) state.duplicates++;
      else {
        state.seen.add(eventId);
        state.processed.push(eventId);
      }
      res.on("error", () => undefined);
      if (hold) {
        hold.arrived();
        void hold.released.then(() => res.writeHead(200).end("ok"));
        return;
      }
      setTimeout(() => res.writeHead(200).end("ok"), state.delayMs);
    });
  }
}

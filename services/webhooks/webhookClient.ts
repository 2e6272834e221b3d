// One webhook request: a POST of the signed body to the endpoint, under the SSRF rule, with one
// deadline for connecting and the receiver's answer, and no redirects (a 3xx is a failed attempt:
// following it would let a public URL bounce the request into the private network). The answer's
// body is drained up to a cap and otherwise ignored.
import http from "node:http";
import https from "node:https";
import { checkWebhookUrl, type TargetPolicy } from "../../shared/domain/webhookTargets.ts";
import { guardedLookup } from "../../shared/net/webhookTargetResolver.ts";

/** Read (and dropped) from an answer before the socket is closed instead. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface AttemptResult {
  readonly delivered: boolean;
  readonly httpStatus?: number;
  readonly latencyMs: number;
  /** Why it failed, for the delivery log. */
  readonly error?: string;
}

function describe(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  if (code === "ETARGETREFUSED") return message ?? "target refused";
  if (code === "ECONNRESET" || message === "socket hang up") return "connection closed by the receiver";
  if (code) return `${code}${message && !message.includes(code) ? `: ${message}` : ""}`;
  return message ?? String(err);
}

export class WebhookClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(
    private readonly policy: TargetPolicy,
    private readonly timeoutMs: number,
  ) {
    // Kept-alive connections save a handshake per event; each new one goes through the guard.
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  }

  post(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = checkWebhookUrl(url, this.policy);
    if (!target.ok)
      return Promise.resolve({ delivered: false, latencyMs: 0, error: `refused: ${target.reason}` });
    const secure = target.url.startsWith("https:");
    return new Promise((resolve) => {
      let done = false;
      const finish = (result: Omit<AttemptResult, "latencyMs">) => {
        if (done) return;
        done = true;
        resolve({ ...result, latencyMs: elapsed() });
      };
      const request = (secure ? https : http).request(target.url, {
        method: "POST",
        agent: secure ? this.httpsAgent : this.httpAgent,
        lookup: guardedLookup(this.policy),
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "wa-blast-webhooks/1",
        },
      });
      const deadline = setTimeout(() => {
        request.destroy(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      request.on("response", (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) finish({ delivered: true, httpStatus: status });
        else if (status >= 300 && status < 400) {
          finish({
            delivered: false,
            httpStatus: status,
            error: `redirect to ${response.headers.location ?? "?"} not followed`,
          });
        } else finish({ delivered: false, httpStatus: status, error: `HTTP ${status}` });
        let read = 0;
        response.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        response.on("close", () => clearTimeout(deadline));
        response.on("error", () => clearTimeout(deadline));
      });
      request.on("error", (err) => {
        clearTimeout(deadline);
        finish({ delivered: false, error: describe(err) });
      });
      request.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

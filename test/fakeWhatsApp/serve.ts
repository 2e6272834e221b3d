// Runs the fake WhatsApp server for a local demo: point a sender at the printed URL
// (WA_TRANSPORT=baileys WA_WEBSOCKET_URL=...) and play the phone through a small HTTP API.
// Loopback only. Run: FAKE_WA_PORT=5280 npx tsx test/fakeWhatsApp/serve.ts
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeWhatsApp, type Disconnect } from "./fakeWhatsAppServer.ts";

const host = "127.0.0.1";
const port = Number(process.env.FAKE_WA_PORT ?? 5280);
const controlPort = Number(process.env.FAKE_WA_CONTROL_PORT ?? port + 1);

const wa = await startFakeWhatsApp({
  host,
  port,
  media: true,
  // Slow enough for a person to watch the statuses change.
  receipts: {
    deliveredAfterMs: Number(process.env.FAKE_WA_DELIVERED_MS ?? 1000),
    readAfterMs: Number(process.env.FAKE_WA_READ_MS ?? 3000),
  },
});

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  const parsed: unknown = text ? JSON.parse(text) : {};
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error("expected a JSON object");
  return Object.fromEntries(Object.entries(parsed));
}

function text(value: unknown, name: string): string {
  if (typeof value !== "string" || !value) throw new Error(`"${name}" must be a non-empty string`);
  return value;
}

function numberList(value: unknown): string[] | "all" {
  if (value === "all") return value;
  if (Array.isArray(value) && value.every((n): n is string => typeof n === "string")) return value;
  throw new Error('"numbers" is "all" or an array of phone numbers');
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(`${JSON.stringify(value, null, 2)}\n`);
}

/** One handler per route: each is something the account's phone or WhatsApp itself would do. */
const routes: Record<string, (input: Record<string, unknown>) => Promise<unknown> | unknown> = {
  "GET /state": () => ({
    url: wa.url,
    pendingQrRefs: wa.pendingQrRefs().length,
    connections: wa.connectionLog(),
    sent: wa.sent().map(({ message: _message, copies, media, ...rest }) => ({
      ...rest,
      devices: copies.map((c) => c.device),
      ...(media ? { media: { kind: media.kind, bytes: media.bytes?.length, error: media.error } } : {}),
    })),
  }),
  // A person writes to the linked account (a reply quotes one of its message ids).
  "POST /message": async (input) =>
    wa.sendFromPhone(text(input.from, "from"), text(input.to, "to"), {
      text: text(input.text, "text"),
      ...(typeof input.quotedId === "string" ? { quotedId: input.quotedId } : {}),
    }),
  "POST /lid-addressed": (input) => {
    wa.setLidAddressed(numberList(input.numbers));
    return { ok: true };
  },
  "POST /scan": async (input) => ({
    device: await wa.scanQr(text(input.qr, "qr"), text(input.phone, "phone")),
  }),
  "POST /pairing-code": async (input) => ({
    device: await wa.enterPairingCode(text(input.phone, "phone"), text(input.code, "code")),
  }),
  "POST /disconnect": (input) => {
    const how = typeof input.how === "number" ? input.how : text(input.how, "how");
    const valid = typeof how === "number" || how === "close" || how === "replaced" || how === "logout";
    if (!valid) throw new Error('"how" is "close", "replaced", "logout" or a status code');
    return { closed: wa.disconnect(text(input.phone, "phone"), how as Disconnect) };
  },
  "POST /fail": (input) => {
    wa.failMessages({
      error: text(input.error, "error"),
      ...(typeof input.to === "string" ? { to: input.to } : {}),
      ...(typeof input.times === "number" ? { times: input.times } : {}),
    });
    return { ok: true };
  },
  "POST /restrict-new-contacts": (input) => {
    wa.restrictNewContacts(input.on !== false);
    return { ok: true };
  },
  "POST /registered-numbers": (input) => {
    wa.setRegisteredNumbers(numberList(input.numbers));
    return { ok: true };
  },
};

const control = createServer((req, res) => {
  const route = routes[`${req.method} ${req.url?.split("?")[0]}`];
  if (!route) return reply(res, 404, { error: "unknown route", routes: Object.keys(routes) });
  body(req)
    .then(route)
    .then(
      (value) => reply(res, 200, value),
      (err: unknown) => reply(res, 400, { error: err instanceof Error ? err.message : String(err) }),
    );
});
control.listen(controlPort, host);

console.log(`fake WhatsApp listening: WA_WEBSOCKET_URL=${wa.url}`);
if (wa.mediaHost) {
  const caFile = join(tmpdir(), "fake-whatsapp-media-ca.pem");
  writeFileSync(caFile, wa.mediaHost.caPem);
  console.log(
    `media host: https://${wa.mediaHost.hostname} (start the sender with NODE_EXTRA_CA_CERTS=${caFile})`,
  );
}
console.log(`control API: http://${host}:${controlPort}  (${Object.keys(routes).join(", ")})`);

const stop = () => {
  control.close();
  void wa.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

// Floods of WebSockets: open sockets are capped per API key and in total (a refused upgrade gets
// a 429), a closed socket frees its place, and a client that sends anything is closed with 1008.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { startGatewayApp, type GatewayUnderTest } from "../../harness/gatewayApp.ts";
import { startServers, type Servers } from "../../harness/servers.ts";

const KEY_A = "socket-key-a-0123456789abcdef";
const KEY_B = "socket-key-b-0123456789abcdef";

describe("WebSocket limits", () => {
  let servers: Servers;
  let gw: GatewayUnderTest;
  let url: string;
  const open: WebSocket[] = [];

  before(async () => {
    servers = await startServers();
    gw = await startGatewayApp(servers, {
      API_KEYS: `${KEY_A},${KEY_B}`,
      WS_MAX_CLIENTS: "3",
      WS_MAX_CLIENTS_PER_KEY: "2",
    });
    url = `${(await gw.app.listen({ port: 0, host: "127.0.0.1" })).replace("http", "ws")}/?sessionId=s1`;
  });
  after(async () => {
    for (const socket of open) socket.terminate();
    await gw?.close();
    await servers?.dispose();
  });

  /** The upgrade's answer: 101 with the open socket, or the refusal's status and JSON body. */
  function connect(key: string): Promise<{ status: number; socket?: WebSocket; body?: string }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
      socket.once("unexpected-response", (req, res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body });
          req.destroy();
        });
      });
      // The first message (the session's status) means the server kept the socket.
      socket.once("message", () => {
        open.push(socket);
        resolve({ status: 101, socket });
      });
      socket.once("error", reject);
    });
  }

  const closed = (socket: WebSocket) =>
    new Promise<number>((resolve) => socket.once("close", (code: number) => resolve(code)));

  it("caps sockets per key and in total with a JSON 429, and frees a place on close", async () => {
    const a1 = await connect(KEY_A);
    const a2 = await connect(KEY_A);
    assert.deepEqual([a1.status, a2.status], [101, 101]);
    const a3 = await connect(KEY_A);
    assert.equal(a3.status, 429);
    assert.match(JSON.parse(a3.body ?? "{}").message, /at most 2 live connections per API key/);

    assert.equal((await connect(KEY_B)).status, 101);
    const b2 = await connect(KEY_B);
    assert.equal(b2.status, 429, "the gateway's total is reached");
    assert.match(JSON.parse(b2.body ?? "{}").message, /too many live connections/);

    const socket = a1.socket;
    assert.ok(socket);
    const done = closed(socket);
    socket.close();
    await done;
    await waitFor(async () => (await connect(KEY_B)).status === 101);
  });

  it("closes a socket that sends anything with 1008: these sockets only send", async () => {
    for (const socket of open.splice(0)) {
      if (socket.readyState === WebSocket.CLOSED) continue;
      const done = closed(socket);
      socket.close();
      await done;
    }
    const { socket } = await waitForSocket(KEY_A);
    const code = closed(socket);
    socket.send("hello?");
    assert.equal(await code, 1008);
  });

  async function waitForSocket(key: string): Promise<{ socket: WebSocket }> {
    let result: { socket?: WebSocket } = {};
    await waitFor(async () => {
      result = await connect(key);
      return result.socket !== undefined;
    });
    assert.ok(result.socket);
    return { socket: result.socket };
  }
});

/** A closed socket's place is freed when the server sees the close, a moment after the client. */
async function waitFor(check: () => Promise<boolean>, attempts = 50): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail("condition never held");
}

// Real proxies on loopback for the transport's tests: an HTTP CONNECT proxy (`proxy`, TooTallNate's)
// and a SOCKS5 proxy (`@pondwader/socks5-server`), both requiring a user and password and both
// recording every tunnel they carried, so a test can prove a connection went through them; and
// the two ways a proxy is dead: a port nobody listens on, and one that accepts and never answers.
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createSocksServer } from "@pondwader/socks5-server";
import { createProxy } from "proxy";

export interface Tunnel {
  readonly host: string;
  readonly port: number;
}

export interface TestProxy {
  /** The proxy's URL with the given credentials, as a session stores it. */
  readonly url: string;
  readonly port: number;
  /** Every tunnel opened with the right credentials, in order. */
  tunnels(): Tunnel[];
  /** Tunnels to one port on loopback (the fake WhatsApp's socket, or its media host). */
  tunnelsTo(port: number): number;
  close(): Promise<void>;
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

function listening(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

/** Closes the server and every socket still open on it, without waiting on the peers. */
function closing(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function tracked(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return sockets;
}

function proxyOf(url: string, port: number, carried: Tunnel[], close: () => Promise<void>): TestProxy {
  return {
    url,
    port,
    tunnels: () => [...carried],
    tunnelsTo: (target) => carried.filter((t) => t.port === target).length,
    close,
  };
}

function splitTarget(target: string): Tunnel {
  const at = target.lastIndexOf(":");
  return { host: target.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(target.slice(at + 1)) };
}

/** An HTTP proxy answering CONNECT, with Basic proxy authentication. */
export async function startHttpProxy(credentials: Credentials): Promise<TestProxy> {
  const expected = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`;
  const server = createProxy(createHttpServer());
  const carried: Tunnel[] = [];
  server.authenticate = (req: IncomingMessage) => {
    const ok = req.headers["proxy-authorization"] === expected;
    if (ok && req.method === "CONNECT" && req.url) carried.push(splitTarget(req.url));
    return ok;
  };
  const sockets = tracked(server);
  const port = await listening(server);
  const auth = `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}`;
  return proxyOf(`http://${auth}@127.0.0.1:${port}`, port, carried, () => {
    server.closeAllConnections();
    return closing(server, sockets);
  });
}

/** A SOCKS5 proxy with user/password authentication (RFC 1929). */
export async function startSocksProxy(credentials: Credentials): Promise<TestProxy> {
  const socks = createSocksServer({ auth: { username: credentials.user, password: credentials.password } });
  const carried: Tunnel[] = [];
  // Called once the client has authenticated, with where it wants to go.
  socks.setRulesetValidator((connection) => {
    carried.push({ host: connection.destAddress, port: connection.destPort });
    return true;
  });
  // The library keeps its net.Server private; a server of our own hands it the sockets.
  const server = createTcpServer((socket) => socks._handleConnection(socket));
  const sockets = tracked(server);
  const port = await listening(server);
  const auth = `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}`;
  return proxyOf(`socks5://${auth}@127.0.0.1:${port}`, port, carried, () => closing(server, sockets));
}

/** A proxy that accepts connections and never says a word: the worst kind of dead. */
export async function startSilentProxy(): Promise<{
  port: number;
  accepted(): number;
  close(): Promise<void>;
}> {
  let accepted = 0;
  const server = createTcpServer(() => void accepted++);
  const sockets = tracked(server);
  const port = await listening(server);
  return { port, accepted: () => accepted, close: () => closing(server, sockets) };
}

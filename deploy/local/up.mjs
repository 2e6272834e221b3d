// `make up`: starts nats-server (JetStream, file storage) and redis-server (AOF) under var/ when
// nothing answers on their configured ports, then runs gateway, projector, sender and webhooks
// with their output prefixed. Ctrl-C stops everything it started; data stays in var/.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync } from "node:fs";
import { connect } from "node:net";

const root = new URL("../../", import.meta.url).pathname;
process.chdir(root);

// The services need Node 24 (engines in package.json). `make up` puts it first on PATH, fetching it
// into .runtime/node when the machine's node is older; `npm run dev` uses whatever node runs npm.
if (Number(process.versions.node.split(".")[0]) < 24) {
  const local = `${root}.runtime/node/bin`;
  const hint = existsSync(`${local}/node`)
    ? `PATH=${local}:$PATH npm run dev`
    : "make up (it fetches Node 24)";
  console.error(`wa-blast needs Node 24 or newer; this is ${process.version}. Use ${hint}.`);
  process.exit(1);
}

// Local runs use the sources through tsx, so an edit needs no build (`make build` makes the
// production dist/); --watch (`npm run dev`) restarts a service when its files change.
const nodeArgs = (entry) => [
  ...(process.argv.includes("--watch") ? ["--watch"] : []),
  "--import",
  "tsx",
  entry,
];

// A first run gets its own random API key rather than a well-known default anyone could guess.
function ensureEnv() {
  const created = !existsSync(".env");
  const text = readFileSync(created ? ".env.example" : ".env", "utf8");
  if (created || /^API_KEYS=\s*$/m.test(text)) {
    const key = randomBytes(24).toString("hex");
    writeFileSync(".env", text.replace(/^API_KEYS=.*$/m, `API_KEYS=${key}`));
    console.log(created ? "created .env from .env.example with a new API key" : "added an API key to .env");
  }
}
if (!process.argv.includes("--down")) ensureEnv();
if (existsSync(".env")) process.loadEnvFile(".env");
mkdirSync("var", { recursive: true });

const natsUrl = new URL(process.env.NATS_URL ?? "nats://127.0.0.1:4222");
const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

const portOpen = (host, port) =>
  new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });

async function waitFor(host, port, name) {
  for (let i = 0; i < 100; i++) {
    if (await portOpen(host, port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not start on ${host}:${port}; see var/${name}.log`);
}

function startServer(name, command, args) {
  const log = openSync(`var/${name}.log`, "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", log, log] });
  writeFileSync(`var/${name}.pid`, String(child.pid));
  child.unref();
  return child.pid;
}

function stopServers() {
  for (const name of ["nats", "redis"]) {
    const file = `var/${name}.pid`;
    if (!existsSync(file)) continue;
    try {
      process.kill(Number(readFileSync(file, "utf8")), "SIGTERM");
      console.log(`stopped ${name}`);
    } catch {
      // already gone
    }
    rmSync(file, { force: true });
  }
}

if (process.argv.includes("--down")) {
  stopServers();
  process.exit(0);
}

const started = [];
if (!(await portOpen(natsUrl.hostname, Number(natsUrl.port || 4222)))) {
  mkdirSync("var/nats", { recursive: true });
  const port = natsUrl.port || "4222";
  startServer("nats", "nats-server", [
    "-a",
    natsUrl.hostname,
    "-p",
    port,
    "-js",
    "-sd",
    "var/nats",
    "-m",
    String(Number(port) + 4000),
  ]);
  await waitFor(natsUrl.hostname, Number(port), "nats");
  started.push("nats");
  console.log(`started nats-server with JetStream on ${natsUrl.host} (data in var/nats)`);
}
if (!(await portOpen(redisUrl.hostname, Number(redisUrl.port || 6379)))) {
  mkdirSync("var/redis", { recursive: true });
  const port = redisUrl.port || "6379";
  // fsync before every reply: "everysec" can lose acknowledged writes when only the process dies.
  startServer("redis", "redis-server", [
    "--bind",
    redisUrl.hostname,
    "--port",
    port,
    "--dir",
    "var/redis",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
  ]);
  await waitFor(redisUrl.hostname, Number(port), "redis");
  started.push("redis");
  console.log(`started redis-server with AOF on ${redisUrl.host} (data in var/redis)`);
}

if (process.argv.includes("--replay")) {
  // process.execPath: the same Node 24 that runs this script, whatever else is on PATH.
  const child = spawn(process.execPath, ["--import", "tsx", "services/projector/replay.ts"], {
    stdio: "inherit",
  });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  const services = ["gateway", "projector", "sender", "webhooks"];
  const children = services.map((name) => {
    const child = spawn(process.execPath, nodeArgs(`services/${name}/main.ts`), {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const prefix = `[${name}]`.padEnd(12);
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream.on("data", (chunk) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) console.log(prefix + line);
      });
    }
    child.on("exit", (code, signal) => console.log(`${prefix}exited (${signal ?? code})`));
    return child;
  });
  const host = process.env.HTTP_HOST ?? "127.0.0.1";
  const port = process.env.HTTP_PORT ?? "3000";
  console.log(`\nwa-blast is starting: API http://${host}:${port}/api  docs http://${host}:${port}/api/docs`);
  console.log(
    `live progress: ws://${host}:${port}/?blastId=<id>   sessions: ws://${host}:${port}/?sessionId=<id>`,
  );
  const apiKey = (process.env.API_KEYS ?? "").split(",")[0]?.trim();
  console.log(
    `web console: http://${host}:${port}/console  sign in with the API key ${apiKey} (API_KEYS in .env)`,
  );
  console.log(`API calls: curl -H 'authorization: Bearer ${apiKey}' http://${host}:${port}/api/sessions`);
  // The key is printed on purpose: this is the developer's own terminal, and the console needs it.
  console.log(
    `queues: http://${host}:${port}/admin/queues   metrics: http://${host}:${port}/metrics (Authorization: Bearer <key>)`,
  );
  console.log("Ctrl-C stops it.\n");
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(
      children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r)))),
    );
    if (started.length > 0) stopServers();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

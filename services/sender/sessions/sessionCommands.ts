// Answers the gateway's commands for one session (connect, logout, pairing code) over NATS
// request/reply; only the sender that runs the session is subscribed, so it is the one that answers.
import type { Msg, Subscription } from "@nats-io/transport-node";
import type { Nats } from "../../../shared/nats/connection.ts";
import { subjects } from "../../../shared/nats/topology.ts";
import type { SessionConnection } from "../transports/transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function answerSessionCommands(
  nats: Nats,
  owner: string,
  sessionId: string,
  connection: SessionConnection,
): Subscription {
  return nats.nc.subscribe(subjects.sessionCommands(sessionId), {
    callback: (err, msg) => {
      if (!err) void answer(owner, connection, msg);
    },
  });
}

async function answer(owner: string, connection: SessionConnection, msg: Msg): Promise<void> {
  const what = msg.subject.split(".").at(-1);
  const reply = (body: object) => msg.respond(encoder.encode(JSON.stringify({ owner, ...body })));
  try {
    if (what === "connect") await connection.connect();
    else if (what === "logout") await connection.logout();
    else if (what === "pairing-code") {
      const { phone } = JSON.parse(decoder.decode(msg.data)) as { phone: string };
      return void reply({ ok: true, code: await connection.requestPairingCode(phone) });
    } else return void reply({ ok: false, error: `unknown command ${what}` });
    reply({ ok: true });
  } catch (err) {
    reply({ ok: false, error: (err as Error).message });
  }
}

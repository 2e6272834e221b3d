// One fake server per test, with real Baileys clients pointed at it; every client and the server are
// closed however the test ends, and a test that made the fake fail internally fails too.
import assert from "node:assert/strict";
import type { AuthenticationState, SocketConfig } from "@whiskeysockets/baileys";
import { startFakeWhatsApp, type FakeWhatsApp, type FakeWhatsAppOptions } from "./fakeWhatsAppServer.ts";
import { newAuthState, TestClient } from "./testClient.ts";

export const ACCOUNT = "15550000001";

export interface Harness {
  readonly wa: FakeWhatsApp;
  client(auth: AuthenticationState, config?: Partial<SocketConfig>): TestClient;
  /** Links a fresh auth state to `account` by QR and returns it with an open client. */
  paired(
    account?: string,
    config?: Partial<SocketConfig>,
  ): Promise<{ auth: AuthenticationState; client: TestClient }>;
}

/** One fake server per test; every client and the server are closed however the test ends. */
export async function withFake(
  options: FakeWhatsAppOptions,
  body: (h: Harness) => Promise<void>,
): Promise<void> {
  const wa = await startFakeWhatsApp(options);
  const clients: TestClient[] = [];
  const client = (auth: AuthenticationState, config?: Partial<SocketConfig>) => {
    const c = new TestClient(wa.url, auth, config);
    clients.push(c);
    return c;
  };
  const paired = async (account = ACCOUNT, config?: Partial<SocketConfig>) => {
    const auth = newAuthState();
    const first = client(auth);
    await wa.scanQr(await first.qr(), account);
    assert.equal(await first.closed(), 515);
    const second = client(auth, config);
    await second.opened();
    return { auth, client: second };
  };
  try {
    await body({ wa, client, paired });
    assert.deepEqual(wa.errors(), [], "the fake hit no internal error");
  } finally {
    for (const c of clients) c.end();
    await wa.close();
  }
}

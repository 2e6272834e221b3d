// The connection agent for an account's proxy: one agent serves the WhatsApp WebSocket and the
// media uploads, so everything the account sends leaves through the same address.
import type { ClientRequest } from "node:http";
import type { Agent } from "node:https";
import { HttpsProxyAgent } from "https-proxy-agent";
import { SocksProxyAgent } from "socks-proxy-agent";
import { checkProxyUrl } from "../../../shared/domain/proxy.ts";

/** The options of one connection, as both agents' `connect` receive them. */
type ConnectOpts = Parameters<SocksProxyAgent["connect"]>[1];

export interface ProxyAgentOptions {
  /**
   * Certificates to trust, instead of the system's, for TLS made through the proxy to WhatsApp's
   * hosts: only for tests against the fake WhatsApp's throw-away media certificate.
   */
  readonly trustedCa?: string;
}

// The agents take TLS options for the target from the request, not from the agent, so a trusted
// CA has to be added to each secure connection here.
class TrustingHttpsProxyAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: URL,
    private readonly ca: string,
  ) {
    super(proxy);
  }
  override connect(req: ClientRequest, opts: ConnectOpts) {
    return super.connect(req, opts.secureEndpoint ? { ...opts, ca: this.ca } : opts);
  }
}

class TrustingSocksProxyAgent extends SocksProxyAgent {
  constructor(
    proxy: URL,
    private readonly ca: string,
  ) {
    super(proxy);
  }
  override connect(req: ClientRequest, opts: ConnectOpts) {
    return super.connect(req, opts.secureEndpoint ? { ...opts, ca: this.ca } : opts);
  }
}

/**
 * An agent that connects through `proxyUrl` (http, https, socks5, socks5h). Throws on a URL
 * `checkProxyUrl` refuses, with its reason and never the URL itself.
 */
export function proxyAgent(proxyUrl: string, options: ProxyAgentOptions = {}): Agent {
  const check = checkProxyUrl(proxyUrl);
  if (!check.ok) throw new Error(`invalid proxy URL: ${check.reason}`);
  const { url, scheme } = check;
  const ca = options.trustedCa;
  // No socket timeout on either: it would also cut an idle, healthy WhatsApp connection. The
  // transport bounds the time to connect itself.
  if (scheme === "http" || scheme === "https") {
    return ca ? new TrustingHttpsProxyAgent(url, ca) : new HttpsProxyAgent(url);
  }
  return ca ? new TrustingSocksProxyAgent(url, ca) : new SocksProxyAgent(url);
}

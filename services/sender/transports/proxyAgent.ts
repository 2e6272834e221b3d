// The connection agent for an account's proxy: one agent serves the WhatsApp WebSocket and the
// media uploads, so everything the account sends leaves through the same address.
import type { Agent } from "node:https";
import { HttpsProxyAgent } from "https-proxy-agent";
import { SocksProxyAgent } from "socks-proxy-agent";
import { checkProxyUrl } from "../../../shared/domain/proxy.ts";

export interface ProxyAgentOptions {
  /**
   * Certificates to trust, instead of the system's, for TLS made through the proxy to WhatsApp's
   * hosts: only for tests against the fake WhatsApp's throw-away media certificate.
   */
  readonly trustedCa?: string;
}

/**
 * Adds `ca` to each secure connection `agent` makes: the agents take TLS options for the target
 * from the request, not from the agent itself.
 */
function trusting(agent: HttpsProxyAgent<string> | SocksProxyAgent, ca: string): Agent {
  const connect = agent.connect.bind(agent);
  agent.connect = (req, opts) => connect(req, opts.secureEndpoint ? { ...opts, ca } : opts);
  return agent;
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
  const agent = scheme === "http" || scheme === "https" ? new HttpsProxyAgent(url) : new SocksProxyAgent(url);
  return ca ? trusting(agent, ca) : agent;
}

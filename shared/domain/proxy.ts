// The proxy an account reaches WhatsApp through. Its URL may hold a password, so it is checked here
// without ever being quoted back, and shown everywhere (API, console, statuses, logs) masked.

export const PROXY_SCHEMES = ["http", "https", "socks5", "socks5h"] as const;
export type ProxyScheme = (typeof PROXY_SCHEMES)[number];

const MAX_LENGTH = 2048;
const EXAMPLE = "socks5://user:password@host:1080";

export type ProxyCheck = { ok: true; url: URL; scheme: ProxyScheme } | { ok: false; reason: string };

function isScheme(value: string): value is ProxyScheme {
  return (PROXY_SCHEMES as readonly string[]).includes(value);
}

/**
 * Whether `text` is a proxy URL the transport can use. The reason never repeats the text: a
 * mistyped URL still carries a real password.
 */
export function checkProxyUrl(text: string): ProxyCheck {
  if (text.length > MAX_LENGTH) return { ok: false, reason: `longer than ${MAX_LENGTH} characters` };
  if (/\s/.test(text)) return { ok: false, reason: "must not contain spaces" };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: `not a valid URL (check the host and port); write it as ${EXAMPLE}` };
  }
  const scheme = url.protocol.replace(/:$/, "").toLowerCase();
  if (!isScheme(scheme)) {
    // The scheme is letters, digits, + - . only (the URL parsed): safe to name.
    return {
      ok: false,
      reason: `scheme "${scheme}" is not supported; use ${PROXY_SCHEMES.join(", ")}`,
    };
  }
  if (!url.hostname) return { ok: false, reason: "has no host" };
  if (url.password && !url.username) return { ok: false, reason: "has a password but no user name" };
  if ((url.pathname !== "" && url.pathname !== "/") || url.search || url.hash) {
    return {
      ok: false,
      reason: "must be only scheme, credentials, host and port (no path, query or fragment)",
    };
  }
  return { ok: true, url, scheme };
}

/** The URL with its password replaced by *** (`socks5://user:***@host:1080`): safe to show and log. */
export function maskProxyUrl(text: string): string {
  const check = checkProxyUrl(text);
  if (!check.ok) return "(invalid proxy URL)";
  const { url, scheme } = check;
  const user = url.username ? `${url.username}${url.password ? ":***" : ""}@` : "";
  return `${scheme}://${user}${url.host}`;
}

/** `message` with any trace of the proxy's password taken out, for errors that might quote the URL. */
export function withoutProxySecret(message: string, proxy: string): string {
  const check = checkProxyUrl(proxy);
  if (!check.ok) return message;
  const { url } = check;
  let clean = message.split(proxy).join(maskProxyUrl(proxy));
  for (const secret of [url.password, safeDecode(url.password)]) {
    if (secret) clean = clean.split(secret).join("***");
  }
  return clean;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

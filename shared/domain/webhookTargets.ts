// Where a webhook may be sent. A webhook URL is chosen by whoever holds an API key, and the
// platform makes the request from inside the operator's network: without these checks a URL could
// reach the cloud metadata service, Redis, NATS or an admin panel on the same LAN (SSRF). The
// address is checked at registration and again on every connection (a name can be re-pointed at
// a private address after it was registered), so this module classifies addresses and URLs only;
// resolving names is the adapters' job.

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link_local"
  | "unique_local"
  | "cgnat"
  | "multicast"
  | "unspecified"
  | "reserved";

export interface TargetPolicy {
  /** Loopback, RFC 1918, link-local, unique-local and CGNAT targets (WEBHOOK_ALLOW_PRIVATE_TARGETS). */
  readonly allowPrivate: boolean;
}

/** Classes the operator may open up; nothing can be delivered to the others, so they never are. */
const PRIVATE_CLASSES: ReadonlySet<AddressClass> = new Set([
  "loopback",
  "private",
  "link_local",
  "unique_local",
  "cgnat",
]);

export function isAllowedAddressClass(kind: AddressClass, policy: TargetPolicy): boolean {
  if (kind === "public") return true;
  return policy.allowPrivate && PRIVATE_CLASSES.has(kind);
}

/** Undefined for something that is not an IP address; a zone (`%eth0`) is ignored. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseIPv4(bare);
  if (v4 !== undefined) return classifyIPv4(v4);
  const v6 = parseIPv6(bare);
  return v6 === undefined ? undefined : classifyIPv6(v6);
}

export function isAllowedAddress(address: string, policy: TargetPolicy): boolean {
  const kind = classifyAddress(address);
  return kind !== undefined && isAllowedAddressClass(kind, policy);
}

function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Eight 16-bit groups, or undefined. Accepts `::` and a dotted IPv4 tail (`::ffff:1.2.3.4`). */
function parseIPv6(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return undefined;
  let head = text;
  const tail: number[] = [];
  if (text.includes(".")) {
    // A dotted IPv4 address can end the text; its two groups are filled in from it.
    const lastColon = text.lastIndexOf(":");
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (lastColon < 0 || v4 === undefined) return undefined;
    tail.push(Math.floor(v4 / 65536), v4 % 65536);
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" keeps its "::"; "::ffff:1.2.3.4" drops the colon that separated the tail.
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined): number[] | undefined => {
    if (part === undefined || part === "") return [];
    const out: number[] = [];
    for (const group of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
      out.push(parseInt(group, 16));
    }
    return out;
  };
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  if (left === undefined || right === undefined) return undefined;
  const known = left.length + right.length + tail.length;
  if (halves.length === 2) {
    if (known > 7) return undefined;
    return [...left, ...new Array<number>(8 - known).fill(0), ...right, ...tail];
  }
  return known === 8 ? [...left, ...tail] : undefined;
}

const inV4 = (value: number, base: string, bits: number): boolean => {
  const start = parseIPv4(base) ?? 0;
  const size = 2 ** (32 - bits);
  return value >= start && value < start + size;
};

function classifyIPv4(value: number): AddressClass {
  if (inV4(value, "0.0.0.0", 8)) return "unspecified";
  if (inV4(value, "127.0.0.0", 8)) return "loopback";
  if (inV4(value, "10.0.0.0", 8) || inV4(value, "172.16.0.0", 12) || inV4(value, "192.168.0.0", 16)) {
    return "private";
  }
  if (inV4(value, "169.254.0.0", 16)) return "link_local";
  if (inV4(value, "100.64.0.0", 10)) return "cgnat";
  if (inV4(value, "224.0.0.0", 4)) return "multicast";
  // Protocol assignments, documentation, benchmarking, the old 6to4 relay, 240/4 and broadcast:
  // nothing a receiver legitimately listens on.
  if (
    inV4(value, "192.0.0.0", 24) ||
    inV4(value, "192.0.2.0", 24) ||
    inV4(value, "192.88.99.0", 24) ||
    inV4(value, "198.18.0.0", 15) ||
    inV4(value, "198.51.100.0", 24) ||
    inV4(value, "203.0.113.0", 24) ||
    inV4(value, "240.0.0.0", 4)
  ) {
    return "reserved";
  }
  return "public";
}

function classifyIPv6(g: number[]): AddressClass {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = () => classifyIPv4(g6 * 65536 + g7);
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return "unspecified";
  if (zeroTo(7) && g7 === 1) return "loopback";
  // IPv4-mapped (::ffff:a.b.c.d): the socket talks IPv4 to the embedded address.
  if (zeroTo(5) && g5 === 0xffff) return embedded();
  // IPv4-compatible (::a.b.c.d), deprecated: no legitimate receiver uses it.
  if (zeroTo(6)) return "reserved";
  // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address; the local-use prefix stays inside.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return embedded();
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return "private";
  // 6to4 (2002::/16) carries an IPv4 address in its next 32 bits.
  if (g0 === 0x2002) return classifyIPv4(g1 * 65536 + g2);
  if ((g0 & 0xfe00) === 0xfc00) return "unique_local";
  if ((g0 & 0xffc0) === 0xfe80) return "link_local";
  // Site-local (fec0::/10), deprecated, used like RFC 1918.
  if ((g0 & 0xffc0) === 0xfec0) return "private";
  if ((g0 & 0xff00) === 0xff00) return "multicast";
  // Protocol assignments incl. Teredo (2001::/23), documentation (2001:db8::/32), discard (100::/64).
  if (g0 === 0x2001 && (g1 < 0x200 || g1 === 0xdb8)) return "reserved";
  // Global unicast is 2000::/3; everything else is unassigned or special.
  if ((g0 & 0xe000) === 0x2000) return "public";
  return "reserved";
}

export type WebhookUrlCheck =
  | {
      readonly ok: true;
      /** The URL as it will be requested (normalized by the WHATWG parser). */
      readonly url: string;
      /** The host without IPv6 brackets: a name to resolve, or an address. */
      readonly host: string;
      /** The host is an IP address, classified here; a name needs resolving. */
      readonly address?: AddressClass;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Syntax and the rules that need no DNS: http(s) only, no credentials, a host, a usable port, no
 * fragment, no whitespace, length-limited; an IP literal must be an allowed address.
 */
export function checkWebhookUrl(raw: string, policy: TargetPolicy): WebhookUrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    return { ok: false, reason: `longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
  }
  // The URL parser would quietly drop tabs, newlines and edge spaces; a URL with them is a mistake.
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(raw))
    return { ok: false, reason: "contains whitespace or control characters" };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not an absolute URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, reason: "only http:// and https:// URLs can receive webhooks" };
  }
  if (url.username !== "" || url.password !== "") {
    return {
      ok: false,
      reason: "must not carry credentials (put a token in the path or verify the signature)",
    };
  }
  if (url.hash !== "" || raw.includes("#")) return { ok: false, reason: "must not have a #fragment" };
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "") return { ok: false, reason: "has no host" };
  if (url.port === "0") return { ok: false, reason: "port 0 cannot be connected to" };
  const address = classifyAddress(host);
  if (address !== undefined && !isAllowedAddressClass(address, policy)) {
    return { ok: false, reason: refusalOf(host, address) };
  }
  return { ok: true, url: url.toString(), host, ...(address !== undefined ? { address } : {}) };
}

/** Why a target address is refused, in words an API caller can act on. */
export function refusalOf(address: string, kind: AddressClass): string {
  const what: Record<AddressClass, string> = {
    public: "public",
    loopback: "a loopback address",
    private: "a private address",
    link_local: "a link-local address",
    unique_local: "a unique-local address",
    cgnat: "a carrier-grade NAT address",
    multicast: "a multicast address",
    unspecified: "an unspecified address",
    reserved: "a reserved address",
  };
  const fix = PRIVATE_CLASSES.has(kind) ? " (set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it)" : "";
  return `targets ${address}, ${what[kind]}${fix}`;
}

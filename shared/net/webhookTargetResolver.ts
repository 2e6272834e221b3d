// Resolving a webhook's host under the SSRF rule (shared/domain/webhookTargets.ts). At
// registration every address the name has must be allowed; at delivery the connection is made
// only to an address checked here, through the request's own `lookup`, so a name re-pointed at a
// private address after it was checked (DNS rebinding) is refused at the moment it matters.
import { lookup as dnsLookup, promises as dns, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import {
  classifyAddress,
  isAllowedAddressClass,
  refusalOf,
  type TargetPolicy,
} from "../domain/webhookTargets.ts";

/** A target the SSRF rule does not allow, or a name that does not resolve; the message says which. */
export class TargetRefusedError extends Error {
  readonly code = "ETARGETREFUSED";
}

/** Why `host`, resolved to `address`, may not be connected to; undefined when it may. */
function refusalOfResolved(host: string, address: string, policy: TargetPolicy): string | undefined {
  const kind = classifyAddress(address);
  if (kind === undefined) return `${host} resolves to ${address}, which is not an IP address`;
  if (isAllowedAddressClass(kind, policy)) return undefined;
  return `${host} ${refusalOf(address, kind).replace(/^targets /, "resolves to ")}`;
}

/** Throws a TargetRefusedError unless the host resolves, within `timeoutMs`, to allowed addresses only. */
export async function checkTargetHost(host: string, policy: TargetPolicy, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TargetRefusedError(`${host} did not resolve within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  let addresses: LookupAddress[];
  try {
    addresses = await Promise.race([dns.lookup(host, { all: true, verbatim: true }), timeout]);
  } catch (err) {
    if (err instanceof TargetRefusedError) throw err;
    throw new TargetRefusedError(`${host} does not resolve`);
  } finally {
    clearTimeout(timer);
  }
  if (addresses.length === 0) throw new TargetRefusedError(`${host} does not resolve`);
  for (const { address } of addresses) {
    const refused = refusalOfResolved(host, address, policy);
    if (refused !== undefined) throw new TargetRefusedError(refused);
  }
}

/**
 * A `lookup` for `http.request` that answers only with allowed addresses, and fails the
 * connection when the name has none. (Node does not call `lookup` for an IP literal: those are
 * checked before the request is made.)
 */
export function guardedLookup(policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) {
        callback(err, "", 0);
        return;
      }
      const allowed = addresses.filter(
        ({ address }) => refusalOfResolved(hostname, address, policy) === undefined,
      );
      const first = allowed[0];
      if (first === undefined) {
        const sample = addresses[0]?.address;
        const why = sample !== undefined ? refusalOfResolved(hostname, sample, policy) : undefined;
        callback(new TargetRefusedError(why ?? `${hostname} has no address`), "", 0);
        return;
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

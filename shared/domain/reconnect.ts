// What a session manager does when WhatsApp closes the socket, and how long it waits to retry.

export type DisconnectAction = "reconnect_now" | "reconnect_backoff" | "logged_out" | "stop";

/**
 * 515 asks for an immediate reconnect (after pairing); 401/411 mean the device was unlinked, so the
 * stored credentials are useless; 440 means the account was opened elsewhere and fighting it would
 * corrupt the keys; 403 is a refusal. Everything else is a transient network or server problem.
 */
export function disconnectAction(code: number | undefined): DisconnectAction {
  switch (code) {
    case 515:
      return "reconnect_now";
    case 401:
    case 411:
      return "logged_out";
    case 440:
    case 403:
      return "stop";
    default:
      return "reconnect_backoff";
  }
}

/** Capped exponential backoff with "equal jitter": never a thundering herd, never a zero wait. */
export function reconnectDelay(
  attempt: number,
  random: () => number,
  opts: { baseMs: number; maxMs: number } = { baseMs: 1000, maxMs: 60_000 },
): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

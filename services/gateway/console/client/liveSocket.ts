/// <reference lib="dom" />
// WebSockets to the gateway. A blast's or a session's is opened again after a dropped connection
// (a restarted gateway), never after the gateway refused the id; an import's lives only as long as
// its request, so it is opened once and never again.
const REFUSED = 1008;
const RETRY_MS = 1500;

export interface LiveSubscription {
  close(): void;
}

function openSocket(query: string, onMessage: (message: unknown) => void): WebSocket {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/?${query}`);
  socket.addEventListener("message", (event) => {
    try {
      onMessage(JSON.parse(String(event.data)));
    } catch {
      // not JSON: nothing a page can show
    }
  });
  return socket;
}

export function watchLive(query: string, onMessage: (message: unknown) => void): LiveSubscription {
  let socket: WebSocket | undefined;
  let closed = false;
  let retry: number | undefined;
  const open = () => {
    socket = openSocket(query, onMessage);
    socket.addEventListener("close", (event) => {
      if (!closed && event.code !== REFUSED) retry = window.setTimeout(open, RETRY_MS);
    });
  };
  open();
  return {
    close() {
      closed = true;
      window.clearTimeout(retry);
      socket?.close();
    },
  };
}

/** A socket opened once; `opened` also settles when it failed, or took longer than allowed. */
export interface OneTimeSubscription extends LiveSubscription {
  readonly opened: Promise<void>;
}

/**
 * One socket, not reopened. The gateway only sends an import's progress to sockets already
 * watching when it is published, so the caller waits for `opened` before it starts the import;
 * that also settles when the socket failed or took longer than `openWithinMs`, since the import
 * must go ahead without it.
 */
export function watchOnce(
  query: string,
  onMessage: (message: unknown) => void,
  openWithinMs: number,
): OneTimeSubscription {
  let socket: WebSocket;
  try {
    socket = openSocket(query, onMessage);
  } catch {
    return { opened: Promise.resolve(), close() {} };
  }
  const opened = new Promise<void>((resolve) => {
    const timer = window.setTimeout(() => {
      socket.close();
      resolve();
    }, openWithinMs);
    const ready = () => {
      window.clearTimeout(timer);
      resolve();
    };
    socket.addEventListener("open", ready);
    // A refused or broken socket ends with a close (after an error event, if any).
    socket.addEventListener("close", ready);
  });
  return { opened, close: () => socket.close() };
}

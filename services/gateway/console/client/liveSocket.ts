/// <reference lib="dom" />
// One WebSocket to the gateway for a blast or a session, opened again after a dropped connection
// (a restarted gateway), never after the gateway refused the id.
const REFUSED = 1008;
const RETRY_MS = 1500;

export interface LiveSubscription {
  close(): void;
}

export function watchLive(query: string, onMessage: (message: unknown) => void): LiveSubscription {
  let socket: WebSocket | undefined;
  let closed = false;
  let retry: number | undefined;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/?${query}`);
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(String(event.data)));
      } catch {
        // not JSON: nothing a page can show
      }
    });
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

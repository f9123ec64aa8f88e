/** Websockets of dockerweb: URLs, close codes and one small wrapper that turns every ending into a message. */

export function wsUrl(path: string, params: Record<string, string | number | boolean | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === "") continue;
    query.set(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const qs = query.toString();
  return `${scheme}://${window.location.host}/${path.replace(/^\//, "")}${qs ? `?${qs}` : ""}`;
}

/** The server's close codes (containers/consumers/base.py), for people. */
const CLOSE_REASONS: Record<number, string> = {
  4400: "The request was not valid",
  4401: "You are not signed in",
  4403: "You may not do this",
  4404: "Not found",
  4409: "Not possible in the container's current state",
  4500: "The server failed",
  4502: "The host could not be reached",
};

export interface SocketEnd {
  code: number;
  /** What to tell the user; null for a normal end. */
  message: string | null;
  /** The socket closed before the server said anything: the route is probably not there (yet). */
  neverOpened: boolean;
}

export interface SocketHandlers {
  onJson?: (message: Record<string, unknown>) => void;
  onBinary?: (data: Uint8Array) => void;
  onOpen?: () => void;
  onEnd?: (end: SocketEnd) => void;
}

/** Opens a socket; JSON text frames and binary frames go to their handlers, the ending to `onEnd` once. */
export function openSocket(url: string, handlers: SocketHandlers): WebSocket {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  let heard = false;
  let lastError: string | null = null;
  let ended = false;
  socket.addEventListener("open", () => handlers.onOpen?.());
  socket.addEventListener("message", (event: MessageEvent) => {
    heard = true;
    if (typeof event.data === "string") {
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message === "object") {
        const m = message as Record<string, unknown>;
        if (m.type === "error" && typeof m.message === "string" && typeof m.code === "number") lastError = m.message;
        handlers.onJson?.(m);
      }
    } else if (event.data instanceof ArrayBuffer) {
      handlers.onBinary?.(new Uint8Array(event.data));
    }
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    if (ended) return;
    ended = true;
    const normal = event.code === 1000 || event.code === 1005;
    let message: string | null = null;
    if (lastError) message = lastError;
    else if (!heard && !normal) message = "Live updates are not available from this server yet (the websocket was refused).";
    else if (!normal) {
      const reason = CLOSE_REASONS[event.code];
      message = `${reason ?? "The connection was lost"}${event.reason ? `: ${event.reason}` : ""} (code ${event.code}).`;
    }
    handlers.onEnd?.({ code: event.code, message, neverOpened: !heard && !normal });
  });
  return socket;
}

export function sendJson(socket: WebSocket | null, message: Record<string, unknown>): void {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

/** Engine events over `ws/events/`: calls `onEvent` for each; reports whether live updates work. */
import { useEffect, useRef, useState } from "react";
import { openSocket, wsUrl } from "../api/ws";

export interface EngineEvent {
  host: { id: number; name: string };
  event: { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; time?: number };
}

export type LiveState = { state: "connecting" } | { state: "live" } | { state: "unavailable"; reason: string };

export function useEngineEvents(onEvent: (event: EngineEvent) => void, onHost?: () => void): LiveState {
  const [live, setLive] = useState<LiveState>({ state: "connecting" });
  const handlers = useRef({ onEvent, onHost });
  handlers.current = { onEvent, onHost };
  useEffect(() => {
    let stopped = false;
    let retry: number | undefined;
    let socket: WebSocket | null = null;
    let attempt = 0;
    const connect = () => {
      socket = openSocket(wsUrl("ws/events/"), {
        onJson: (m) => {
          if (m.type === "ready") {
            attempt = 0;
            setLive({ state: "live" });
          } else if (m.type === "event") handlers.current.onEvent(m as unknown as EngineEvent);
          else if (m.type === "host") handlers.current.onHost?.();
        },
        onEnd: (end) => {
          if (stopped) return;
          setLive({ state: "unavailable", reason: end.message ?? "The live connection closed." });
          // Try again later, backing off; a route that does not exist yet is retried rarely.
          attempt++;
          const delay = end.neverOpened ? 60_000 : Math.min(30_000, 1000 * 2 ** attempt);
          retry = window.setTimeout(connect, delay);
        },
      });
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      socket?.close();
    };
  }, []);
  return live;
}

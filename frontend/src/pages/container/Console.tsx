/** An exec console: xterm.js over `ws/hosts/<id>/containers/<c>/exec/` (binary frames both ways). */
import "@xterm/xterm/css/xterm.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import { openSocket, sendJson, wsUrl } from "../../api/ws";

const SHELLS = ["sh", "bash", "ash", "zsh"];

export function Console({ hostId, container, running }: { hostId: number; container: string; running: boolean }) {
  const [shell, setShell] = useState("sh");
  const [custom, setCustom] = useState("");
  const [user, setUser] = useState("");
  const [session, setSession] = useState(running ? 1 : 0);
  const [state, setState] = useState("Not connected.");
  const [error, setError] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const screen = useRef<HTMLDivElement>(null);
  const command = shell === "custom" ? custom.trim() : shell;
  const settings = useRef({ command, user });
  settings.current = { command, user };

  useEffect(() => {
    if (session === 0 || !screen.current) return;
    const terminal = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
      fontSize: 13,
      scrollback: 5000,
      theme: { background: "#11151c", foreground: "#e6e9ef" },
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(screen.current);
    fit.fit();
    const { command: cmd, user: asUser } = settings.current;
    setError(null);
    setState(`Connecting to ${cmd}…`);
    const encoder = new TextEncoder();
    const socket = openSocket(
      wsUrl(`ws/hosts/${hostId}/containers/${encodeURIComponent(container)}/exec/`, {
        cmd,
        user: asUser || undefined,
        tty: true,
        cols: terminal.cols,
        rows: terminal.rows,
      }),
      {
        onBinary: (data) => terminal.write(data),
        onJson: (m) => {
          if (m.type === "ready") {
            setConnected(true);
            setState(`Connected: ${((m.cmd as string[]) ?? [cmd]).join(" ")}`);
            terminal.focus();
          } else if (m.type === "exit") {
            setState(`The command exited with code ${String(m.code)}.`);
          } else if (m.type === "error") {
            setError(String(m.message));
          }
        },
        onEnd: (end) => {
          setConnected(false);
          if (end.message) setError(end.message);
          setState((old) => (old.startsWith("The command exited") ? old : "Disconnected."));
        },
      },
    );
    const input = terminal.onData((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    const binaryInput = terminal.onBinary((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(Uint8Array.from(data, (c) => c.charCodeAt(0)));
    });
    const resized = terminal.onResize(({ cols, rows }) => sendJson(socket, { type: "resize", cols, rows }));
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // not laid out (hidden): the next resize fits it
      }
    });
    observer.observe(screen.current);
    return () => {
      observer.disconnect();
      input.dispose();
      binaryInput.dispose();
      resized.dispose();
      socket.close();
      terminal.dispose();
    };
  }, [session, hostId, container]);

  return (
    <section className="console" aria-label="Console">
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setSession((n) => n + 1);
        }}
      >
        <label className="inline">
          Shell{" "}
          <select value={shell} onChange={(e) => setShell(e.target.value)}>
            {SHELLS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            <option value="custom">custom…</option>
          </select>
        </label>
        {shell === "custom" ? (
          <label className="inline">
            Command <input value={custom} onChange={(e) => setCustom(e.target.value)} placeholder="/usr/bin/python3" required />
          </label>
        ) : null}
        <label className="inline">
          User <input value={user} onChange={(e) => setUser(e.target.value)} placeholder="default" size={10} />
        </label>
        <button type="submit" className="primary">
          {connected ? "Reconnect" : "Connect"}
        </button>
        {session > 0 ? (
          <button type="button" onClick={() => setSession(0)}>
            Disconnect
          </button>
        ) : null}
      </form>
      <p className="muted small" role="status">
        {running ? state : "The container is not running: start it to open a console."}
      </p>
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <div className="console-screen" ref={screen} aria-label="Terminal" />
    </section>
  );
}

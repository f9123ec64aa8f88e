/**
 * The console tab: xterm.js over a websocket, either an exec session (`ws/hosts/<id>/containers/<c>/exec/`, a
 * shell of your choice) or attached to the container's main process (`.../attach/`, optionally starting it:
 * the second half of `docker run -it`). Both use one terminal component, TerminalSession.
 */
import "@xterm/xterm/css/xterm.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import { openSocket, sendJson, wsUrl } from "../../api/ws";
import { LineInput, splitStreamFrame } from "./terminalInput";

const SHELLS = ["sh", "bash", "ash", "zsh"];
const STDERR = 2;

export type ConsoleMode = "exec" | "attach";

/** What a session reports to the page around it. */
export type SessionEvent =
  | { kind: "ready"; message: Record<string, unknown> }
  | { kind: "started" }
  | { kind: "exit"; code: number | null }
  | { kind: "detached"; message: string }
  | { kind: "error"; message: string }
  | { kind: "end"; message: string | null };

interface TerminalSessionProps {
  /** The websocket path, e.g. `ws/hosts/1/containers/web/exec/`. */
  path: string;
  /** Query parameters besides the terminal size (sent as cols and rows). */
  params: Record<string, string | number | boolean | undefined>;
  onEvent: (event: SessionEvent) => void;
}

/** One websocket session in an xterm.js terminal; mounted per session (remount it to reconnect). */
function TerminalSession({ path, params, onEvent }: TerminalSessionProps) {
  const screen = useRef<HTMLDivElement>(null);
  const latest = useRef({ path, params, onEvent });
  latest.current = { path, params, onEvent };

  useEffect(() => {
    if (!screen.current) return;
    const { path: socketPath, params: query } = latest.current;
    const report = (event: SessionEvent) => latest.current.onEvent(event);
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
    const encoder = new TextEncoder();
    // Until `ready` says otherwise: a terminal, output as it is, input as typed.
    let prefixed = false;
    let lines: LineInput | null = null;
    let inputOpen = true;
    const socket = openSocket(wsUrl(socketPath, { ...query, cols: terminal.cols, rows: terminal.rows }), {
      onBinary: (data) => {
        if (!prefixed) {
          terminal.write(data);
          return;
        }
        const { stream, data: text } = splitStreamFrame(data);
        if (stream === STDERR) {
          terminal.write("\x1b[31m");
          terminal.write(text);
          terminal.write("\x1b[0m");
        } else {
          terminal.write(text);
        }
      },
      onJson: (m) => {
        if (m.type === "ready") {
          prefixed = m.stream_prefix === true;
          inputOpen = m.stdin !== false; // attached to a process created without -i: output only
          if (m.tty === false) {
            // No terminal on the other side: newlines need a carriage return, and input its line editing.
            terminal.options.convertEol = true;
            lines = new LineInput();
          }
          report({ kind: "ready", message: m });
          terminal.focus();
        } else if (m.type === "started") {
          report({ kind: "started" });
        } else if (m.type === "exit") {
          report({ kind: "exit", code: typeof m.code === "number" ? m.code : null });
        } else if (m.type === "detached") {
          report({ kind: "detached", message: String(m.message ?? "") });
        } else if (m.type === "error") {
          report({ kind: "error", message: String(m.message) });
        }
      },
      onEnd: (end) => report({ kind: "end", message: end.message }),
    });
    const send = (data: Uint8Array) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
    };
    const input = terminal.onData((data) => {
      if (!inputOpen) return;
      if (!lines) {
        send(encoder.encode(data));
        return;
      }
      const { echo, send: text, eof } = lines.feed(data);
      if (echo) terminal.write(echo);
      if (text) send(encoder.encode(text));
      if (eof) sendJson(socket, { type: "eof" });
    });
    const binaryInput = terminal.onBinary((data) => {
      if (inputOpen) send(Uint8Array.from(data, (c) => c.charCodeAt(0)));
    });
    const resized = terminal.onResize(({ cols, rows }) => {
      if (!lines) sendJson(socket, { type: "resize", cols, rows });
    });
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
  }, []);

  return <div className="console-screen" ref={screen} aria-label="Terminal" />;
}

interface ConsoleProps {
  hostId: number;
  container: string;
  running: boolean;
  /** Open in this mode (the run page sends `attach` after an interactive create). */
  initialMode?: ConsoleMode;
  /** Attach at once and start the container (the run page's "Interactive (-it)"). */
  autoStart?: boolean;
  /** Called once the automatic start was used, so that the page does not start it again on a remount. */
  onLaunched?: () => void;
  /** The container's state changed because of the session (started, exited): refresh what shows it. */
  onStateChange?: () => void;
}

export function Console({ hostId, container, running, initialMode = "exec", autoStart = false, onLaunched, onStateChange }: ConsoleProps) {
  const [mode, setMode] = useState<ConsoleMode>(initialMode);
  const [shell, setShell] = useState("sh");
  const [custom, setCustom] = useState("");
  const [user, setUser] = useState("");
  // Which session is open (0: none); each new number is a new connection with the settings below.
  const [session, setSession] = useState(autoStart || (running && initialMode === "exec") ? 1 : 0);
  const [state, setState] = useState("Not connected.");
  const [error, setError] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const command = shell === "custom" ? custom.trim() : shell;
  const containerPath = `ws/hosts/${hostId}/containers/${encodeURIComponent(container)}`;
  // The settings a session was opened with (changing the form does not change an open session).
  const [opened, setOpened] = useState({ mode, command, user, start: autoStart });

  const launched = useRef(onLaunched);
  useEffect(() => {
    if (autoStart) launched.current?.();
  }, [autoStart]);

  function connect(start: boolean) {
    setOpened({ mode, command, user, start });
    setError(null);
    setState(mode === "exec" ? `Connecting to ${command}…` : start ? "Attaching, then starting…" : "Attaching…");
    setSession((n) => n + 1);
  }

  function onEvent(event: SessionEvent) {
    switch (event.kind) {
      case "ready": {
        setConnected(true);
        const m = event.message;
        if (opened.mode === "exec") {
          setState(`Connected: ${((m.cmd as string[]) ?? [opened.command]).join(" ")}`);
        } else {
          const how = m.started ? ", started it" : m.running ? "" : "; the container is not running: start it to see its output";
          const stdin = m.stdin ? "" : " (its stdin is not open: output only)";
          setState(`Connected: attached to the main process${how}${stdin}.`);
          if (m.started) onStateChange?.();
        }
        break;
      }
      case "started":
        setState("Connected: attached to the main process, started it.");
        onStateChange?.();
        break;
      case "exit":
        setState(opened.mode === "exec" ? `The command exited with code ${String(event.code)}.` : `The main process exited with code ${String(event.code)}.`);
        if (opened.mode === "attach") onStateChange?.();
        break;
      case "detached":
        setState(event.message || "Detached.");
        break;
      case "error":
        setError(event.message);
        break;
      case "end":
        setConnected(false);
        if (event.message) setError(event.message);
        setState((old) => (old.includes("exited with code") || old.startsWith("The engine ended") ? old : "Disconnected."));
        break;
    }
  }

  const path = opened.mode === "exec" ? `${containerPath}/exec/` : `${containerPath}/attach/`;
  const params =
    opened.mode === "exec"
      ? { cmd: opened.command, user: opened.user || undefined, tty: true }
      : { start: opened.start || undefined };
  const attaching = mode === "attach";
  const idle = running ? "Not connected." : attaching ? "The container is not running: Start and attach runs its main process here." : "The container is not running: start it to open a console.";

  return (
    <section className="console" aria-label="Console">
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          connect(attaching && !running);
        }}
      >
        <span role="radiogroup" aria-label="Session" style={{ display: "inline-flex", gap: ".6rem" }}>
          <label className="inline">
            <input type="radio" name="console-mode" value="exec" checked={mode === "exec"} onChange={() => setMode("exec")} /> Exec a shell
          </label>{" "}
          <label className="inline">
            <input type="radio" name="console-mode" value="attach" checked={attaching} onChange={() => setMode("attach")} /> Attach to main process
          </label>
        </span>
        {attaching ? null : (
          <>
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
          </>
        )}
        <button type="submit" className="primary">
          {attaching ? (running ? (connected && opened.mode === "attach" ? "Reattach" : "Attach") : "Start and attach") : connected ? "Reconnect" : "Connect"}
        </button>
        {session > 0 ? (
          <button type="button" onClick={() => setSession(0)}>
            {opened.mode === "attach" ? "Detach" : "Disconnect"}
          </button>
        ) : null}
      </form>
      <p className="muted small" role="status">
        {session > 0 ? state : idle}
      </p>
      {attaching && session === 0 ? (
        <p className="muted small">Attaching shows the main process's terminal; detaching (or leaving the page) leaves the container running.</p>
      ) : null}
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      {session > 0 ? (
        <TerminalSession key={session} path={path} params={params} onEvent={onEvent} />
      ) : (
        <div className="console-screen" aria-label="Terminal" />
      )}
    </section>
  );
}

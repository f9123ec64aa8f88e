/** The log viewer: a bounded window of lines from the logs websocket, virtualized, with ANSI colours,
 * server-side filtering with client-side highlight, follow / pause / tail / since / timestamps / wrap. */
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { openSocket, sendJson, wsUrl } from "../api/ws";
import { AnsiText, searchPattern } from "./AnsiText";
import { type IncomingLine, type LogLine, LineBuffer } from "./buffer";

const TAILS = ["100", "500", "1000", "10000", "all"];
const DEFAULT_KEEP = 100_000;

export interface LogViewerProps {
  /** e.g. `ws/hosts/1/containers/web/logs/` or `ws/hosts/1/logs/` */
  socketPath: string;
  /** extra query parameters (merged view: `project`, `containers`, `label`) */
  params?: Record<string, string>;
  /** a download link for the whole log (single containers) */
  downloadUrl?: (timestamps: boolean) => string;
  /** several containers: show a coloured name per line */
  merged?: boolean;
}

export function containerColour(name: string): string {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 65% 55%)`;
}

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

function shortTs(ts: string | null): string {
  if (!ts) return "";
  // 2026-01-02T03:04:05.123456789Z → 2026-01-02 03:04:05.123
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(ts);
  return m ? `${m[1]} ${m[2]}${m[3] ?? ""}` : ts;
}

export function LogViewer({ socketPath, params = {}, downloadUrl, merged = false }: LogViewerProps) {
  const [tail, setTail] = useState("500");
  const [since, setSince] = useState("");
  const [timestamps, setTimestamps] = useState(true);
  const [wrap, setWrap] = useState(false);
  const [follow, setFollow] = useState(true);
  const [paused, setPaused] = useState(false);
  const [search, setSearch] = useState("");
  const [regex, setRegex] = useState(false);
  const [stream, setStream] = useState<"all" | "stdout" | "stderr">("all");
  const [keep, setKeep] = useState(DEFAULT_KEEP);
  const [status, setStatus] = useState("Connecting…");
  const [error, setError] = useState<string | null>(null);
  const [, setVersion] = useState(0);
  const buffer = useRef(new LineBuffer(DEFAULT_KEEP));
  const socket = useRef<WebSocket | null>(null);
  const frame = useRef<number | null>(null);
  const filter = useDebounced(search, 400);
  const sinceSettled = useDebounced(since, 600);
  const paramsKey = JSON.stringify(params);

  const repaint = useCallback(() => {
    if (frame.current !== null) return;
    frame.current = window.requestAnimationFrame(() => {
      frame.current = null;
      setVersion(buffer.current.version);
    });
  }, []);

  useEffect(() => () => {
    if (frame.current !== null) window.cancelAnimationFrame(frame.current);
  }, []);

  useEffect(() => {
    buffer.current.clear();
    setError(null);
    setPaused(false);
    setStatus("Connecting…");
    repaint();
    const url = wsUrl(socketPath, {
      ...(JSON.parse(paramsKey) as Record<string, string>),
      tail,
      since: sinceSettled.trim(),
      timestamps,
      follow: true,
      filter,
      regex: filter ? regex : undefined,
      stream: stream === "all" ? undefined : stream,
    });
    const ws = openSocket(url, {
      onJson: (m) => {
        switch (m.type) {
          case "lines":
            buffer.current.pushBatch((m.lines as IncomingLine[]) ?? []);
            repaint();
            break;
          case "ready": {
            const names = ((m.containers as { name: string }[]) ?? []).map((c) => c.name).join(", ");
            setStatus(`Streaming ${names}`);
            break;
          }
          case "skipped":
            buffer.current.note(`… ${String(m.count)} lines skipped (the viewer fell behind or was paused)`);
            repaint();
            break;
          case "status":
            buffer.current.note(`— ${String(m.container ?? "")} ${String(m.state ?? "")}${m.detail ? `: ${String(m.detail)}` : ""}`, String(m.container ?? ""));
            repaint();
            break;
          case "paused":
            setPaused(true);
            break;
          case "resumed":
            setPaused(false);
            break;
          case "end":
            setStatus("The log ended (the container stopped or was removed).");
            break;
          case "error":
            setError(String(m.message));
            break;
        }
      },
      onEnd: (end) => {
        if (end.message) setError(end.message);
        setStatus((old) => (old.startsWith("Streaming") || old.startsWith("Connecting") ? "Disconnected." : old));
      },
    });
    socket.current = ws;
    return () => {
      socket.current = null;
      ws.close();
    };
  }, [socketPath, paramsKey, tail, sinceSettled, timestamps, filter, regex, stream, repaint]);

  useEffect(() => {
    if (keep !== buffer.current.capacity && keep >= 100) {
      buffer.current.resize(keep);
      repaint();
    }
  }, [keep, repaint]);

  const scroller = useRef<HTMLDivElement>(null);
  const count = buffer.current.length;
  const virtual = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => 19,
    overscan: 20,
    getItemKey: (i) => buffer.current.at(i)?.seq ?? i,
  });

  useEffect(() => {
    if (follow && count > 0) virtual.scrollToIndex(count - 1, { align: "end" });
  });

  const lastTop = useRef(0);
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < lastTop.current && !atBottom && follow) setFollow(false);
    if (atBottom && !follow) setFollow(true);
    lastTop.current = el.scrollTop;
  };

  const highlight = useMemo(() => searchPattern(filter, regex), [filter, regex]);
  const togglePause = () => sendJson(socket.current, { type: paused ? "resume" : "pause" });

  return (
    <section className="log-viewer" aria-label="Logs">
      <div className="toolbar">
        <label className="inline">
          Tail{" "}
          <select value={tail} onChange={(e) => setTail(e.target.value)}>
            {TAILS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Since <input value={since} onChange={(e) => setSince(e.target.value)} placeholder="10m, 2h, RFC 3339" size={12} />
        </label>
        <label className="inline grow">
          Search <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="filter lines (server-side)" />
        </label>
        <label className="inline">
          <input type="checkbox" checked={regex} onChange={(e) => setRegex(e.target.checked)} /> Regex
        </label>
        <label className="inline">
          Stream{" "}
          <select value={stream} onChange={(e) => setStream(e.target.value as typeof stream)}>
            <option value="all">stdout + stderr</option>
            <option value="stdout">stdout</option>
            <option value="stderr">stderr</option>
          </select>
        </label>
      </div>
      <div className="toolbar">
        <label className="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <button type="button" onClick={togglePause} aria-pressed={paused}>
          {paused ? "Resume" : "Pause"}
        </button>
        <label className="inline">
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} /> Timestamps
        </label>
        <label className="inline">
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> Wrap lines
        </label>
        <label className="inline">
          Keep lines{" "}
          <input type="number" min={100} step={1000} value={keep} onChange={(e) => setKeep(Math.max(100, Number(e.target.value) || DEFAULT_KEEP))} />
        </label>
        <button type="button" onClick={() => setFollow(true)} disabled={follow}>
          Jump to newest
        </button>
        <button
          type="button"
          onClick={() => {
            buffer.current.clear();
            repaint();
          }}
        >
          Clear
        </button>
        {downloadUrl ? (
          <a className="button" href={downloadUrl(timestamps)} download>
            Download
          </a>
        ) : null}
      </div>
      <p className="muted small" role="status">
        {status} · {count.toLocaleString()} lines shown
        {buffer.current.evicted ? `, ${buffer.current.evicted.toLocaleString()} older lines dropped (window ${buffer.current.capacity.toLocaleString()})` : ""}
        {paused ? " · paused" : ""}
      </p>
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <div className={`log-lines${wrap ? " wrap" : ""}`} ref={scroller} onScroll={onScroll} role="log" aria-label="Log lines" tabIndex={0}>
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => {
            const line = buffer.current.at(item.index);
            if (!line) return null;
            return (
              <div
                key={item.key}
                data-index={item.index}
                ref={wrap ? virtual.measureElement : undefined}
                className={`line ${line.stream}`}
                style={{ transform: `translateY(${item.start}px)`, ...(wrap ? {} : { height: item.size }) }}
              >
                <LineView line={line} timestamps={timestamps} merged={merged} highlight={highlight} />
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}

function LineView({ line, timestamps, merged, highlight }: { line: LogLine; timestamps: boolean; merged: boolean; highlight: RegExp | null }) {
  if (line.stream === "meta") return <span className="meta">{line.text}</span>;
  return (
    <>
      {timestamps && line.ts ? <span className="ts">{shortTs(line.ts)} </span> : null}
      {merged && line.container ? (
        <span className="who" style={{ color: containerColour(line.container) }}>
          {line.container}{" "}
        </span>
      ) : null}
      <AnsiText text={line.text} highlight={highlight} />
    </>
  );
}

/** The log viewer: a bounded window of lines from the logs websocket, virtualized, with ANSI colours,
 * server-side filtering with client-side highlight, follow / pause / tail / since / timestamps / wrap. */
import { type Range, type Virtualizer, defaultRangeExtractor, useVirtualizer } from "@tanstack/react-virtual";
import { type CSSProperties, type ReactNode, memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { openSocket, sendJson, wsUrl } from "../api/ws";
import { AnsiText, searchPattern } from "./AnsiText";
import { type IncomingLine, type LogLine, LineBuffer } from "./buffer";

const TAILS = ["100", "500", "1000", "10000", "all"];
const DEFAULT_KEEP = 100_000;
const ROW_HEIGHT = 19;
/** Lines per item of the virtual list (see below). */
const CHUNK = 16;
/** Repaints are at least this many ms apart while lines pour in: one costs the same whether it shows 1 new
 * line or 5,000, and the time between them is the main thread's, for scrolling and clicks. A quiet log still
 * shows each line at once. */
const REPAINT_INTERVAL = 100;

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

/** A colour for each of the merged containers, all different: hues a golden angle apart, in name order (the
 * same containers get the same colours every time). */
export function containerColours(names: readonly string[]): Map<string, string> {
  const sorted = [...new Set(names)].sort();
  return new Map(sorted.map((name, i) => [name, `hsl(${((i * 137.508) % 360).toFixed(1)} 70% 58%)`]));
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
  const [version, setVersion] = useState(0);
  const [colours, setColours] = useState<Map<string, string>>(() => new Map());
  const buffer = useRef(new LineBuffer(DEFAULT_KEEP));
  const socket = useRef<WebSocket | null>(null);
  const repaintTimer = useRef<number | null>(null);
  const filter = useDebounced(search, 400);
  const sinceSettled = useDebounced(since, 600);
  const paramsKey = JSON.stringify(params);

  const skipped = useRef(0);
  const lastPaint = useRef(0);
  const repaint = useCallback(() => {
    if (repaintTimer.current !== null) return;
    const wait = Math.max(0, lastPaint.current + REPAINT_INTERVAL - performance.now());
    repaintTimer.current = window.setTimeout(() => {
      repaintTimer.current = null;
      lastPaint.current = performance.now();
      setVersion(buffer.current.version);
    }, wait);
  }, []);

  useEffect(() => () => {
    if (repaintTimer.current !== null) window.clearTimeout(repaintTimer.current);
  }, []);

  useEffect(() => {
    buffer.current.clear();
    skipped.current = 0;
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
            const names = ((m.containers as { name: string }[]) ?? []).map((c) => c.name);
            setColours(containerColours(names));
            setStatus(`Streaming ${names.join(", ")}`);
            break;
          }
          case "skipped":
            skipped.current += Number(m.count) || 0;
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

  const count = buffer.current.length;

  const highlight = useMemo(() => searchPattern(filter, regex), [filter, regex]);
  const saveShown = () => {
    const text = buffer.current
      .toArray()
      .filter((line) => line.stream !== "meta")
      .map((line) => `${timestamps && line.ts ? `${line.ts} ` : ""}${merged && line.container ? `${line.container} | ` : ""}${line.text}\n`)
      .join("");
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${(status.startsWith("Streaming ") ? status.slice(10) : "logs").replace(/[^\w.-]+/g, "_").slice(0, 80)}.log`;
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
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
          <a className="button" href={downloadUrl(timestamps)} download title="The whole log, from the server">
            Download
          </a>
        ) : null}
        <button type="button" onClick={saveShown} disabled={count === 0} title="The lines in the viewer's window, as shown">
          Download shown lines
        </button>
      </div>
      <p className="muted small" role="status">
        {status} · {count.toLocaleString()} lines shown
        {buffer.current.evicted ? `, ${buffer.current.evicted.toLocaleString()} older lines dropped (window ${buffer.current.capacity.toLocaleString()})` : ""}
        {skipped.current ? ` · ${skipped.current.toLocaleString()} lines skipped by the server` : ""}
        {paused ? " · paused" : ""}
      </p>
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      {merged && colours.size ? (
        <ul className="merged-legend" aria-label="Merged containers" style={{ display: "flex", flexWrap: "wrap", gap: "0 1rem", listStyle: "none", padding: 0, margin: "0 0 .4rem" }}>
          {[...colours].map(([name, colour]) => (
            <li key={name} style={{ color: colour, fontWeight: 600 }}>
              <span aria-hidden="true">● </span>
              {name}
            </li>
          ))}
        </ul>
      ) : null}
      <LinesPane
        buffer={buffer.current}
        version={version}
        follow={follow}
        setFollow={setFollow}
        wrap={wrap}
        timestamps={timestamps}
        colours={merged ? colours : null}
        highlight={highlight}
      />
    </section>
  );
}

interface PaneProps {
  buffer: LineBuffer;
  /** the buffer's version this render shows */
  version: number;
  follow: boolean;
  setFollow: (on: boolean) => void;
  wrap: boolean;
  timestamps: boolean;
  /** merged view: each container's colour */
  colours: Map<string, string> | null;
  highlight: RegExp | null;
}

/** The scrolling pane of lines: virtualized, following the newest line or holding still while old ones go. */
const USER_SCROLL_MS = 500; // a scroll this soon after the wheel or a key is the user's

function LinesPane({ buffer, version, follow, setFollow, wrap, timestamps, colours, highlight }: PaneProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const count = buffer.length;
  const firstSeq = buffer.firstSeq;
  const endSeq = firstSeq + count;
  // The virtual list's items are blocks of CHUNK lines aligned on sequence numbers: a block's lines never
  // change once it is full, so it keeps its key, its measured height (wrapped lines) and its rendered rows
  // while the window moves, and the virtualizer's bookkeeping is per block, not per kept line.
  const firstChunk = Math.floor(firstSeq / CHUNK);
  const chunks = count > 0 ? Math.floor((endSeq - 1) / CHUNK) - firstChunk + 1 : 0;
  const chunkRange = useCallback(
    (index: number): [number, number] => {
      const id = firstChunk + index;
      return [Math.max(firstSeq, id * CHUNK), Math.min(endSeq, (id + 1) * CHUNK)];
    },
    [firstChunk, firstSeq, endSeq],
  );
  // A new function whenever the lines change, so that the virtualizer takes the new first and last blocks'
  // sizes (a few thousand blocks at most: cheap). The first block, which loses lines as the window moves,
  // has a key of its own each time: then the virtualizer sees the change and keeps the lines in view where
  // they are (`anchorTo: "end"`, wrapped), and its height is estimated again.
  const chunkKey = useCallback(
    (index: number): number | string => (index === 0 && firstSeq % CHUNK !== 0 ? `${firstChunk}@${firstSeq}` : firstChunk + index),
    [firstChunk, firstSeq, endSeq],
  );
  const chunkSize = useCallback(
    (index: number) => {
      const [from, to] = chunkRange(index);
      return (to - from) * ROW_HEIGHT;
    },
    [chunkRange],
  );
  // Following, the pane is about to scroll to the newest lines: render them now rather than a frame later,
  // when the scroll event reaches the virtualizer.
  const following = useRef(follow);
  following.current = follow;
  const rangeExtractor = useCallback((range: Range) => {
    const indexes = defaultRangeExtractor(range);
    if (!following.current || range.count === 0) return indexes;
    const pane = scroller.current?.clientHeight ?? 0;
    const newest = Math.max(0, range.count - Math.ceil(pane / (CHUNK * ROW_HEIGHT)) - 1);
    const last = indexes[indexes.length - 1] ?? -1;
    for (let i = Math.max(newest, last + 1); i < range.count; i++) indexes.push(i);
    return indexes;
  }, []);
  const virtual = useVirtualizer({
    count: chunks,
    getScrollElement: () => scroller.current,
    estimateSize: chunkSize,
    getItemKey: chunkKey,
    overscan: 1,
    rangeExtractor,
    measureElement: blockHeight,
    // Reading older lines while the window moves: the lines in view stay in view (wrapped: the virtualizer
    // keeps its anchor block in place; unwrapped: the effect below, exactly).
    anchorTo: wrap && !follow ? "end" : "start",
  });

  // Wrapped heights mean nothing unwrapped (and the other way round): measure afresh.
  const measuredWrap = useRef(wrap);
  useLayoutEffect(() => {
    if (measuredWrap.current !== wrap) {
      measuredWrap.current = wrap;
      virtual.measure();
    }
  }, [wrap, virtual]);

  // After each repaint: follow the newest line, or keep the lines in view where they are while old ones leave.
  // Following scrolls in the next animation frame, where the layout it needs is due anyway (in this effect,
  // it would be laid out once more, inside a click on a toggle for instance).
  const shown = useRef({ firstSeq: 0 });
  const followFrame = useRef<number | null>(null);
  useLayoutEffect(() => {
    const el = scroller.current;
    const last = shown.current;
    if (!el) return;
    if (follow) {
      if (count > 0 && followFrame.current === null) {
        followFrame.current = window.requestAnimationFrame(() => {
          followFrame.current = null;
          const pane = scroller.current;
          if (pane && following.current) pane.scrollTop = pane.scrollHeight;
        });
      }
    } else if (!wrap && firstSeq > last.firstSeq && el.scrollTop > 0) {
      el.scrollTop = Math.max(0, el.scrollTop - (firstSeq - last.firstSeq) * ROW_HEIGHT);
    }
    // Measured heights of blocks that left the window are of no more use.
    const firstKey = chunkKey(0);
    for (const key of virtual.itemSizeCache.keys()) if (typeof key === "number" ? key < firstChunk : key !== firstKey) virtual.itemSizeCache.delete(key);
    last.firstSeq = firstSeq;
  }, [version, follow, wrap, count, firstSeq, firstChunk, chunkKey, virtual]);
  useEffect(() => () => {
    if (followFrame.current !== null) window.cancelAnimationFrame(followFrame.current);
  }, []);

  // Scrolling up stops following (at once: a scroll to the bottom may be waiting for the next frame);
  // scrolling back to the bottom follows again. Only the user's scrolling counts: old blocks leaving the top
  // of the window also lower scrollTop, and that must not stop following.
  const lastTop = useRef(0);
  const userInput = useRef({ at: -Infinity, held: false });
  useEffect(() => {
    const release = () => {
      userInput.current.held = false;
    };
    window.addEventListener("pointerup", release);
    window.addEventListener("pointercancel", release);
    return () => {
      window.removeEventListener("pointerup", release);
      window.removeEventListener("pointercancel", release);
    };
  }, []);
  const markUserInput = () => {
    userInput.current.at = performance.now();
  };
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (["ArrowUp", "PageUp", "Home"].includes(event.key)) markUserInput();
  };
  const onPointerDown = () => {
    userInput.current.held = true; // dragging the scrollbar
  };
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    const byUser = userInput.current.held || performance.now() - userInput.current.at < USER_SCROLL_MS;
    if (byUser && el.scrollTop < lastTop.current && !atBottom && following.current) {
      following.current = false;
      if (followFrame.current !== null) window.cancelAnimationFrame(followFrame.current);
      followFrame.current = null;
      setFollow(false);
    }
    if (atBottom && !follow) setFollow(true);
    lastTop.current = el.scrollTop;
  };

  return (
    <div
      className={`log-lines${wrap ? " wrap" : ""}`}
      ref={scroller}
      onScroll={onScroll}
      onWheel={(event) => event.deltaY < 0 && markUserInput()}
      onKeyDown={onKeyDown}
      onPointerDown={onPointerDown}
      role="log"
      aria-label="Log lines"
      tabIndex={0}
    >
      <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
        {virtual.getVirtualItems().map((item) => {
          const [from, to] = chunkRange(item.index);
          return (
            <div
              key={item.key}
              data-index={item.index}
              ref={wrap ? virtual.measureElement : undefined}
              className="lines-block"
              style={{ position: "absolute", top: 0, left: 0, minWidth: "100%", width: wrap ? "100%" : undefined, transform: `translateY(${item.start}px)` }}
            >
              <Block buffer={buffer} from={from} to={to} timestamps={timestamps} colours={colours} highlight={highlight} />
            </div>
          );
        })}
      </div>
    </div>
  );
}

/** A block's height as its ResizeObserver reports it; until then, the last one known or the estimate. (The
 * virtualizer's default reads `offsetHeight` when a block mounts: a forced layout per render.) */
function blockHeight(element: Element, entry: ResizeObserverEntry | undefined, instance: Virtualizer<HTMLDivElement, Element>): number {
  const box = entry?.borderBoxSize?.[0];
  if (box) return Math.round(box.blockSize);
  const index = instance.indexFromElement(element);
  return instance.itemSizeCache.get(instance.options.getItemKey(index)) ?? instance.options.estimateSize(index);
}

/** The lines `from`..`to` (sequence numbers, end excluded) of the window. A block's lines never change, so it
 * renders again only when the range or the display options (time stamps, colours, highlight) do. */
const Block = memo(function Block({
  buffer,
  from,
  to,
  timestamps,
  colours,
  highlight,
}: {
  buffer: LineBuffer;
  from: number;
  to: number;
  timestamps: boolean;
  colours: Map<string, string> | null;
  highlight: RegExp | null;
}) {
  const rows: ReactNode[] = [];
  const base = buffer.firstSeq;
  for (let seq = from; seq < to; seq++) {
    const line = buffer.at(seq - base);
    if (!line) continue;
    rows.push(
      <div key={seq} className={`line ${line.stream}`} style={LINE_STYLE}>
        <LineView line={line} timestamps={timestamps} colours={colours} highlight={highlight} />
      </div>,
    );
  }
  return <>{rows}</>;
});

// Lines flow inside their block (the stylesheet places single lines absolutely). Unwrapped, a line is one line
// box of the pane's fixed line height, ROW_HEIGHT; wrapped, the blocks are measured. The rows do not depend
// on the wrap setting, so toggling it re-renders no line: it is the pane's class and the blocks' sizes.
const LINE_STYLE: CSSProperties = { position: "relative" };

function LineView({ line, timestamps, colours, highlight }: { line: LogLine; timestamps: boolean; colours: Map<string, string> | null; highlight: RegExp | null }) {
  if (line.stream === "meta") return <span className="meta">{line.text}</span>;
  return (
    <>
      {timestamps && line.ts ? <span className="ts">{shortTs(line.ts)} </span> : null}
      {colours && line.container ? (
        <span className="who" style={{ color: colours.get(line.container) ?? containerColour(line.container) }}>
          {line.container}{" "}
        </span>
      ) : null}
      <AnsiText text={line.text} highlight={highlight} />
    </>
  );
}

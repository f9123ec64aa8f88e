/** Live stats charts (uPlot) from `ws/hosts/<id>/containers/<c>/stats/`; the last minutes stay while open. */
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import { openSocket, wsUrl } from "../../api/ws";
import { formatBytes } from "../../lib/format";

const KEEP_SECONDS = 15 * 60;

export interface StatsFrame {
  cpu_percent: number;
  mem_usage: number;
  mem_limit: number;
  mem_percent: number;
  net_rx_rate?: number;
  net_tx_rate?: number;
  blk_read_rate?: number;
  blk_write_rate?: number;
  pids: number;
}

/** Columns of a time series: x (unix seconds) and one array per series, capped at `keep` points. */
export class Series {
  readonly columns: number[][];
  constructor(
    count: number,
    private readonly keep = KEEP_SECONDS,
  ) {
    this.columns = Array.from({ length: count + 1 }, () => []);
  }
  add(t: number, values: number[]): void {
    this.columns[0]?.push(t);
    values.forEach((v, i) => this.columns[i + 1]?.push(v));
    if ((this.columns[0]?.length ?? 0) > this.keep) for (const column of this.columns) column.shift();
  }
  get data(): uPlot.AlignedData {
    return this.columns as unknown as uPlot.AlignedData;
  }
}

const rate = (v: number) => `${formatBytes(v)}/s`;

const CHARTS: { title: string; series: { label: string; stroke: string }[]; pick: (f: StatsFrame) => number[]; axis?: (v: number) => string }[] = [
  { title: "CPU %", series: [{ label: "CPU %", stroke: "#3b82f6" }], pick: (f) => [f.cpu_percent] },
  {
    title: "Memory",
    series: [
      { label: "usage", stroke: "#10b981" },
      { label: "limit", stroke: "#9ca3af" },
    ],
    pick: (f) => [f.mem_usage, f.mem_limit],
    axis: formatBytes,
  },
  {
    title: "Network",
    series: [
      { label: "received", stroke: "#8b5cf6" },
      { label: "sent", stroke: "#f59e0b" },
    ],
    pick: (f) => [f.net_rx_rate ?? 0, f.net_tx_rate ?? 0],
    axis: rate,
  },
  {
    title: "Block IO",
    series: [
      { label: "read", stroke: "#06b6d4" },
      { label: "write", stroke: "#ef4444" },
    ],
    pick: (f) => [f.blk_read_rate ?? 0, f.blk_write_rate ?? 0],
    axis: rate,
  },
];

export function Stats({ socketPath, running }: { socketPath: string; running: boolean }) {
  const [latest, setLatest] = useState<StatsFrame | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [state, setState] = useState("Connecting…");
  const charts = useRef<(HTMLDivElement | null)[]>([]);

  useEffect(() => {
    if (!running) return;
    const series = CHARTS.map((c) => new Series(c.series.length));
    const plots = CHARTS.map((chart, i) => {
      const el = charts.current[i];
      if (!el) return null;
      const format = chart.axis;
      return new uPlot(
        {
          width: Math.max(280, el.clientWidth),
          height: 180,
          series: [{}, ...chart.series.map((s) => ({ ...s, width: 2, ...(format ? { value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)) } : {}) }))],
          axes: [{}, { size: 70, ...(format ? { values: (_u: uPlot, ticks: number[]) => ticks.map(format) } : {}) }],
          scales: { x: { time: true } },
          legend: { show: true },
        },
        series[i]?.data ?? [[]],
        el,
      );
    });
    const observer = new ResizeObserver(() => {
      plots.forEach((plot, i) => {
        const el = charts.current[i];
        if (plot && el) plot.setSize({ width: Math.max(280, el.clientWidth), height: 180 });
      });
    });
    charts.current.forEach((el) => el && observer.observe(el));
    const socket = openSocket(wsUrl(socketPath), {
      onJson: (m) => {
        if (m.type === "ready") setState("Live, one sample a second.");
        else if (m.type === "stats") {
          const frame = m as unknown as StatsFrame;
          const t = Date.now() / 1000;
          CHARTS.forEach((chart, i) => {
            series[i]?.add(t, chart.pick(frame));
            plots[i]?.setData(series[i]?.data ?? [[]]);
          });
          setLatest(frame);
        } else if (m.type === "status") setState(`The container is ${String(m.state ?? "changing")}.`);
        else if (m.type === "end") setState("The stats stream ended.");
        else if (m.type === "error") setError(String(m.message));
      },
      onEnd: (end) => {
        if (end.message) setError(end.message);
      },
    });
    return () => {
      socket.close();
      observer.disconnect();
      plots.forEach((p) => p?.destroy());
    };
  }, [socketPath, running]);

  if (!running) return <p className="notice">The container is not running: there are no live stats.</p>;
  return (
    <section className="stats" aria-label="Stats">
      <p className="muted small" role="status">
        {state}
      </p>
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      <dl className="facts stats-now" aria-label="Current usage">
        <dt>CPU</dt>
        <dd>{latest ? `${latest.cpu_percent.toFixed(1)} %` : "–"}</dd>
        <dt>Memory</dt>
        <dd>{latest ? `${formatBytes(latest.mem_usage)} of ${formatBytes(latest.mem_limit)} (${latest.mem_percent.toFixed(1)} %)` : "–"}</dd>
        <dt>Network</dt>
        <dd>{latest ? `↓ ${rate(latest.net_rx_rate ?? 0)} ↑ ${rate(latest.net_tx_rate ?? 0)}` : "–"}</dd>
        <dt>Block IO</dt>
        <dd>{latest ? `read ${rate(latest.blk_read_rate ?? 0)}, write ${rate(latest.blk_write_rate ?? 0)}` : "–"}</dd>
        <dt>Processes</dt>
        <dd>{latest ? latest.pids : "–"}</dd>
      </dl>
      <div className="charts">
        {CHARTS.map((chart, i) => (
          <figure key={chart.title} className="chart">
            <figcaption>{chart.title}</figcaption>
            <div
              ref={(el) => {
                charts.current[i] = el;
              }}
            />
          </figure>
        ))}
      </div>
    </section>
  );
}

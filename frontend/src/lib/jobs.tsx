/** Background jobs (pull, push, build, commit): a panel on every page, live over `ws/jobs/`. The socket
 * sends the recent jobs on connect, so the panel survives a reload; it stays hidden until there are jobs. */
import { type ReactNode, createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { request } from "../api/client";
import { errorMessage } from "../api/errors";
import { openSocket, wsUrl } from "../api/ws";
import { formatBytes } from "./format";

export interface Layer {
  status: string;
  current: number;
  total: number;
  done: boolean;
}

export interface Job {
  id: string;
  kind: string;
  status: string;
  host: number;
  host_name: string;
  params: Record<string, unknown>;
  progress: {
    phase?: string;
    message?: string;
    percent?: number;
    layers?: Record<string, Layer>;
    lines?: string[];
    step?: number;
    steps?: number;
    pull?: { percent?: number; layers?: Record<string, Layer> };
  };
  result: Record<string, unknown>;
  error: string;
  created_at: string;
  seq: number;
}

const FINISHED = new Set(["succeeded", "success", "done", "failed", "error", "cancelled", "canceled"]);
export const isFinished = (job: Job) => FINISHED.has(job.status);

interface JobsState {
  jobs: Job[];
  available: boolean;
  upsert: (job: Job) => void;
}

const JobsContext = createContext<JobsState>({ jobs: [], available: false, upsert: () => undefined });
export const useJobs = () => useContext(JobsContext);

/** Keeps the newest state of each job (by `seq`), newest job first. */
export function mergeJobs(jobs: Job[], incoming: Job[]): Job[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  for (const job of incoming) {
    const known = byId.get(job.id);
    if (!known || job.seq >= known.seq) byId.set(job.id, job);
  }
  return [...byId.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
}

export function JobsProvider({ children }: { children: ReactNode }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [available, setAvailable] = useState(false);
  const upsert = useCallback((job: Job) => setJobs((old) => mergeJobs(old, [job])), []);
  useEffect(() => {
    let stopped = false;
    let retry: number | undefined;
    let socket: WebSocket | null = null;
    let attempt = 0;
    const connect = () => {
      socket = openSocket(wsUrl("ws/jobs/"), {
        onJson: (m) => {
          if (m.type === "jobs") {
            attempt = 0;
            setAvailable(true);
            setJobs((old) => mergeJobs(old, (m.jobs as Job[]) ?? []));
          } else if (m.type === "job") upsert(m.job as Job);
        },
        onEnd: (end) => {
          if (stopped) return;
          attempt++;
          retry = window.setTimeout(connect, end.neverOpened ? 120_000 : Math.min(30_000, 1000 * 2 ** attempt));
        },
      });
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      socket?.close();
    };
  }, [upsert]);
  const value = useMemo(() => ({ jobs, available, upsert }), [jobs, available, upsert]);
  return <JobsContext.Provider value={value}>{children}</JobsContext.Provider>;
}

function describe(job: Job): string {
  const p = job.params;
  const what = (p.image as string) || ((p.tags as string[] | undefined) ?? []).join(", ") || (p.container as string) || "";
  return `${job.kind}${what ? ` ${what}` : ""} on ${job.host_name}`;
}

export function JobsPanel() {
  const { jobs, upsert } = useJobs();
  const [open, setOpen] = useState(true);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const shown = jobs.filter((j) => !hidden.has(j.id)).slice(0, 20);
  if (!shown.length) return null;
  const running = shown.filter((j) => !isFinished(j)).length;
  const act = async (job: Job, verb: "cancel" | "retry") => {
    try {
      upsert(await request<Job>("POST", `/api/v1/jobs/${job.id}/${verb}/`));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <aside className="jobs-panel" aria-label="Jobs">
      <header>
        <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
          Jobs {running ? `(${running} running)` : "(all done)"}
        </button>
        <button type="button" className="link" onClick={() => setHidden(new Set(jobs.filter(isFinished).map((j) => j.id)))}>
          Clear finished
        </button>
      </header>
      {error ? (
        <p className="error-note" role="alert">
          {error}
        </p>
      ) : null}
      {open ? (
        <ul>
          {shown.map((job) => (
            <li key={job.id} className={`job job-${job.status}`}>
              <div className="job-title">
                <strong>{describe(job)}</strong> <span className={`badge job-status-${job.status}`}>{job.status}</span>
              </div>
              <progress max={100} value={job.status === "succeeded" ? 100 : (job.progress.percent ?? 0)} aria-label={`Progress of ${describe(job)}`} />
              {job.progress.message ? <div className="muted small">{job.progress.message}</div> : null}
              {job.error ? <div className="field-error">{job.error}</div> : null}
              <Layers layers={job.progress.layers ?? job.progress.pull?.layers} />
              {job.progress.lines?.length ? <pre className="job-lines">{job.progress.lines.slice(-12).join("\n")}</pre> : null}
              <div className="actions">
                {!isFinished(job) ? (
                  <button type="button" onClick={() => void act(job, "cancel")}>
                    Cancel
                  </button>
                ) : null}
                {job.status === "failed" || job.status === "cancelled" ? (
                  <button type="button" onClick={() => void act(job, "retry")}>
                    Retry
                  </button>
                ) : null}
              </div>
            </li>
          ))}
        </ul>
      ) : null}
    </aside>
  );
}

function Layers({ layers }: { layers: Record<string, Layer> | undefined }) {
  const entries = Object.entries(layers ?? {});
  if (!entries.length) return null;
  return (
    <ul className="layers">
      {entries.map(([id, layer]) => (
        <li key={id}>
          <span className="mono small">{id.slice(0, 12)}</span>{" "}
          <progress max={layer.total || 1} value={layer.done ? layer.total || 1 : layer.current} aria-label={`Layer ${id.slice(0, 12)}`} />{" "}
          <span className="small muted">
            {layer.status}
            {layer.total ? ` ${formatBytes(layer.current)}/${formatBytes(layer.total)}` : ""}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** Background jobs (pull, push, build, commit): a panel on every page, live over `ws/jobs/`.
 *
 * The socket sends the user's recent jobs on connect and then every change, so the panel survives a reload
 * (and a lost connection: it reconnects, and catches up over REST meanwhile). What the user cleared or
 * collapsed is remembered in localStorage. Pulls and pushes show a bar per layer; builds show step n of m
 * and their output as it arrives. */
import { type ReactNode, createContext, useCallback, useContext, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { request } from "../api/client";
import { errorMessage } from "../api/errors";
import { openSocket, wsUrl } from "../api/ws";
import { formatBytes, shortId } from "./format";

export interface Layer {
  status: string;
  current: number;
  total: number;
  done: boolean;
}

/** A pull or push: per layer, with the overall percent. */
export interface LayerState {
  phase?: string;
  message?: string;
  percent?: number;
  layers?: Record<string, Layer>;
  current?: number;
  total?: number;
}

/** A build: step n of m and the output lines (the server keeps the last 500). */
export interface BuildState {
  phase?: string;
  message?: string;
  percent?: number;
  lines?: string[];
  lines_dropped?: number;
  step?: number;
  steps?: number;
  instruction?: string;
  /** A FROM image being pulled during the build. */
  pull?: LayerState;
}

export interface Job {
  id: string;
  kind: string;
  status: string;
  host: number;
  host_name: string;
  user?: string;
  params: Record<string, unknown>;
  /** Pull/push: a LayerState; build: a BuildState; a build that pushes: the push's LayerState with the
   * build's state under `build` and the tag being pushed as `reference`. */
  progress: LayerState &
    BuildState & {
      build?: BuildState;
      reference?: string;
    };
  result: Record<string, unknown>;
  error: string;
  created_at: string;
  finished_at?: string | null;
  cancel_requested?: boolean;
  seq: number;
}

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
export const isFinished = (job: Job) => FINISHED.has(job.status);

interface JobsState {
  jobs: Job[];
  /** Whether live updates arrive (the jobs websocket is connected). */
  live: boolean;
  upsert: (job: Job) => void;
}

const JobsContext = createContext<JobsState>({ jobs: [], live: false, upsert: () => undefined });
export const useJobs = () => useContext(JobsContext);

/** Keeps the newest state of each job (by `seq`), newest job first. */
export function mergeJobs(jobs: Job[], incoming: Job[]): Job[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  let changed = false;
  for (const job of incoming) {
    const known = byId.get(job.id);
    if (!known || job.seq > known.seq || (job.seq === known.seq && job.status !== known.status)) {
      byId.set(job.id, job);
      changed = true;
    }
  }
  if (!changed) return jobs;
  return [...byId.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
}

/** The page of the REST list the panel catches up from while the socket is down. */
interface JobPage {
  results?: Job[];
}

export function JobsProvider({ children, username }: { children: ReactNode; username?: string }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [live, setLive] = useState(false);
  const upsert = useCallback((job: Job) => setJobs((old) => mergeJobs(old, [job])), []);
  useEffect(() => {
    let stopped = false;
    let retry: number | undefined;
    let socket: WebSocket | null = null;
    let attempt = 0;
    const catchUp = async () => {
      try {
        const query = new URLSearchParams({ limit: "50" });
        if (username) query.set("user", username);
        const page = await request<JobPage>("GET", `/api/v1/jobs/?${query}`);
        if (!stopped) setJobs((old) => mergeJobs(old, page?.results ?? []));
      } catch {
        // The socket's retry brings the state when the server answers again.
      }
    };
    const connect = () => {
      socket = openSocket(wsUrl("ws/jobs/"), {
        onJson: (m) => {
          if (m.type === "jobs") {
            attempt = 0;
            setLive(true);
            setJobs((old) => mergeJobs(old, (m.jobs as Job[]) ?? []));
          } else if (m.type === "job") upsert(m.job as Job);
        },
        onEnd: (end) => {
          if (stopped) return;
          setLive(false);
          attempt++;
          void catchUp();
          // Without the socket, keep the panel fresh over REST until it comes back.
          retry = window.setTimeout(connect, end.neverOpened ? 15_000 : Math.min(15_000, 1000 * 2 ** attempt));
        },
      });
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      socket?.close();
    };
  }, [upsert, username]);
  const value = useMemo(() => ({ jobs, live, upsert }), [jobs, live, upsert]);
  return <JobsContext.Provider value={value}>{children}</JobsContext.Provider>;
}

/** Calls `onFinish` once for each job that finishes while the page watches (not for jobs loaded finished). */
export function useJobFinished(onFinish: (job: Job) => void) {
  const { jobs } = useJobs();
  const running = useRef<Set<string>>(new Set());
  const callback = useRef(onFinish);
  callback.current = onFinish;
  useEffect(() => {
    for (const job of jobs) {
      if (!isFinished(job)) running.current.add(job.id);
      else if (running.current.delete(job.id)) callback.current(job);
    }
  }, [jobs]);
}

/** What the job is about, for people: "pull localhost:5000/web:1 on engine1". */
export function describeJob(job: Job): string {
  const p = job.params;
  const tags = (p.tags as string[] | undefined) ?? [];
  const what =
    job.kind === "build"
      ? tags.join(", ") || `from ${p.context_kind === "git" ? String(p.remote ?? "git") : p.context_kind === "upload" ? "an upload" : "a Dockerfile"}`
      : job.kind === "commit"
        ? `${String(p.container ?? "")}${p.image ? ` → ${String(p.image)}` : ""}`
        : String(p.image ?? "");
  return `${job.kind}${what ? ` ${what}` : ""} on ${job.host_name}`;
}

export function jobPercent(job: Job): number {
  if (job.status === "succeeded") return 100;
  const percent = job.progress.percent ?? 0;
  return Math.max(0, Math.min(100, Number.isFinite(percent) ? percent : 0));
}

/** The build part of a job's progress (a build that pushes keeps it under `build`). */
export function buildState(job: Job): BuildState | null {
  if (job.kind !== "build") return null;
  return job.progress.build ?? job.progress;
}

/** The layers to show: a pull's or push's, or those of a FROM image a build pulls. */
export function jobLayers(job: Job): Record<string, Layer> {
  if (job.kind === "build" && job.progress.phase !== "push") return buildState(job)?.pull?.layers ?? {};
  return job.progress.layers ?? {};
}

export function jobSummary(job: Job): string {
  const p = job.progress;
  if (job.status === "queued") return job.cancel_requested ? "Cancelling…" : "Waiting for a worker (at most a few jobs run per host at once)…";
  if (job.kind === "build") {
    const build = buildState(job);
    if (p.phase === "push") return `Pushing ${p.reference ?? ""}${p.message ? `: ${p.message}` : ""}`;
    if (build?.steps) return `Step ${build.step}/${build.steps}: ${build.instruction ?? ""}`;
    return build?.message ?? "";
  }
  const layers = Object.values(p.layers ?? {});
  if (layers.length) {
    const done = layers.filter((l) => l.done).length;
    const bytes = p.total ? ` · ${formatBytes(Math.min(p.current ?? 0, p.total))} of ${formatBytes(p.total)}` : "";
    // A finished pull's last word ("Downloaded newer image for …", "Image is up to date …") says what happened.
    const said = job.kind === "pull" && isFinished(job) && p.message ? ` · ${p.message}` : "";
    return `${done} of ${layers.length} layers done${bytes}${said}`;
  }
  return p.message ?? "";
}

function jobResult(job: Job): string {
  const r = job.result;
  const parts: string[] = [];
  if (typeof r.image_id === "string" && r.image_id) parts.push(`image ${shortId(r.image_id)}`);
  if (typeof r.digest === "string" && r.digest) parts.push(`digest ${r.digest.slice(0, 19)}…`);
  const pushed = (r.pushed as { reference?: string }[] | undefined)?.map((x) => x.reference).filter(Boolean);
  if (pushed?.length) parts.push(`pushed ${pushed.join(", ")}`);
  return parts.join(" · ");
}

const STORE_HIDDEN = "dockerweb.jobs.hidden";

function loadHidden(): Set<string> {
  try {
    const raw = JSON.parse(window.localStorage.getItem(STORE_HIDDEN) ?? "[]") as unknown;
    return new Set(Array.isArray(raw) ? raw.filter((x): x is string => typeof x === "string") : []);
  } catch {
    return new Set();
  }
}

function store(key: string, value: unknown) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or a full storage: the panel still works, it just forgets.
  }
}

export function JobsPanel() {
  const { jobs, live, upsert } = useJobs();
  // Open while something runs (a new job opens it); after a reload with everything done, folded to its title
  // so it covers little of the page. The person's own choice wins until the next new job.
  const [open, setOpen] = useState(false);
  const [hidden, setHidden] = useState<Set<string>>(loadHidden);
  const known = useRef<Set<string> | null>(null);
  useEffect(() => {
    if (!jobs.length) return;
    if (known.current === null) {
      known.current = new Set(jobs.map((j) => j.id));
      setOpen(jobs.some((j) => !isFinished(j)));
      return;
    }
    const seen = known.current;
    const fresh = jobs.filter((j) => !seen.has(j.id));
    for (const job of fresh) seen.add(job.id);
    if (fresh.some((j) => !isFinished(j))) setOpen(true);
  }, [jobs]);
  const [expanded, setExpanded] = useState<Record<string, boolean>>({});
  const watched = useRef<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  for (const job of jobs) if (!isFinished(job)) watched.current.add(job.id);
  const shown = jobs.filter((j) => !hidden.has(j.id)).slice(0, 20);
  const hide = (ids: string[]) => {
    setHidden((old) => {
      const next = new Set([...old, ...ids]);
      // Only ids of jobs the server still sends are worth remembering.
      const current = new Set(jobs.map((j) => j.id));
      store(STORE_HIDDEN, [...next].filter((id) => current.has(id)).slice(-200));
      return next;
    });
  };
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
  const toggleOpen = () => setOpen(!open);
  return (
    <aside className="jobs-panel" aria-label="Jobs">
      <header>
        <button type="button" className="link" aria-expanded={open} onClick={toggleOpen}>
          Jobs {running ? `(${running} running)` : "(all done)"}
        </button>
        {!live ? (
          <span className="small muted" title="Reconnecting to live updates; the list is refreshed meanwhile.">
            not live
          </span>
        ) : null}
        <button type="button" className="link" onClick={() => hide(jobs.filter(isFinished).map((j) => j.id))} disabled={running === shown.length}>
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
            <JobItem
              key={job.id}
              job={job}
              expanded={expanded[job.id] ?? (!isFinished(job) || watched.current.has(job.id) || job.status === "failed")}
              onToggle={(value) => setExpanded((old) => ({ ...old, [job.id]: value }))}
              onAct={(verb) => void act(job, verb)}
              onHide={() => hide([job.id])}
            />
          ))}
        </ul>
      ) : null}
    </aside>
  );
}

function JobItem({
  job,
  expanded,
  onToggle,
  onAct,
  onHide,
}: {
  job: Job;
  expanded: boolean;
  onToggle: (expanded: boolean) => void;
  onAct: (verb: "cancel" | "retry") => void;
  onHide: () => void;
}) {
  const title = describeJob(job);
  const percent = jobPercent(job);
  const build = buildState(job);
  const lines = build?.lines ?? [];
  const layers = jobLayers(job);
  const hasDetails = lines.length > 0 || Object.keys(layers).length > 0;
  const summary = jobSummary(job);
  const result = job.status === "succeeded" ? jobResult(job) : "";
  return (
    <li className={`job job-${job.status}`} aria-label={title} style={{ overflowWrap: "anywhere" }}>
      <div className="job-title">
        <strong>{title}</strong> <span className={`badge job-status-${job.status}`}>{job.status}</span>
      </div>
      <div className="job-progress">
        <progress max={100} value={percent} aria-label={`Progress of ${title}`} aria-valuetext={`${Math.round(percent)}%`} />{" "}
        <span className="small">{Math.round(percent)}%</span>
      </div>
      {summary ? <div className="muted small">{summary}</div> : null}
      {job.error ? <div className="field-error">{job.error}</div> : null}
      {result ? <div className="small mono">{result}</div> : null}
      {hasDetails && expanded ? (
        <>
          <Layers layers={layers} title={title} />
          {lines.length ? <JobLines title={title} lines={lines} dropped={build?.lines_dropped ?? 0} /> : null}
        </>
      ) : null}
      <div className="actions">
        {hasDetails ? (
          <button type="button" className="link" aria-expanded={expanded} onClick={() => onToggle(!expanded)}>
            {expanded ? "Hide details" : lines.length ? `Show output (${lines.length} lines)` : "Show layers"}
          </button>
        ) : null}
        {!isFinished(job) ? (
          <button type="button" onClick={() => onAct("cancel")} disabled={job.cancel_requested}>
            {job.cancel_requested ? "Cancelling…" : "Cancel"}
          </button>
        ) : null}
        {job.status === "failed" || job.status === "cancelled" ? (
          <button type="button" onClick={() => onAct("retry")}>
            Retry
          </button>
        ) : null}
        {isFinished(job) ? (
          <button type="button" className="link" onClick={onHide} aria-label={`Dismiss ${title}`}>
            Dismiss
          </button>
        ) : null}
      </div>
    </li>
  );
}

/** Build output that follows the newest line unless the reader scrolled up. Text only, never HTML. */
function JobLines({ title, lines, dropped }: { title: string; lines: string[]; dropped: number }) {
  const ref = useRef<HTMLPreElement>(null);
  const following = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && following.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <pre
      ref={ref}
      className="job-lines"
      role="log"
      aria-label={`Output of ${title}`}
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {dropped ? `… ${dropped} earlier lines not kept\n` : ""}
      {lines.join("\n")}
    </pre>
  );
}

function Layers({ layers, title }: { layers: Record<string, Layer>; title: string }) {
  const entries = Object.entries(layers);
  if (!entries.length) return null;
  return (
    <ul className="layers" aria-label={`Layers of ${title}`}>
      {entries.map(([id, layer]) => {
        const total = layer.total || 1;
        const value = layer.done ? total : Math.min(layer.current, total);
        return (
          <li key={id}>
            <span className="mono small">{id.slice(0, 12)}</span>{" "}
            <progress max={total} value={value} aria-label={`Layer ${id.slice(0, 12)}`} />{" "}
            <span className="small muted">
              {layer.status}
              {layer.total && !layer.done ? ` ${formatBytes(layer.current)}/${formatBytes(layer.total)}` : ""}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

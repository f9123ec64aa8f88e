/** One container: overview, logs, console, stats, and its actions. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, Suspense, lazy, useEffect, useState } from "react";
import { Link, NavLink, useNavigate, useParams, useSearchParams } from "react-router";
import { api, call } from "../../api/client";
import { useAccess } from "../../auth/session";
import { ConfirmButton } from "../../components/Confirm";
import { ErrorNote, Notice } from "../../components/ErrorNote";
import { PageTitle } from "../../components/Layout";
import { useHosts } from "../../lib/hosts";
import { LogViewer } from "../../logs/LogViewer";
import { CommitForm } from "./CommitForm";
import type { ConsoleMode } from "./Console";
import { type Inspect, Overview } from "./Overview";

// xterm.js and uPlot load only when their tab opens.
const Console = lazy(() => import("./Console").then((m) => ({ default: m.Console })));
const Stats = lazy(() => import("./Stats").then((m) => ({ default: m.Stats })));

type Verb = "start" | "stop" | "restart" | "pause" | "unpause" | "kill";

export function ContainerPage() {
  const params = useParams();
  const hostId = Number(params.hostId);
  const ref = params.ref ?? "";
  const tab = params.tab ?? "overview";
  const access = useAccess();
  const hosts = useHosts();
  const host = hosts.data?.find((h) => h.id === hostId);
  const client = useQueryClient();
  const navigate = useNavigate();
  const [actionError, setActionError] = useState<unknown>(null);
  const [committing, setCommitting] = useState(false);
  const path = { host_pk: hostId, ref };
  // `console?mode=attach&start=1` (the run page's "Interactive (-it)"): attach to the main process and start
  // it, once; the parameters leave the address so that a reload does not start it again.
  const [search, setSearch] = useSearchParams();
  const [launch, setLaunch] = useState<{ mode: ConsoleMode; start: boolean }>(() => ({
    mode: search.get("mode") === "attach" ? "attach" : "exec",
    start: search.get("mode") === "attach" && search.get("start") === "1",
  }));
  useEffect(() => {
    if (search.has("mode") || search.has("start")) setSearch({}, { replace: true });
  }, [search, setSearch]);

  const inspect = useQuery({
    queryKey: ["container", hostId, ref],
    queryFn: async () => (await call(api.GET("/api/v1/hosts/{host_pk}/containers/{ref}/", { params: { path } }))) as Inspect,
    refetchInterval: 10_000,
  });

  const act = useMutation({
    mutationFn: async (verb: Verb) => {
      const options = { params: { path } };
      switch (verb) {
        case "start":
          return call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/start/", options));
        case "stop":
          return call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/stop/", options));
        case "restart":
          return call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/restart/", options));
        case "pause":
          return call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/pause/", options));
        case "unpause":
          return call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/unpause/", options));
        case "kill":
          return call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/kill/", options));
      }
    },
    onSuccess: () => {
      setActionError(null);
      void client.invalidateQueries({ queryKey: ["container", hostId, ref] });
      void client.invalidateQueries({ queryKey: ["containers"] });
    },
    onError: setActionError,
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/hosts/{host_pk}/containers/{ref}/", { params: { path, query: { force: true } } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["containers"] });
      navigate("/containers");
    },
    onError: setActionError,
  });

  const name = (inspect.data?.Name ?? ref).replace(/^\//, "");
  const state = inspect.data?.State?.Status ?? "";
  const running = state === "running";
  const operator = access.can(hostId, "operator");
  const base = `/hosts/${hostId}/containers/${encodeURIComponent(ref)}`;

  return (
    <>
      <PageTitle title={name}>
        {state ? <span className={`badge state-${state}`}>{state}</span> : null}
        <span className="muted">on {host?.name ?? `host ${hostId}`}</span>
      </PageTitle>
      <p className="breadcrumbs">
        <Link to="/containers">Containers</Link> / <Link to={`/containers?host=${hostId}`}>{host?.name ?? hostId}</Link> / {name}
      </p>
      {inspect.isError ? <ErrorNote error={inspect.error} title="Could not load the container" /> : null}
      {inspect.data ? (
        operator ? (
          <div className="toolbar actions-bar" role="toolbar" aria-label="Container actions">
            {state !== "running" && state !== "paused" ? <ActionButton verb="start" label="Start" act={act} /> : null}
            {running ? <ActionButton verb="stop" label="Stop" act={act} /> : null}
            {running || state === "exited" ? <ActionButton verb="restart" label="Restart" act={act} /> : null}
            {running ? <ActionButton verb="pause" label="Pause" act={act} /> : null}
            {state === "paused" ? <ActionButton verb="unpause" label="Unpause" act={act} /> : null}
            {running ? <ActionButton verb="kill" label="Kill" act={act} /> : null}
            <Rename hostId={hostId} reference={ref} onError={setActionError} />
            <button type="button" aria-expanded={committing} onClick={() => setCommitting(!committing)}>
              Commit…
            </button>
            <ConfirmButton
              label="Remove"
              question={`Remove ${name}${running ? " (it is running: it will be killed)" : ""}?`}
              onConfirm={() => remove.mutate()}
              disabled={remove.isPending}
            />
          </div>
        ) : (
          <Notice>
            You have the {access.roleOn(hostId) ?? "no"} role on this host: actions (start, stop, commit to an image…) and the console need operator.
          </Notice>
        )
      ) : null}
      <ErrorNote error={actionError} />
      {operator && committing && inspect.data ? (
        <CommitForm key={`${hostId}/${ref}`} hostId={hostId} container={ref} name={name} onClose={() => setCommitting(false)} />
      ) : null}
      <nav className="tabs" aria-label="Container views">
        <NavLink to={base} end>
          Overview
        </NavLink>
        <NavLink to={`${base}/logs`}>Logs</NavLink>
        {operator ? <NavLink to={`${base}/console`}>Console</NavLink> : null}
        <NavLink to={`${base}/stats`}>Stats</NavLink>
      </nav>
      {tab === "overview" && inspect.data ? <Overview inspect={inspect.data} hostId={hostId} reference={ref} /> : null}
      {tab === "overview" && inspect.isPending ? <p className="loading">Loading…</p> : null}
      {tab === "logs" ? (
        <LogViewer
          socketPath={`ws/hosts/${hostId}/containers/${encodeURIComponent(ref)}/logs/`}
          downloadUrl={(ts) => `/api/v1/hosts/${hostId}/containers/${encodeURIComponent(ref)}/logs/?tail=all&timestamps=${ts ? "true" : "false"}`}
        />
      ) : null}
      <Suspense fallback={<p className="loading">Loading…</p>}>
      {tab === "console" ? (
        operator ? (
          inspect.data ? (
            <Console
              hostId={hostId}
              container={ref}
              running={running}
              initialMode={launch.mode}
              autoStart={launch.start}
              onLaunched={() => setLaunch((old) => ({ ...old, start: false }))}
              onStateChange={() => void client.invalidateQueries({ queryKey: ["container", hostId, ref] })}
            />
          ) : null
        ) : (
          <Notice>The console needs the operator role on this host.</Notice>
        )
      ) : null}
      {tab === "stats" && inspect.data ? <Stats socketPath={`ws/hosts/${hostId}/containers/${encodeURIComponent(ref)}/stats/`} running={running} /> : null}
      </Suspense>
    </>
  );
}

function ActionButton({ verb, label, act }: { verb: Verb; label: string; act: { mutate: (v: Verb) => void; isPending: boolean; variables?: Verb } }) {
  const busy = act.isPending && act.variables === verb;
  return (
    <button type="button" onClick={() => act.mutate(verb)} disabled={act.isPending}>
      {busy ? `${label}…` : label}
    </button>
  );
}

function Rename({ hostId, reference, onError }: { hostId: number; reference: string; onError: (e: unknown) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const navigate = useNavigate();
  const client = useQueryClient();
  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      await call(api.POST("/api/v1/hosts/{host_pk}/containers/{ref}/rename/", { params: { path: { host_pk: hostId, ref: reference } }, body: { name } }));
      setOpen(false);
      void client.invalidateQueries({ queryKey: ["containers"] });
      navigate(`/hosts/${hostId}/containers/${encodeURIComponent(name)}`, { replace: true });
    } catch (error) {
      onError(error);
    }
  }
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Rename
      </button>
    );
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)}>
      <label className="inline">
        New name <input value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
      </label>
      <button type="submit">Rename</button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}

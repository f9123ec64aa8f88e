import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Link } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { openSocket, wsUrl } from "../api/ws";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote } from "../components/ErrorNote";
import { PageTitle } from "../components/Layout";
import { formatBytes, relativeTime } from "../lib/format";
import { type Host, StatusBadge, useHosts } from "../lib/hosts";

export function HostsPage() {
  const access = useAccess();
  const hosts = useHosts();
  const [importing, setImporting] = useState(false);
  return (
    <>
      <PageTitle title="Hosts">
        <button type="button" onClick={() => void hosts.refetch()} disabled={hosts.isFetching}>
          {hosts.isFetching ? "Reloading…" : "Reload"}
        </button>
        {access.isAdmin ? (
          <button type="button" onClick={() => setImporting((open) => !open)} aria-expanded={importing}>
            Import docker contexts
          </button>
        ) : null}
        {access.isAdmin ? (
          <Link className="button primary" to="/hosts/new">
            Add host
          </Link>
        ) : null}
      </PageTitle>
      {importing ? <ImportContexts onClose={() => setImporting(false)} /> : null}
      <ErrorNote error={hosts.error} title="Could not load the hosts" />
      {hosts.data && hosts.data.length === 0 ? (
        <p className="empty">
          No hosts are visible to you.{" "}
          {access.isAdmin ? <Link to="/hosts/new">Add the first one.</Link> : "Ask an administrator for a grant."}
        </p>
      ) : null}
      <div className="host-grid">
        {hosts.data?.map((host) => <HostCard key={host.id} host={host} />)}
      </div>
    </>
  );
}

function HostCard({ host }: { host: Host }) {
  const access = useAccess();
  const client = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const role = access.roleOn(host.id);
  const isHostAdmin = access.can(host.id, "admin");
  const refresh = useMutation({
    mutationFn: () => call(api.POST("/api/v1/hosts/{id}/refresh/", { params: { path: { id: host.id } } })),
    onSuccess: (fresh) => {
      setError(null);
      client.setQueryData<Host[]>(["hosts"], (old) => old?.map((h) => (h.id === fresh.id ? fresh : h)));
    },
    onError: setError,
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/hosts/{id}/", { params: { path: { id: host.id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["hosts"] }),
    onError: setError,
  });
  const labels = Object.entries(host.labels ?? {});
  return (
    <article className="card host-card" aria-labelledby={`host-${host.id}`}>
      <header>
        <h2 id={`host-${host.id}`}>{host.name}</h2>
        <StatusBadge status={host.status} reason={host.status_error} />
      </header>
      {host.status === "down" && host.status_error ? <p className="reason">Down: {host.status_error}</p> : null}
      {host.status === "unknown" ? <p className="muted">Not checked yet.</p> : null}
      <dl className="facts">
        <dt>URL</dt>
        <dd className="mono">{host.url}</dd>
        <dt>Engine</dt>
        <dd>{host.engine_version ? `Docker ${host.engine_version} (API ${host.api_version})` : "–"}</dd>
        <dt>System</dt>
        <dd>{host.operating_system ? `${host.operating_system} · ${host.architecture}` : "–"}</dd>
        <dt>CPU / memory</dt>
        <dd>
          {host.ncpu ?? "–"} CPUs · {formatBytes(host.mem_total)}
        </dd>
        <dt>Containers</dt>
        <dd>
          <Link to={`/containers?host=${host.id}`}>
            {host.containers_running ?? "–"} running, {host.containers_paused ?? "–"} paused, {host.containers_stopped ?? "–"} stopped
          </Link>
        </dd>
        <dt>Images</dt>
        <dd>{host.images ?? "–"}</dd>
        <dt>Checked</dt>
        <dd>{relativeTime(host.last_checked_at)}</dd>
        <dt>Your role</dt>
        <dd>{role ?? "–"}</dd>
      </dl>
      {labels.length ? (
        <ul className="chips" aria-label="Labels">
          {labels.map(([k, v]) => (
            <li key={k} className="chip">
              {v ? `${k}=${v}` : k}
            </li>
          ))}
        </ul>
      ) : null}
      {host.status !== "down" ? <LiveUsage host={host} /> : null}
      <ErrorNote error={error} />
      <footer className="actions">
        <Link to={`/networks?host=${host.id}`}>Networks</Link>
        <Link to={`/volumes?host=${host.id}`}>Volumes</Link>
        {isHostAdmin ? (
          <button type="button" onClick={() => refresh.mutate()} disabled={refresh.isPending}>
            {refresh.isPending ? "Refreshing…" : "Refresh"}
          </button>
        ) : null}
        {isHostAdmin ? (
          <Link className="button" to={`/hosts/${host.id}/edit`}>
            Edit
          </Link>
        ) : null}
        {access.isAdmin ? (
          <ConfirmButton
            label="Remove"
            question={`Remove ${host.name} from dockerweb? (The engine is not touched.)`}
            onConfirm={() => remove.mutate()}
            disabled={remove.isPending}
          />
        ) : null}
      </footer>
    </article>
  );
}

type ImportResult = Schemas["ContextImportResult"];

/** Hosts from `docker context export NAME FILE` files (administrators); each file's outcome is listed. */
function ImportContexts({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const [files, setFiles] = useState<File[]>([]);
  const [check, setCheck] = useState(true);
  const upload = useMutation({
    mutationFn: () => {
      const form = new FormData();
      for (const file of files) form.append("contexts", file);
      return call(
        api.POST("/api/v1/hosts/import-contexts/", {
          params: { query: { check } },
          // The typed body is the multipart form's fields; FormData is what goes on the wire.
          body: form as unknown as Schemas["ContextImportRequest"],
          bodySerializer: (body: unknown) => body as FormData,
        }),
      );
    },
    onSuccess: () => void client.invalidateQueries({ queryKey: ["hosts"] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (files.length) upload.mutate();
  };
  return (
    <section className="card" aria-labelledby="import-contexts">
      <h2 id="import-contexts">Import docker contexts</h2>
      <p className="muted">
        On a machine where the context works, run <code>docker context export NAME</code> and upload the
        <code> NAME.dockercontext</code> files here. Hosts whose name exists are left as they are.
      </p>
      <form onSubmit={submit} className="inline-form">
        <label>
          Context files
          <input
            type="file"
            multiple
            accept=".dockercontext,application/x-tar"
            onChange={(event) => setFiles(Array.from(event.target.files ?? []))}
          />
        </label>
        <label>
          <input type="checkbox" checked={check} onChange={(event) => setCheck(event.target.checked)} /> Connect to each
          engine before adding it
        </label>
        <button type="submit" className="primary" disabled={!files.length || upload.isPending}>
          {upload.isPending ? "Importing…" : `Import ${files.length || ""} file${files.length === 1 ? "" : "s"}`}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </form>
      <ErrorNote error={upload.error} title="Import failed" />
      {upload.data ? <ImportReport results={upload.data.results} /> : null}
    </section>
  );
}

function ImportReport({ results }: { results: ImportResult[] }) {
  return (
    <table className="table" aria-label="Import results">
      <thead>
        <tr>
          <th>File</th>
          <th>Context</th>
          <th>Outcome</th>
          <th>Details</th>
        </tr>
      </thead>
      <tbody>
        {results.map((row) => (
          <tr key={row.file} data-outcome={row.outcome}>
            <td className="mono">{row.file}</td>
            <td>{row.name || "–"}</td>
            <td>
              <span className={`badge ${row.outcome === "added" ? "status-up" : row.outcome === "failed" ? "status-down" : ""}`}>
                {row.outcome}
              </span>
            </td>
            <td>{row.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface HostTotals {
  containers: number;
  cpu_percent: number;
  mem_usage: number;
  mem_total: number | null;
  mem_percent: number | null;
  net_rx_rate: number;
  net_tx_rate: number;
  blk_read_rate: number;
  blk_write_rate: number;
}

/** Live totals over the host's running containers you may see (`ws/hosts/<id>/stats/`), on demand: the
 * server follows every container's stats while it is open, so it is not opened for every card at once. */
function LiveUsage({ host }: { host: Host }) {
  const [open, setOpen] = useState(false);
  const [totals, setTotals] = useState<HostTotals | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    setTotals(null);
    setProblem(null);
    const socket = openSocket(wsUrl(`ws/hosts/${host.id}/stats/`), {
      onJson: (message) => {
        if (message.type === "host_stats") setTotals(message as unknown as HostTotals);
      },
      onEnd: (end) => setProblem(end.message),
    });
    return () => socket.close();
  }, [open, host.id]);
  return (
    <div className="live-usage">
      <button type="button" className="link" onClick={() => setOpen((value) => !value)} aria-expanded={open}>
        {open ? "Hide live usage" : "Show live usage"}
      </button>
      {open ? (
        <dl className="facts" aria-label={`Live usage of ${host.name}`} aria-live="off">
          <dt>Containers</dt>
          <dd>{totals ? `${totals.containers} running` : "…"}</dd>
          <dt>CPU</dt>
          <dd>{totals ? `${totals.cpu_percent.toFixed(1)} %` : "…"}</dd>
          <dt>Memory</dt>
          <dd>
            {totals
              ? `${formatBytes(totals.mem_usage)}${totals.mem_percent !== null ? ` (${totals.mem_percent.toFixed(1)} % of ${formatBytes(totals.mem_total)})` : ""}`
              : "…"}
          </dd>
          <dt>Network</dt>
          <dd>{totals ? `↓ ${formatBytes(totals.net_rx_rate)}/s · ↑ ${formatBytes(totals.net_tx_rate)}/s` : "…"}</dd>
          <dt>Disk</dt>
          <dd>{totals ? `read ${formatBytes(totals.blk_read_rate)}/s · write ${formatBytes(totals.blk_write_rate)}/s` : "…"}</dd>
        </dl>
      ) : null}
      {problem ? <ErrorNote error={problem} /> : null}
    </div>
  );
}

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, call } from "../api/client";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote } from "../components/ErrorNote";
import { PageTitle } from "../components/Layout";
import { formatBytes, relativeTime } from "../lib/format";
import { type Host, StatusBadge, useHosts } from "../lib/hosts";

export function HostsPage() {
  const access = useAccess();
  const hosts = useHosts();
  return (
    <>
      <PageTitle title="Hosts">
        <button type="button" onClick={() => void hosts.refetch()} disabled={hosts.isFetching}>
          {hosts.isFetching ? "Reloading…" : "Reload"}
        </button>
        {access.isAdmin ? (
          <Link className="button primary" to="/hosts/new">
            Add host
          </Link>
        ) : null}
      </PageTitle>
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

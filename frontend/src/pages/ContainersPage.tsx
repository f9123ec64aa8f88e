/** Every container across hosts in one table: filters, search, grouping by compose project, bulk actions, live. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { errorMessage } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote } from "../components/ErrorNote";
import { PageTitle } from "../components/Layout";
import { relativeTime, shortId } from "../lib/format";
import { type Host, useHosts } from "../lib/hosts";
import { type LiveState, useEngineEvents } from "../lib/useEvents";

type Container = Schemas["ContainerSummary"];
interface HostFailure {
  host: number;
  host_name: string;
  detail: string;
}
type Row = { kind: "group"; key: string; project: string; host: number; hostName: string; count: number } | { kind: "container"; key: string; c: Container };

const STATES = ["", "running", "paused", "restarting", "created", "exited", "dead"];
type BulkAction = Schemas["ActionEnum"];
/** The most containers the bulk endpoint takes in one request. */
const BULK_LIMIT = 200;
const PAST: Record<BulkAction, string> = {
  start: "Started",
  stop: "Stopped",
  restart: "Restarted",
  kill: "Killed",
  pause: "Paused",
  unpause: "Unpaused",
  remove: "Removed",
};
interface BulkItemResult {
  key: string;
  name: string;
  ok: boolean;
  detail: string;
}
interface BulkOutcome {
  action: BulkAction;
  results: BulkItemResult[];
}

export const containerKey = (c: Pick<Container, "host" | "id">) => `${c.host}:${c.id}`;

function matches(c: Container, search: string): boolean {
  if (!search) return true;
  const needle = search.toLowerCase();
  return [c.name, c.image, c.compose_project, c.host_name, c.status, c.id.slice(0, 12), c.owner].some((v) => v.toLowerCase().includes(needle));
}

export function buildRows(containers: Container[], group: boolean): Row[] {
  if (!group) return containers.map((c) => ({ kind: "container", key: containerKey(c), c }));
  const groups = new Map<string, Container[]>();
  for (const c of containers) {
    const key = c.compose_project ? `${c.host}/${c.compose_project}` : "";
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const rows: Row[] = [];
  const keys = [...groups.keys()].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
  for (const key of keys) {
    const members = groups.get(key) ?? [];
    const first = members[0];
    if (!first) continue;
    rows.push({ kind: "group", key: `group:${key}`, project: first.compose_project, host: first.host, hostName: first.host_name, count: members.length });
    for (const c of members) rows.push({ kind: "container", key: containerKey(c), c });
  }
  return rows;
}

export function ContainersPage() {
  const access = useAccess();
  const client = useQueryClient();
  const hosts = useHosts();
  const [params, setParams] = useSearchParams();
  const hostFilter = params.get("host") ?? "";
  const status = params.get("status") ?? "";
  const search = params.get("q") ?? "";
  const group = params.get("group") === "1";
  const setParam = (key: string, value: string) =>
    setParams(
      (p) => {
        if (value) p.set(key, value);
        else p.delete(key);
        return p;
      },
      { replace: true },
    );

  const list = useQuery({
    queryKey: ["containers", hostFilter, status],
    queryFn: async () => {
      const query: Record<string, string | number> = { limit: 1000 };
      if (hostFilter) query.host = hostFilter;
      if (status) query.status = status;
      const page = await call(api.GET("/api/v1/containers/", { params: { query } }));
      return page as typeof page & { errors?: HostFailure[] };
    },
    placeholderData: keepPreviousData,
  });

  const refetchSoon = useRef<number | undefined>(undefined);
  const onEvent = useCallback(
    (event: { event: { Type?: string } }) => {
      if (event.event.Type !== "container") return;
      window.clearTimeout(refetchSoon.current);
      refetchSoon.current = window.setTimeout(() => void client.invalidateQueries({ queryKey: ["containers"] }), 250);
    },
    [client],
  );
  const live = useEngineEvents(onEvent, () => void client.invalidateQueries({ queryKey: ["hosts"] }));

  const containers = useMemo(() => (list.data?.results ?? []).filter((c) => matches(c, search)), [list.data, search]);
  const rows = useMemo(() => buildRows(containers, group), [containers, group]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const visibleKeys = useMemo(() => new Set(containers.map(containerKey)), [containers]);
  const chosen = containers.filter((c) => selected.has(containerKey(c)));
  const allChosen = containers.length > 0 && chosen.length === containers.length;

  const [bulkResult, setBulkResult] = useState<BulkOutcome | null>(null);
  const bulk = useMutation({
    mutationFn: async ({ action, targets }: { action: BulkAction; targets: Container[] }): Promise<BulkOutcome> => {
      // The API takes up to BULK_LIMIT containers a request: more go in several, one after the other.
      const results: BulkItemResult[] = [];
      const names = new Map(targets.map((c) => [containerKey(c), c.name]));
      for (let start = 0; start < targets.length; start += BULK_LIMIT) {
        const part = targets.slice(start, start + BULK_LIMIT);
        let answer: { results?: { host: number; id: string; ok: boolean; detail?: string }[] };
        try {
          answer = (await call(
            api.POST("/api/v1/containers/bulk/", {
              body: { action, force: action === "remove", containers: part.map((c) => ({ host: c.host, id: c.id })) },
            }),
          )) as typeof answer;
        } catch (error) {
          // A request that failed as a whole: its containers failed with its reason; the others keep theirs.
          if (start === 0 && targets.length <= BULK_LIMIT) throw error;
          answer = { results: part.map((c) => ({ host: c.host, id: c.id, ok: false, detail: errorMessage(error) })) };
        }
        for (const r of answer.results ?? []) {
          const key = `${r.host}:${r.id}`;
          results.push({ key, name: names.get(key) ?? shortId(r.id), ok: r.ok, detail: r.detail ?? (r.ok ? "" : "failed") });
        }
      }
      return { action, results };
    },
    onSuccess: (outcome) => {
      setBulkResult(outcome);
      if (outcome.action === "remove") {
        const gone = new Set(outcome.results.filter((r) => r.ok).map((r) => r.key));
        setSelected((old) => new Set([...old].filter((key) => !gone.has(key))));
      }
      void client.invalidateQueries({ queryKey: ["containers"] });
    },
  });
  const runBulk = (action: BulkAction) => {
    setBulkResult(null);
    bulk.mutate({ action, targets: chosen });
  };

  const canRun = (hosts.data ?? []).some((h) => access.can(h.id, "operator"));
  const hostsById = useMemo(() => new Map((hosts.data ?? []).map((h) => [h.id, h])), [hosts.data]);

  return (
    <>
      <PageTitle title="Containers">
        <LiveBadge live={live} />
        <button type="button" onClick={() => void list.refetch()} disabled={list.isFetching}>
          {list.isFetching ? "Refreshing…" : "Refresh"}
        </button>
        {canRun ? (
          <Link className="button primary" to={`/containers/run${hostFilter ? `?host=${hostFilter}` : ""}`}>
            Run container
          </Link>
        ) : null}
      </PageTitle>
      <div className="toolbar" role="search">
        <label className="inline">
          Host{" "}
          <select value={hostFilter} onChange={(e) => setParam("host", e.target.value)}>
            <option value="">All hosts</option>
            {hosts.data?.map((h) => (
              <option key={h.id} value={h.id}>
                {h.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          State{" "}
          <select value={status} onChange={(e) => setParam("status", e.target.value)}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s || "Any"}
              </option>
            ))}
          </select>
        </label>
        <label className="inline grow">
          Search{" "}
          <input type="search" value={search} placeholder="name, image, project…" onChange={(e) => setParam("q", e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={group} onChange={(e) => setParam("group", e.target.checked ? "1" : "")} /> Group by compose project
        </label>
      </div>
      <ErrorNote error={list.error} title="Could not list containers" />
      {list.data?.errors?.map((failure) => (
        <p key={failure.host} className="error-note" role="alert">
          Host {failure.host_name} is not answering: {failure.detail}
        </p>
      ))}
      <div className="toolbar bulk" aria-label="Bulk actions" role="toolbar">
        <span>{chosen.length ? `${chosen.length} selected` : "Select containers for bulk actions"}</span>
        {(["start", "stop", "restart"] as const).map((action) => (
          <button key={action} type="button" disabled={!chosen.length || bulk.isPending} onClick={() => runBulk(action)}>
            {action[0]?.toUpperCase()}
            {action.slice(1)}
          </button>
        ))}
        <ConfirmButton
          label="Remove"
          question={`Remove ${chosen.length} container${chosen.length === 1 ? "" : "s"} (running ones too)?`}
          disabled={!chosen.length || bulk.isPending}
          onConfirm={() => runBulk("remove")}
        />
      </div>
      <ErrorNote error={bulk.error} />
      {bulk.isPending ? (
        <p className="notice" role="status">
          {bulk.variables ? `${bulk.variables.action}: working on ${bulk.variables.targets.length} container${bulk.variables.targets.length === 1 ? "" : "s"}…` : "Working…"}
        </p>
      ) : null}
      {bulkResult ? <BulkReport outcome={bulkResult} onClose={() => setBulkResult(null)} /> : null}
      <ContainerTable
        rows={rows}
        hostsById={hostsById}
        selected={selected}
        allChosen={allChosen}
        onToggleAll={(on) => setSelected(on ? new Set(visibleKeys) : new Set())}
        onToggle={(key, on) =>
          setSelected((old) => {
            const next = new Set(old);
            if (on) next.add(key);
            else next.delete(key);
            return next;
          })
        }
        loading={list.isPending}
      />
    </>
  );
}

/** What a bulk action did to each container: failures first with the engine's or the policy's reason. */
function BulkReport({ outcome, onClose }: { outcome: BulkOutcome; onClose: () => void }) {
  const failures = outcome.results.filter((r) => !r.ok);
  const done = outcome.results.filter((r) => r.ok);
  const many = outcome.results.length > 20;
  return (
    <div className={failures.length ? "error-note" : "notice"} role="status" aria-label="Bulk action results">
      <p>
        {outcome.action}: {done.length} done{failures.length ? `, ${failures.length} failed` : ""}{" "}
        <button type="button" className="link" onClick={onClose}>
          Dismiss
        </button>
      </p>
      <ul className="bulk-results">
        {failures.map((r) => (
          <li key={r.key} className="failed">
            {r.name}: failed: {r.detail}
          </li>
        ))}
        {many ? null : done.map((r) => <li key={r.key}>{r.name}: {PAST[outcome.action].toLowerCase()}</li>)}
      </ul>
      {many && done.length ? (
        <details className="inline-details">
          <summary>{`${done.length} ${PAST[outcome.action].toLowerCase()}`}</summary>
          <p className="small">{done.map((r) => r.name).join(", ")}</p>
        </details>
      ) : null}
    </div>
  );
}

function LiveBadge({ live }: { live: LiveState }) {
  if (live.state === "live") return <span className="badge status-up" title="Updates arrive as the engines report them">Live</span>;
  if (live.state === "connecting") return <span className="badge">Connecting…</span>;
  return (
    <span className="badge status-unknown" title={live.reason} role="status">
      Not live: use Refresh ({live.reason})
    </span>
  );
}

function publishedHost(host: Host | undefined, ip: string | undefined): string {
  if (ip && ip !== "0.0.0.0" && ip !== "::") return ip.includes(":") ? `[${ip}]` : ip;
  const url = host?.url ?? "";
  const tcp = /^(?:tcp|https?):\/\/([^:/]+)/.exec(url);
  return tcp?.[1] ?? window.location.hostname;
}

interface EnginePort {
  IP?: string;
  PrivatePort?: number;
  PublicPort?: number;
  Type?: string;
}

export function Ports({ ports, host }: { ports: Record<string, unknown>[]; host: Host | undefined }) {
  const seen = new Set<string>();
  const items = (ports as EnginePort[]).filter((p) => {
    const key = `${p.PublicPort ?? ""}:${p.PrivatePort ?? ""}/${p.Type ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return (
    <>
      {items.map((p) => {
        const key = `${p.IP ?? ""}:${p.PublicPort ?? ""}:${p.PrivatePort ?? ""}/${p.Type ?? ""}`;
        if (!p.PublicPort) return <span key={key} className="port">{`${p.PrivatePort}/${p.Type}`}</span>;
        const href = `http://${publishedHost(host, p.IP)}:${p.PublicPort}/`;
        return (
          <a key={key} className="port" href={href} target="_blank" rel="noreferrer noopener">
            {`${p.PublicPort}→${p.PrivatePort}/${p.Type}`}
          </a>
        );
      })}
    </>
  );
}

const ROW_HEIGHT = 38;

function ContainerTable({
  rows,
  hostsById,
  selected,
  allChosen,
  onToggle,
  onToggleAll,
  loading,
}: {
  rows: Row[];
  hostsById: Map<number, Host>;
  selected: Set<string>;
  allChosen: boolean;
  onToggle: (key: string, on: boolean) => void;
  onToggleAll: (on: boolean) => void;
  loading: boolean;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i]?.key ?? i,
  });
  const items = virtual.getVirtualItems();
  const top = items[0]?.start ?? 0;
  const bottom = virtual.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  return (
    <div className="table-scroll" ref={scroller}>
      <table className="table containers" aria-label="Containers" aria-rowcount={rows.length + 1} aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col" className="check">
              <input type="checkbox" aria-label="Select all shown containers" checked={allChosen} onChange={(e) => onToggleAll(e.target.checked)} />
            </th>
            <th scope="col">Name</th>
            <th scope="col">Host</th>
            <th scope="col">Image</th>
            <th scope="col">State</th>
            <th scope="col">Status</th>
            <th scope="col">Ports</th>
            <th scope="col">Created</th>
            <th scope="col">Project</th>
          </tr>
        </thead>
        <tbody>
          {top > 0 ? (
            <tr aria-hidden="true" style={{ height: top }}>
              <td colSpan={9} />
            </tr>
          ) : null}
          {!loading && rows.length === 0 ? (
            <tr>
              <td colSpan={9} className="empty">
                No containers match.
              </td>
            </tr>
          ) : null}
          {items.map((item) => {
            const row = rows[item.index];
            if (!row) return null;
            if (row.kind === "group") {
              return (
                <tr key={row.key} className="group-row" style={{ height: ROW_HEIGHT }}>
                  <th colSpan={9} scope="rowgroup">
                    {row.project ? (
                      <>
                        Project {row.project} on {row.hostName} ({row.count}){" "}
                        <Link to={`/hosts/${row.host}/logs?project=${encodeURIComponent(row.project)}`}>merged logs</Link>
                      </>
                    ) : (
                      `Not in a compose project (${row.count})`
                    )}
                  </th>
                </tr>
              );
            }
            const c = row.c;
            return (
              <tr key={row.key} style={{ height: ROW_HEIGHT }} className={selected.has(row.key) ? "selected" : undefined}>
                <td className="check">
                  <input type="checkbox" aria-label={`Select ${c.name}`} checked={selected.has(row.key)} onChange={(e) => onToggle(row.key, e.target.checked)} />
                </td>
                <th scope="row">
                  <Link to={`/hosts/${c.host}/containers/${encodeURIComponent(c.name)}`}>{c.name}</Link>
                  <span className="muted mono small"> {shortId(c.id)}</span>
                </th>
                <td>{c.host_name}</td>
                <td className="mono ellipsis" title={c.image}>
                  {c.image}
                </td>
                <td>
                  <span className={`badge state-${c.state}`}>{c.state}</span>
                </td>
                <td className="ellipsis">{c.status}</td>
                <td>
                  <Ports ports={c.ports} host={hostsById.get(c.host)} />
                </td>
                <td title={c.created ? new Date(c.created * 1000).toLocaleString() : undefined}>{relativeTime(c.created)}</td>
                <td>{c.compose_project || ""}</td>
              </tr>
            );
          })}
          {bottom > 0 ? (
            <tr aria-hidden="true" style={{ height: bottom }}>
              <td colSpan={9} />
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

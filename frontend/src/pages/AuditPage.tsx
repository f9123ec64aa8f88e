/** The audit log: administrators see every entry, everyone else their own; filters and JSON-lines export. */
import { useInfiniteQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api, call } from "../api/client";
import { useAccess } from "../auth/session";
import { ErrorNote } from "../components/ErrorNote";
import { PageTitle } from "../components/Layout";
import { formatTime } from "../lib/format";

type Outcome = "" | "success" | "failure" | "denied";
type EntryPoint = "" | "rest" | "ws" | "gateway" | "job" | "command";
const PAGE = 100;

function isoOrEmpty(local: string): string {
  if (!local) return "";
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export function AuditPage() {
  const access = useAccess();
  const [user, setUser] = useState("");
  const [host, setHost] = useState("");
  const [action, setAction] = useState("");
  const [outcome, setOutcome] = useState<Outcome>("");
  const [entryPoint, setEntryPoint] = useState<EntryPoint>("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [open, setOpen] = useState<number | null>(null);
  const filters = {
    ...(user ? { user } : {}),
    ...(host ? { host } : {}),
    ...(action ? { action } : {}),
    ...(outcome ? { outcome } : {}),
    ...(entryPoint ? { entry_point: entryPoint } : {}),
    ...(isoOrEmpty(since) ? { since: isoOrEmpty(since) } : {}),
    ...(isoOrEmpty(until) ? { until: isoOrEmpty(until) } : {}),
  };
  const entries = useInfiniteQuery({
    queryKey: ["audit", filters],
    initialPageParam: 0,
    queryFn: ({ pageParam }) => call(api.GET("/api/v1/audit/", { params: { query: { ...filters, limit: PAGE, offset: pageParam } } })),
    getNextPageParam: (last, pages) => (last.next ? pages.length * PAGE : undefined),
  });
  const rows = entries.data?.pages.flatMap((p) => p.results) ?? [];
  const total = entries.data?.pages[0]?.count ?? 0;
  const exportUrl = `/api/v1/audit/export/?${new URLSearchParams(filters as Record<string, string>).toString()}`;

  return (
    <>
      <PageTitle title={access.isAdmin ? "Audit log" : "Your audit log"}>
        <a className="button" href={exportUrl} download>
          Export (JSON lines)
        </a>
      </PageTitle>
      {!access.isAdmin ? <p className="muted">You see your own actions; administrators see everyone's.</p> : null}
      <form className="toolbar wrap" role="search" onSubmit={(e) => e.preventDefault()}>
        {access.isAdmin ? (
          <label className="inline">
            User <input value={user} onChange={(e) => setUser(e.target.value)} size={10} />
          </label>
        ) : null}
        <label className="inline">
          Host <input value={host} onChange={(e) => setHost(e.target.value)} size={10} />
        </label>
        <label className="inline">
          Action starts with <input value={action} onChange={(e) => setAction(e.target.value)} size={14} placeholder="container." />
        </label>
        <label className="inline">
          Outcome{" "}
          <select value={outcome} onChange={(e) => setOutcome(e.target.value as Outcome)}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
            <option value="denied">denied</option>
          </select>
        </label>
        <label className="inline">
          Entry point{" "}
          <select value={entryPoint} onChange={(e) => setEntryPoint(e.target.value as EntryPoint)}>
            <option value="">any</option>
            <option value="rest">REST API</option>
            <option value="ws">websocket</option>
            <option value="gateway">gateway</option>
            <option value="job">job</option>
            <option value="command">command</option>
          </select>
        </label>
        <label className="inline">
          Since <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        </label>
        <label className="inline">
          Until <input type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} />
        </label>
      </form>
      <ErrorNote error={entries.error} />
      <p className="muted small" role="status">
        {entries.isPending ? "Loading…" : `${total.toLocaleString()} entries`}
      </p>
      <table className="table audit">
        <caption className="sr-only">Audit entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">User</th>
            <th scope="col">Via</th>
            <th scope="col">Host</th>
            <th scope="col">Action</th>
            <th scope="col">Object</th>
            <th scope="col">Outcome</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((entry) => (
            <Fragment key={entry.id}>
              <tr className={`outcome-${entry.outcome}`}>
                <td>{formatTime(entry.created_at)}</td>
                <td>
                  {entry.username}
                  {entry.token_name ? <span className="muted small"> (token {entry.token_name})</span> : null}
                </td>
                <td>{entry.entry_point}</td>
                <td>{entry.host_name}</td>
                <td className="mono">{entry.action}</td>
                <td className="mono ellipsis" title={entry.object_id}>
                  {entry.object_name || entry.object_id}
                </td>
                <td>
                  <span className={`badge outcome-${entry.outcome}`}>{entry.outcome}</span> {entry.status_code ?? ""}
                </td>
                <td className="ellipsis">
                  <button type="button" className="link" aria-expanded={open === entry.id} onClick={() => setOpen(open === entry.id ? null : entry.id)}>
                    {entry.detail || `${entry.method} ${entry.path}`}
                  </button>
                </td>
              </tr>
              {open === entry.id ? (
                <tr>
                  <td colSpan={8}>
                    <pre className="raw-json">{JSON.stringify(entry, null, 2)}</pre>
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
      {entries.hasNextPage ? (
        <button type="button" onClick={() => void entries.fetchNextPage()} disabled={entries.isFetchingNextPage}>
          {entries.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      ) : null}
    </>
  );
}

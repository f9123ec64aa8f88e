/** Logs of several containers merged in time order: a compose project, a label, or a list of names. */
import { Link, useParams, useSearchParams } from "react-router";
import { PageTitle } from "../components/Layout";
import { useHosts } from "../lib/hosts";
import { LogViewer } from "../logs/LogViewer";

export function MergedLogsPage() {
  const { hostId } = useParams();
  const [search] = useSearchParams();
  const hosts = useHosts();
  const host = hosts.data?.find((h) => h.id === Number(hostId));
  const params: Record<string, string> = {};
  for (const key of ["project", "label", "containers"]) {
    const value = search.get(key);
    if (value) params[key] = value;
  }
  const what = params.project ? `project ${params.project}` : params.label ? `label ${params.label}` : `containers ${params.containers ?? ""}`;
  return (
    <>
      <PageTitle title={`Logs of ${what}`}>
        <span className="muted">on {host?.name ?? `host ${hostId}`}</span>
      </PageTitle>
      <p className="breadcrumbs">
        <Link to={`/containers?host=${hostId}&group=1`}>Containers</Link> / merged logs
      </p>
      {Object.keys(params).length ? (
        <LogViewer socketPath={`ws/hosts/${hostId}/logs/`} params={params} merged />
      ) : (
        <p className="notice">Choose a compose project from the containers page (group by project).</p>
      )}
    </>
  );
}

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, call } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { DataTable } from "../components/DataTable";
import { HostResourceHeader } from "../components/HostResourceHeader";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { JsonPanel, UsedBy } from "../components/JsonPanel";
import { formatBytes, formatTime, pairsText, parsePairs } from "../lib/format";
import { useHostParam, useHosts } from "../lib/hosts";

interface Volume {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  CreatedAt?: string;
  Labels?: Record<string, string> | null;
  UsedBy?: { id: string; name: string }[];
}

export function VolumesPage() {
  const access = useAccess();
  const hosts = useHosts();
  const [host, setHost] = useHostParam(hosts.data);
  const client = useQueryClient();
  const [inspected, setInspected] = useState<{ name: string; value: unknown } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [pruned, setPruned] = useState<string | null>(null);
  const hostId = host?.id ?? 0;
  const path = { host_pk: hostId };
  const volumes = useQuery({
    queryKey: ["volumes", hostId],
    enabled: host !== undefined,
    queryFn: async () => {
      const answer = (await call(api.GET("/api/v1/hosts/{host_pk}/volumes/", { params: { path } }))) as unknown;
      // The engine's shape is {Volumes: [...]}; the API may hand over the list itself.
      return (Array.isArray(answer) ? answer : ((answer as { Volumes?: Volume[] }).Volumes ?? [])) as Volume[];
    },
  });
  const refresh = () => void client.invalidateQueries({ queryKey: ["volumes", hostId] });
  const remove = useMutation({
    mutationFn: ({ name, force }: { name: string; force: boolean }) =>
      call(api.DELETE("/api/v1/hosts/{host_pk}/volumes/{name}/", { params: { path: { ...path, name }, query: { force } } })),
    onSuccess: () => {
      setError(null);
      refresh();
    },
    onError: setError,
  });
  const prune = useMutation({
    mutationFn: () => call(api.POST("/api/v1/hosts/{host_pk}/volumes/prune/", { params: { path } })),
    onSuccess: (result) => {
      const r = result as { VolumesDeleted?: string[] | null; SpaceReclaimed?: number };
      const deleted = r.VolumesDeleted ?? [];
      setPruned(deleted.length ? `Removed ${deleted.join(", ")} (${formatBytes(r.SpaceReclaimed ?? 0)} reclaimed).` : "No unused volumes to remove.");
      refresh();
    },
    onError: setError,
  });
  const inspect = async (name: string) => {
    try {
      setInspected({ name, value: await call(api.GET("/api/v1/hosts/{host_pk}/volumes/{name}/", { params: { path: { ...path, name } } })) });
    } catch (e) {
      setError(e);
    }
  };
  const operator = host ? access.can(host.id, "operator") : false;
  const admin = host ? access.can(host.id, "admin") : false;
  return (
    <>
      <HostResourceHeader
        title="Volumes"
        hosts={hosts.data}
        host={host}
        onHost={setHost}
        onRefresh={refresh}
        prune={admin ? { question: "Remove every unused volume of this host (their data is lost)?", onConfirm: () => prune.mutate() } : null}
        error={hosts.error ?? volumes.error ?? error}
        notice={pruned}
      />
      {operator && host ? <VolumeCreate hostId={host.id} onCreated={refresh} /> : null}
      <DataTable caption={`Volumes of ${host?.name ?? ""}`} columns={["Name", "Driver", "Created", "Labels", "Used by"]} empty={volumes.data?.length === 0} emptyText="No volumes.">
        {volumes.data?.map((v) => (
          <tr key={v.Name}>
            <th scope="row" className="mono ellipsis" title={v.Name}>
              {v.Name}
            </th>
            <td>{v.Driver}</td>
            <td>{formatTime(v.CreatedAt)}</td>
            <td className="mono small">{pairsText(v.Labels) || "–"}</td>
            <td>
              <UsedBy hostId={hostId} users={v.UsedBy} />
            </td>
            <td className="row-actions">
              <button type="button" onClick={() => void inspect(v.Name)}>
                Inspect
              </button>
              {operator ? (
                <ConfirmButton
                  label="Remove"
                  question={`Remove volume ${v.Name}${v.UsedBy?.length ? " (in use: forced)" : ""}? Its data is lost.`}
                  onConfirm={() => remove.mutate({ name: v.Name, force: Boolean(v.UsedBy?.length) })}
                />
              ) : null}
            </td>
          </tr>
        ))}
      </DataTable>
      {inspected ? <JsonPanel title={`Volume ${inspected.name}`} value={inspected.value} onClose={() => setInspected(null)} /> : null}
    </>
  );
}

function VolumeCreate({ hostId, onCreated }: { hostId: number; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [driver, setDriver] = useState("local");
  const [labels, setLabels] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let labelMap: Record<string, string>;
    try {
      labelMap = parsePairs(labels, "Label line");
    } catch (error) {
      setErrors({ fields: { labels: (error as Error).message }, form: null });
      return;
    }
    try {
      await call(api.POST("/api/v1/hosts/{host_pk}/volumes/", { params: { path: { host_pk: hostId } }, body: { name, driver, labels: labelMap } }));
      setName("");
      setLabels("");
      setErrors({ fields: {}, form: null });
      onCreated();
    } catch (error) {
      setErrors(formErrors(error, ["name", "driver", "labels"]));
    }
  };
  return (
    <details className="card create">
      <summary>Create volume</summary>
      <form className="form inline-form" onSubmit={(e) => void submit(e)}>
        <ErrorNote error={errors.form} />
        <Field label="Volume name" error={errors.fields.name}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}
        </Field>
        <Field label="Driver" error={errors.fields.driver}>
          {(p) => <input {...p} value={driver} onChange={(e) => setDriver(e.target.value)} />}
        </Field>
        <Field label="Labels" error={errors.fields.labels} hint="KEY=value per line">
          {(p) => <textarea {...p} rows={2} value={labels} onChange={(e) => setLabels(e.target.value)} />}
        </Field>
        <button type="submit" className="primary">
          Create
        </button>
      </form>
    </details>
  );
}

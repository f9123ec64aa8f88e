import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { DataTable } from "../components/DataTable";
import { HostResourceHeader } from "../components/HostResourceHeader";
import { ErrorNote } from "../components/ErrorNote";
import { CheckField, Field } from "../components/Field";
import { JsonPanel, UsedBy } from "../components/JsonPanel";
import { shortId } from "../lib/format";
import { useHostParam, useHosts } from "../lib/hosts";

interface Network {
  Id: string;
  Name: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
  UsedBy?: { id: string; name: string }[];
}

const BUILTIN = new Set(["bridge", "host", "none"]);

export function NetworksPage() {
  const access = useAccess();
  const hosts = useHosts();
  const [host, setHost] = useHostParam(hosts.data);
  const client = useQueryClient();
  const [inspected, setInspected] = useState<{ name: string; value: unknown } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [pruned, setPruned] = useState<string | null>(null);
  const hostId = host?.id ?? 0;
  const path = { host_pk: hostId };
  const networks = useQuery({
    queryKey: ["networks", hostId],
    enabled: host !== undefined,
    queryFn: async () => (await call(api.GET("/api/v1/hosts/{host_pk}/networks/", { params: { path } }))) as unknown as Network[],
  });
  const refresh = () => void client.invalidateQueries({ queryKey: ["networks", hostId] });
  const remove = useMutation({
    mutationFn: (ref: string) => call(api.DELETE("/api/v1/hosts/{host_pk}/networks/{ref}/", { params: { path: { ...path, ref } } })),
    onSuccess: () => {
      setError(null);
      refresh();
    },
    onError: setError,
  });
  const prune = useMutation({
    mutationFn: () => call(api.POST("/api/v1/hosts/{host_pk}/networks/prune/", { params: { path } })),
    onSuccess: (result) => {
      const deleted = (result as { NetworksDeleted?: string[] | null }).NetworksDeleted ?? [];
      setPruned(deleted.length ? `Removed ${deleted.join(", ")}.` : "No unused networks to remove.");
      refresh();
    },
    onError: setError,
  });
  const inspect = async (ref: string) => {
    try {
      setInspected({ name: ref, value: await call(api.GET("/api/v1/hosts/{host_pk}/networks/{ref}/", { params: { path: { ...path, ref } } })) });
    } catch (e) {
      setError(e);
    }
  };
  const disconnect = async (network: string, container: string) => {
    try {
      await call(api.POST("/api/v1/hosts/{host_pk}/networks/{ref}/disconnect/", { params: { path: { ...path, ref: network } }, body: { container, force: false } }));
      refresh();
    } catch (e) {
      setError(e);
    }
  };
  const operator = host ? access.can(host.id, "operator") : false;
  const admin = host ? access.can(host.id, "admin") : false;

  return (
    <>
      <HostResourceHeader
        title="Networks"
        hosts={hosts.data}
        host={host}
        onHost={setHost}
        onRefresh={refresh}
        prune={admin ? { question: "Remove every unused network of this host?", onConfirm: () => prune.mutate() } : null}
        error={hosts.error ?? networks.error ?? error}
        notice={pruned}
      />
      {operator && host ? <NetworkCreate hostId={host.id} onCreated={refresh} /> : null}
      <DataTable caption={`Networks of ${host?.name ?? ""}`} columns={["Name", "Driver", "Subnet", "Options", "Used by"]} empty={networks.data?.length === 0} emptyText="No networks.">
        {networks.data?.map((n) => (
          <tr key={n.Id}>
            <th scope="row">
              {n.Name} <span className="muted mono small">{shortId(n.Id)}</span>
            </th>
            <td>
              {n.Driver} ({n.Scope})
            </td>
            <td className="mono">{n.IPAM?.Config?.map((c) => c.Subnet).filter(Boolean).join(", ") || "–"}</td>
            <td>{[n.Internal && "internal", n.Attachable && "attachable"].filter(Boolean).join(", ") || "–"}</td>
            <td>
              <UsedBy hostId={hostId} users={n.UsedBy} />
              {operator && n.UsedBy?.length && !BUILTIN.has(n.Name) ? (
                <details className="inline-details">
                  <summary>Disconnect…</summary>
                  {n.UsedBy.map((u) => (
                    <button key={u.id} type="button" onClick={() => void disconnect(n.Name, u.name)}>
                      Disconnect {u.name}
                    </button>
                  ))}
                </details>
              ) : null}
            </td>
            <td className="row-actions">
              <button type="button" onClick={() => void inspect(n.Name)}>
                Inspect
              </button>
              {operator && !BUILTIN.has(n.Name) ? <Connect hostId={hostId} network={n.Name} onDone={refresh} onError={setError} /> : null}
              {operator && !BUILTIN.has(n.Name) ? (
                <ConfirmButton label="Remove" question={`Remove network ${n.Name}?`} onConfirm={() => remove.mutate(n.Name)} />
              ) : null}
            </td>
          </tr>
        ))}
      </DataTable>
      {inspected ? <JsonPanel title={`Network ${inspected.name}`} value={inspected.value} onClose={() => setInspected(null)} /> : null}
    </>
  );
}

function Connect({ hostId, network, onDone, onError }: { hostId: number; network: string; onDone: () => void; onError: (e: unknown) => void }) {
  const [open, setOpen] = useState(false);
  const [container, setContainer] = useState("");
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Connect…
      </button>
    );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await call(api.POST("/api/v1/hosts/{host_pk}/networks/{ref}/connect/", { params: { path: { host_pk: hostId, ref: network } }, body: { container, force: false } }));
      setOpen(false);
      onDone();
    } catch (error) {
      onError(error);
    }
  };
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)}>
      <label className="inline">
        Container to connect <input value={container} onChange={(e) => setContainer(e.target.value)} required />
      </label>
      <button type="submit">Connect</button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}

function NetworkCreate({ hostId, onCreated }: { hostId: number; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [driver, setDriver] = useState("bridge");
  const [subnet, setSubnet] = useState("");
  const [internal, setInternal] = useState(false);
  const [attachable, setAttachable] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: Schemas["NetworkCreateRequest"] = { name, driver, internal, attachable };
    if (subnet.trim()) body.subnet = subnet.trim();
    try {
      await call(api.POST("/api/v1/hosts/{host_pk}/networks/", { params: { path: { host_pk: hostId } }, body }));
      setName("");
      setSubnet("");
      setErrors({ fields: {}, form: null });
      onCreated();
    } catch (error) {
      setErrors(formErrors(error, ["name", "driver", "subnet", "internal", "attachable"]));
    }
  };
  return (
    <details className="card create">
      <summary>Create network</summary>
      <form className="form inline-form" onSubmit={(e) => void submit(e)}>
        <ErrorNote error={errors.form} />
        <Field label="Network name" error={errors.fields.name}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}
        </Field>
        <Field label="Driver" error={errors.fields.driver}>
          {(p) => <input {...p} value={driver} onChange={(e) => setDriver(e.target.value)} />}
        </Field>
        <Field label="Subnet" error={errors.fields.subnet} hint="optional, e.g. 10.20.0.0/24">
          {(p) => <input {...p} value={subnet} onChange={(e) => setSubnet(e.target.value)} />}
        </Field>
        <CheckField label="Internal" checked={internal} onChange={setInternal} />
        <CheckField label="Attachable" checked={attachable} onChange={setAttachable} />
        <button type="submit" className="primary">
          Create
        </button>
      </form>
    </details>
  );
}

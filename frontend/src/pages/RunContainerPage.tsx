/** The "run container" form: friendly fields for the common options, policy denials next to their field. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { type FormErrors, formErrors, runFormFieldForPolicy } from "../api/errors";
import { useAccess } from "../auth/session";
import { ErrorNote } from "../components/ErrorNote";
import { CheckField, Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { parsePairs } from "../lib/format";
import { HostSelect, useHostParam, useHosts } from "../lib/hosts";

const FIELDS = [
  "image", "name", "command", "env", "ports", "volumes", "restart_policy", "memory", "cpus", "labels", "network",
  "tty", "stdin_open", "working_dir", "user", "privileged", "engine_body",
] as const;

interface PortRow {
  container_port: string;
  host_port: string;
  protocol: Schemas["ProtocolEnum"];
}
interface VolumeRow {
  volume: string;
  target: string;
  readonly: boolean;
}

export function RunContainerPage() {
  const access = useAccess();
  const hosts = useHosts();
  const operable = (hosts.data ?? []).filter((h) => access.can(h.id, "operator"));
  const [host, setHost] = useHostParam(operable.length ? operable : undefined);
  const navigate = useNavigate();
  const client = useQueryClient();

  const [search] = useSearchParams();
  const [image, setImage] = useState(search.get("image") ?? "");
  const [name, setName] = useState("");
  const [command, setCommand] = useState("");
  const [env, setEnv] = useState("");
  const [ports, setPorts] = useState<PortRow[]>([]);
  const [volumes, setVolumes] = useState<VolumeRow[]>([]);
  const [restart, setRestart] = useState<Schemas["RestartPolicyEnum"]>("no");
  const [memory, setMemory] = useState("");
  const [cpus, setCpus] = useState("");
  const [network, setNetwork] = useState("");
  const [labels, setLabels] = useState("");
  const [user, setUser] = useState("");
  const [workdir, setWorkdir] = useState("");
  const [tty, setTty] = useState(false);
  const [interactive, setInteractive] = useState(false);
  // `docker run -it`: a terminal and open stdin, then the console attached to the main process starts it.
  const [runIt, setRunIt] = useState(search.get("it") === "1");
  const [privileged, setPrivileged] = useState(false);
  const [engineBody, setEngineBody] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const [busy, setBusy] = useState(false);

  // Suggestions: the images already used on the host, and its networks.
  const suggestions = useQuery({
    queryKey: ["run-suggestions", host?.id],
    enabled: host !== undefined,
    queryFn: async () => {
      const id = host?.id ?? 0;
      const [containers, networks] = await Promise.all([
        call(api.GET("/api/v1/containers/", { params: { query: { host: String(id), limit: 1000 } } })),
        call(api.GET("/api/v1/hosts/{host_pk}/networks/", { params: { path: { host_pk: id } } })).catch(() => []),
      ]);
      const images = [...new Set(containers.results.map((c) => c.image))].sort();
      const names = ((networks as unknown as { Name?: string }[]) ?? []).map((n) => n.Name ?? "").filter(Boolean);
      return { images, networks: names };
    },
  });

  if (hosts.isPending) return <p className="loading">Loading…</p>;
  if (!operable.length) {
    return (
      <>
        <PageTitle title="Run container" />
        <p className="notice">You need the operator role on a host to run containers there.</p>
      </>
    );
  }

  function build(): Schemas["ContainerCreateRequest"] | Record<string, string> {
    const local: Record<string, string> = {};
    const body: Schemas["ContainerCreateRequest"] = { image: image.trim(), pull: false };
    if (name.trim()) body.name = name.trim();
    if (command.trim()) body.command = command.trim();
    try {
      const pairs = parsePairs(env, "Environment line");
      if (Object.keys(pairs).length) body.env = pairs;
    } catch (error) {
      local.env = (error as Error).message;
    }
    try {
      const pairs = parsePairs(labels, "Label line");
      if (Object.keys(pairs).length) body.labels = pairs;
    } catch (error) {
      local.labels = (error as Error).message;
    }
    const portRows = ports.filter((p) => p.container_port.trim());
    if (portRows.length) {
      body.ports = portRows.map((p) => ({
        container_port: Number(p.container_port),
        host_port: p.host_port.trim() ? Number(p.host_port) : null,
        protocol: p.protocol,
        host_ip: "",
      }));
    }
    const volumeRows = volumes.filter((v) => v.volume.trim() || v.target.trim());
    if (volumeRows.length) body.volumes = volumeRows.map((v) => ({ volume: v.volume.trim(), target: v.target.trim(), readonly: v.readonly }));
    if (restart !== "no") body.restart_policy = restart;
    if (memory.trim()) body.memory = Math.round(Number(memory) * 1024 * 1024);
    if (cpus.trim()) body.cpus = Number(cpus);
    if (network.trim()) body.network = network.trim();
    if (user.trim()) body.user = user.trim();
    if (workdir.trim()) body.working_dir = workdir.trim();
    if (tty || runIt) body.tty = true;
    if (interactive || runIt) body.stdin_open = true;
    let extra: Record<string, unknown> = {};
    if (engineBody.trim()) {
      try {
        const parsed: unknown = JSON.parse(engineBody);
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("Give a JSON object.");
        extra = parsed as Record<string, unknown>;
      } catch (error) {
        local.engine_body = `Not a JSON object: ${(error as Error).message}`;
      }
    }
    if (privileged) {
      const hostConfig = (extra.HostConfig as Record<string, unknown> | undefined) ?? {};
      extra = { ...extra, HostConfig: { ...hostConfig, Privileged: true } };
    }
    if (Object.keys(extra).length) body.engine_body = extra;
    return Object.keys(local).length ? local : body;
  }

  async function submit(event: FormEvent, start: boolean) {
    event.preventDefault();
    if (!host) return;
    const body = build();
    if (!("image" in body) || typeof body.image !== "string") {
      setErrors({ fields: body as Record<string, string>, form: null });
      return;
    }
    const createBody = body as Schemas["ContainerCreateRequest"];
    setBusy(true);
    setErrors({ fields: {}, form: null });
    try {
      const path = { host_pk: host.id };
      let ref: string;
      if (start && runIt) {
        // Created, not started: the console attaches first and then starts it, so no early output is lost.
        const created = (await call(api.POST("/api/v1/hosts/{host_pk}/containers/", { params: { path }, body: createBody }))) as { Id?: string };
        ref = createBody.name || created.Id || "";
        await client.invalidateQueries({ queryKey: ["containers"] });
        navigate(`/hosts/${host.id}/containers/${encodeURIComponent(ref)}/console?mode=attach&start=1`);
        return;
      } else if (start) {
        const details = (await call(api.POST("/api/v1/hosts/{host_pk}/containers/run/", { params: { path }, body: createBody }))) as {
          Name?: string;
          Id?: string;
        };
        ref = (details.Name ?? "").replace(/^\//, "") || details.Id || createBody.name || "";
      } else {
        const created = (await call(api.POST("/api/v1/hosts/{host_pk}/containers/", { params: { path }, body: createBody }))) as { Id?: string };
        ref = createBody.name || created.Id || "";
      }
      await client.invalidateQueries({ queryKey: ["containers"] });
      navigate(`/hosts/${host.id}/containers/${encodeURIComponent(ref)}`);
    } catch (error) {
      setErrors(formErrors(error, FIELDS, runFormFieldForPolicy));
    } finally {
      setBusy(false);
    }
  }

  const e = errors.fields;
  return (
    <>
      <PageTitle title="Run container" />
      <form className="card form run-form" onSubmit={(ev) => void submit(ev, true)} noValidate>
        <ErrorNote error={errors.form} />
        <HostSelect hosts={operable} value={host?.id} onChange={setHost} />
        <Field label="Image" error={e.image} hint="e.g. nginx:1.27, or localhost:5000/team/app:2">
          {(p) => <input {...p} list="run-images" required value={image} onChange={(ev) => setImage(ev.target.value)} className="mono" />}
        </Field>
        <datalist id="run-images">
          {suggestions.data?.images.map((i) => <option key={i} value={i} />)}
        </datalist>
        <Field label="Name" error={e.name} hint="Optional; letters, digits, _ . -">
          {(p) => <input {...p} value={name} onChange={(ev) => setName(ev.target.value)} />}
        </Field>
        <Field label="Command" error={e.command} hint="Optional; split like a shell: sh -c 'echo hi'">
          {(p) => <input {...p} value={command} onChange={(ev) => setCommand(ev.target.value)} className="mono" />}
        </Field>
        <Field label="Environment" error={e.env} hint="One NAME=value per line">
          {(p) => <textarea {...p} rows={3} value={env} onChange={(ev) => setEnv(ev.target.value)} className="mono" />}
        </Field>
        <fieldset aria-describedby={e.ports ? "ports-error" : undefined}>
          <legend>Ports</legend>
          {ports.map((port, i) => (
            <div className="row-fields" key={i}>
              <label>
                Container port {i + 1}
                <input type="number" min={1} max={65535} value={port.container_port} onChange={(ev) => setPorts(ports.map((p, j) => (j === i ? { ...p, container_port: ev.target.value } : p)))} />
              </label>
              <label>
                Host port {i + 1}
                <input type="number" min={0} max={65535} placeholder="any" value={port.host_port} onChange={(ev) => setPorts(ports.map((p, j) => (j === i ? { ...p, host_port: ev.target.value } : p)))} />
              </label>
              <label>
                Protocol {i + 1}
                <select value={port.protocol} onChange={(ev) => setPorts(ports.map((p, j) => (j === i ? { ...p, protocol: ev.target.value as Schemas["ProtocolEnum"] } : p)))}>
                  <option value="tcp">tcp</option>
                  <option value="udp">udp</option>
                  <option value="sctp">sctp</option>
                </select>
              </label>
              <button type="button" onClick={() => setPorts(ports.filter((_, j) => j !== i))}>
                Remove port {i + 1}
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setPorts([...ports, { container_port: "", host_port: "", protocol: "tcp" }])}>
            Add port
          </button>
          {e.ports ? (
            <p id="ports-error" className="field-error">
              {e.ports}
            </p>
          ) : null}
        </fieldset>
        <fieldset aria-describedby={e.volumes ? "volumes-error" : undefined}>
          <legend>Volumes</legend>
          {volumes.map((volume, i) => (
            <div className="row-fields" key={i}>
              <label>
                Volume {i + 1}
                <input value={volume.volume} placeholder="volume name" aria-invalid={e.volumes ? true : undefined} aria-describedby={e.volumes ? "volumes-error" : undefined} onChange={(ev) => setVolumes(volumes.map((v, j) => (j === i ? { ...v, volume: ev.target.value } : v)))} />
              </label>
              <label>
                Mount path {i + 1}
                <input value={volume.target} placeholder="/data" onChange={(ev) => setVolumes(volumes.map((v, j) => (j === i ? { ...v, target: ev.target.value } : v)))} />
              </label>
              <label className="inline">
                <input type="checkbox" checked={volume.readonly} onChange={(ev) => setVolumes(volumes.map((v, j) => (j === i ? { ...v, readonly: ev.target.checked } : v)))} /> Read-only
              </label>
              <button type="button" onClick={() => setVolumes(volumes.filter((_, j) => j !== i))}>
                Remove volume {i + 1}
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setVolumes([...volumes, { volume: "", target: "", readonly: false }])}>
            Add volume
          </button>
          {e.volumes ? (
            <p id="volumes-error" className="field-error">
              {e.volumes}
            </p>
          ) : null}
        </fieldset>
        <div className="field-row">
          <Field label="Restart policy" error={e.restart_policy}>
            {(p) => (
              <select {...p} value={restart} onChange={(ev) => setRestart(ev.target.value as Schemas["RestartPolicyEnum"])}>
                <option value="no">no</option>
                <option value="on-failure">on-failure</option>
                <option value="unless-stopped">unless-stopped</option>
                <option value="always">always</option>
              </select>
            )}
          </Field>
          <Field label="Memory limit (MiB)" error={e.memory}>
            {(p) => <input {...p} type="number" min={4} value={memory} onChange={(ev) => setMemory(ev.target.value)} />}
          </Field>
          <Field label="CPUs" error={e.cpus}>
            {(p) => <input {...p} type="number" min={0.01} step={0.01} value={cpus} onChange={(ev) => setCpus(ev.target.value)} />}
          </Field>
          <Field label="Network" error={e.network}>
            {(p) => <input {...p} list="run-networks" value={network} onChange={(ev) => setNetwork(ev.target.value)} />}
          </Field>
          <datalist id="run-networks">
            {suggestions.data?.networks.map((n) => <option key={n} value={n} />)}
          </datalist>
        </div>
        <div className="field-row">
          <Field label="User" error={e.user}>
            {(p) => <input {...p} value={user} onChange={(ev) => setUser(ev.target.value)} />}
          </Field>
          <Field label="Working directory" error={e.working_dir}>
            {(p) => <input {...p} value={workdir} onChange={(ev) => setWorkdir(ev.target.value)} />}
          </Field>
        </div>
        <Field label="Labels" error={e.labels} hint="One KEY=value per line">
          {(p) => <textarea {...p} rows={2} value={labels} onChange={(ev) => setLabels(ev.target.value)} className="mono" />}
        </Field>
        <div className="field-row">
          <CheckField label="Interactive (-it)" checked={runIt} onChange={setRunIt} />
          <CheckField label="Allocate a terminal (tty)" checked={tty || runIt} disabled={runIt} onChange={setTty} error={e.tty} />
          <CheckField label="Keep stdin open (interactive)" checked={interactive || runIt} disabled={runIt} onChange={setInteractive} error={e.stdin_open} />
          <CheckField label="Privileged" checked={privileged} onChange={setPrivileged} error={e.privileged} />
        </div>
        <details open={Boolean(e.engine_body) || undefined}>
          <summary>Advanced: engine options</summary>
          <Field label="Engine create body (JSON)" error={e.engine_body} hint={'Merged under the fields above, e.g. {"HostConfig": {"ShmSize": 67108864}}'}>
            {(p) => <textarea {...p} rows={4} value={engineBody} onChange={(ev) => setEngineBody(ev.target.value)} className="mono" />}
          </Field>
        </details>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Starting…" : "Run"}
          </button>
          {runIt ? <span className="muted small">Run opens the console attached to the container, then starts it.</span> : null}
          <button type="button" disabled={busy} onClick={(ev) => void submit(ev, false)}>
            Create without starting
          </button>
          <Link to="/containers">Cancel</Link>
        </div>
      </form>
    </>
  );
}

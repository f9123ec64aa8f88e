/** Add a host (administrators) or edit one (host admins): URL, TLS files, labels, policy settings. */
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { CheckField, Field } from "../components/Field";
import { ErrorNote } from "../components/ErrorNote";
import { PageTitle } from "../components/Layout";
import { pairsText, parsePairs } from "../lib/format";
import { useHosts } from "../lib/hosts";

const FIELDS = ["name", "url", "tls_ca", "tls_cert", "tls_key", "tls_verify", "labels", "policy", "unowned_access", "check"];

type TlsFiles = { tls_ca?: string; tls_cert?: string; tls_key?: string };

export function HostFormPage() {
  const { hostId } = useParams();
  const editing = hostId !== undefined;
  const access = useAccess();
  const hosts = useHosts();
  const host = editing ? hosts.data?.find((h) => h.id === Number(hostId)) : undefined;
  const navigate = useNavigate();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [tls, setTls] = useState<TlsFiles>({});
  const [tlsVerify, setTlsVerify] = useState(true);
  const [labels, setLabels] = useState("");
  const [policy, setPolicy] = useState("{}");
  const [unowned, setUnowned] = useState(false);
  const [check, setCheck] = useState(true);
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!host) return;
    setName(host.name);
    setUrl(host.url);
    setTlsVerify(host.tls_verify ?? true);
    setLabels(pairsText(host.labels));
    setPolicy(JSON.stringify(host.policy ?? {}, null, 2));
    setUnowned(host.unowned_access ?? false);
  }, [host]);

  if (editing && hosts.isPending) return <p className="loading">Loading…</p>;
  if (editing && !host) return <ErrorNote error={hosts.error ?? `No host ${hostId} is visible to you.`} />;
  const allowed = editing ? access.can(Number(hostId), "admin") : access.isAdmin;
  if (!allowed) {
    return (
      <>
        <PageTitle title={editing ? `Edit ${host?.name}` : "Add host"} />
        <p className="notice">{editing ? "Only admins of this host may edit it." : "Only administrators may add hosts."}</p>
      </>
    );
  }

  async function readFile(field: keyof TlsFiles, file: File | undefined) {
    if (!file) {
      setTls(({ [field]: _dropped, ...rest }) => rest);
      return;
    }
    const text = await file.text();
    setTls((old) => ({ ...old, [field]: text }));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const local: Record<string, string> = {};
    let labelMap: Record<string, string> = {};
    let policyValue: unknown = {};
    try {
      labelMap = parsePairs(labels, "Label line");
    } catch (error) {
      local.labels = (error as Error).message;
    }
    try {
      policyValue = JSON.parse(policy || "{}");
    } catch (error) {
      local.policy = `Not valid JSON: ${(error as Error).message}`;
    }
    if (Object.keys(local).length) {
      setErrors({ fields: local, form: null });
      return;
    }
    setBusy(true);
    setErrors({ fields: {}, form: null });
    const body: Schemas["HostRequest"] = { name, url, tls_verify: tlsVerify, labels: labelMap, ...tls };
    // Policy and unowned access are host settings: edited once the host exists (the create service takes neither).
    if (editing) Object.assign(body, { policy: policyValue, unowned_access: unowned });
    const query = { check };
    try {
      if (editing) {
        await call(api.PATCH("/api/v1/hosts/{id}/", { params: { path: { id: Number(hostId) }, query }, body }));
      } else {
        await call(api.POST("/api/v1/hosts/", { params: { query }, body }));
      }
      await client.invalidateQueries({ queryKey: ["hosts"] });
      await client.invalidateQueries({ queryKey: ["me"] });
      navigate("/hosts");
    } catch (error) {
      setErrors(formErrors(error, FIELDS));
    } finally {
      setBusy(false);
    }
  }

  const e = errors.fields;
  return (
    <>
      <PageTitle title={editing ? `Edit ${host?.name ?? ""}` : "Add host"} />
      <form className="card form" onSubmit={(ev) => void submit(ev)} noValidate>
        <ErrorNote error={errors.form} />
        <Field label="Name" error={e.name} hint="Lower-case letters, digits and dashes; used in the gateway URL.">
          {(p) => <input {...p} value={name} onChange={(ev) => setName(ev.target.value)} required />}
        </Field>
        <Field label="Engine URL" error={e.url} hint="unix:///var/run/docker.sock or tcp://host:2376">
          {(p) => <input {...p} value={url} onChange={(ev) => setUrl(ev.target.value)} required className="mono" />}
        </Field>
        <fieldset>
          <legend>TLS (for tcp:// engines)</legend>
          {editing ? (
            <p className="muted">
              Stored: CA {host?.has_tls_ca ? "yes" : "no"}, client certificate {host?.has_tls_client_cert ? "yes" : "no"}. Choose files only to
              replace them.
            </p>
          ) : null}
          <Field label="CA certificate (PEM)" error={e.tls_ca}>
            {(p) => <input {...p} type="file" accept=".pem,.crt,.cer,text/plain" onChange={(ev) => void readFile("tls_ca", ev.target.files?.[0])} />}
          </Field>
          <Field label="Client certificate (PEM)" error={e.tls_cert}>
            {(p) => <input {...p} type="file" accept=".pem,.crt,.cer,text/plain" onChange={(ev) => void readFile("tls_cert", ev.target.files?.[0])} />}
          </Field>
          <Field label="Client key (PEM)" error={e.tls_key}>
            {(p) => <input {...p} type="file" accept=".pem,.key,text/plain" onChange={(ev) => void readFile("tls_key", ev.target.files?.[0])} />}
          </Field>
          <CheckField label="Verify the engine's certificate" checked={tlsVerify} onChange={setTlsVerify} error={e.tls_verify} />
        </fieldset>
        <Field label="Labels" error={e.labels} hint="One KEY=value per line; grants can name hosts by label.">
          {(p) => <textarea {...p} rows={3} className="mono" value={labels} onChange={(ev) => setLabels(ev.target.value)} />}
        </Field>
        {editing ? (
          <CheckField
            label="Operators may act on objects without an owner label"
            checked={unowned}
            onChange={setUnowned}
            error={e.unowned_access}
          />
        ) : null}
        {editing ? (
          <Field label="Admission policy settings (JSON)" error={e.policy} hint="Unset keys follow the defaults, e.g. {&quot;max_memory&quot;: 536870912}.">
            {(p) => <textarea {...p} rows={6} className="mono" value={policy} onChange={(ev) => setPolicy(ev.target.value)} />}
          </Field>
        ) : null}
        <CheckField label="Connect to the engine before saving" checked={check} onChange={setCheck} error={e.check} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Saving…" : editing ? "Save" : "Add host"}
          </button>
          <Link to="/hosts">Cancel</Link>
        </div>
      </form>
    </>
  );
}

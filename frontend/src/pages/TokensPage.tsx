import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { ConfirmButton } from "../components/Confirm";
import { DataTable } from "../components/DataTable";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { formatTime, relativeTime } from "../lib/format";
import { useHosts } from "../lib/hosts";

function tokenLimits(token: Schemas["Token"]): string {
  const parts = [];
  if (token.scope_hosts?.length) parts.push(`hosts ${token.scope_hosts.join(", ")}`);
  if (token.max_role) parts.push(`at most ${token.max_role}`);
  if (token.default_host) parts.push(`default ${token.default_host}`);
  return parts.join(" · ") || "none";
}

export function TokensPage() {
  const client = useQueryClient();
  const tokens = useQuery({
    queryKey: ["tokens"],
    queryFn: async () => (await call(api.GET("/api/v1/tokens/", { params: { query: { limit: 1000 } } }))).results,
  });
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [scope, setScope] = useState("");
  const [maxRole, setMaxRole] = useState<"" | "viewer" | "operator" | "admin">("");
  const [defaultHost, setDefaultHost] = useState("");
  const hosts = useHosts();
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const [created, setCreated] = useState<Schemas["NewToken"] | null>(null);
  const [revokeError, setRevokeError] = useState<unknown>(null);

  const create = useMutation({
    mutationFn: (body: Schemas["TokenRequest"]) => call(api.POST("/api/v1/tokens/", { body })),
    onSuccess: (token) => {
      setCreated(token);
      setName("");
      setDays("");
      setScope("");
      setMaxRole("");
      setDefaultHost("");
      setErrors({ fields: {}, form: null });
      void client.invalidateQueries({ queryKey: ["tokens"] });
    },
    onError: (error) => setErrors(formErrors(error, ["name", "expires_in_days", "expires_at", "scope_hosts", "max_role", "default_host"])),
  });
  const revoke = useMutation({
    mutationFn: (id: number) => call(api.DELETE("/api/v1/tokens/{id}/", { params: { path: { id } } })),
    onSuccess: () => {
      setRevokeError(null);
      void client.invalidateQueries({ queryKey: ["tokens"] });
    },
    onError: setRevokeError,
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    const body: Schemas["TokenRequest"] = { name };
    if (days) body.expires_in_days = Number(days);
    const patterns = scope.split(/[\s,]+/).filter(Boolean);
    if (patterns.length) body.scope_hosts = patterns;
    if (maxRole) body.max_role = maxRole;
    if (defaultHost) body.default_host = defaultHost;
    create.mutate(body);
  }

  return (
    <>
      <PageTitle title="API tokens" />
      <p className="muted">
        Tokens let scripts, CI and the Docker CLI act as you: <code>Authorization: Bearer &lt;token&gt;</code>, or the CLI's{" "}
        <code>HttpHeaders</code> with <code>DOCKER_HOST=tcp://…:2375/hosts/&lt;host&gt;</code>.
      </p>
      {created ? (
        <section className="card new-token" aria-labelledby="new-token-title">
          <h2 id="new-token-title">Token “{created.name}” created</h2>
          <p>Copy it now: it is shown only once.</p>
          <input readOnly aria-label="New token" className="mono wide" value={created.token} onFocus={(e) => e.target.select()} />
          <div className="actions">
            <button type="button" onClick={() => void navigator.clipboard?.writeText(created.token)}>
              Copy
            </button>
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </section>
      ) : null}
      <form className="card form inline-form" onSubmit={submit} aria-label="Create a token">
        <ErrorNote error={errors.form} />
        <Field label="Token name" error={errors.fields.name}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />}
        </Field>
        <Field label="Expires in days" error={errors.fields.expires_in_days ?? errors.fields.expires_at} hint="Empty: never.">
          {(p) => <input {...p} type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} />}
        </Field>
        <Field label="Only hosts" error={errors.fields.scope_hosts} hint="Name patterns, e.g. staging-*; empty: all yours.">
          {(p) => <input {...p} value={scope} onChange={(e) => setScope(e.target.value)} placeholder="staging-*, build-1" />}
        </Field>
        <Field label="At most" error={errors.fields.max_role} hint="Caps your role on every host.">
          {(p) => (
            <select {...p} value={maxRole} onChange={(e) => setMaxRole(e.target.value as typeof maxRole)}>
              <option value="">your roles</option>
              <option value="viewer">viewer</option>
              <option value="operator">operator</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        <Field label="Default host" error={errors.fields.default_host} hint="For BuildKit through the gateway.">
          {(p) => (
            <select {...p} value={defaultHost} onChange={(e) => setDefaultHost(e.target.value)}>
              <option value="">none</option>
              {hosts.data?.map((host) => (
                <option key={host.id} value={host.name}>
                  {host.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create token
        </button>
      </form>
      <ErrorNote error={tokens.error ?? revokeError} />
      <DataTable caption="Your tokens" columns={["Name", "Created", "Expires", "Limits", "Last used"]} empty={tokens.data?.length === 0} emptyText="You have no tokens.">
        {tokens.data?.map((token) => (
          <tr key={token.id}>
            <th scope="row">{token.name}</th>
            <td>{formatTime(token.created_at)}</td>
            <td>{token.expires_at ? formatTime(token.expires_at) : "never"}</td>
            <td>{tokenLimits(token)}</td>
            <td>{token.last_used_at ? relativeTime(token.last_used_at) : "never"}</td>
            <td className="row-actions">
              <ConfirmButton label="Revoke" question={`Revoke ${token.name}?`} onConfirm={() => revoke.mutate(token.id)} />
            </td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

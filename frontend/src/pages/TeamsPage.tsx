/** Teams (administrators manage, others see their own) and grants of roles on hosts (administrators). */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { DataTable } from "../components/DataTable";
import { ErrorNote, Notice } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { useHosts } from "../lib/hosts";

const NO_ERRORS: FormErrors = { fields: {}, form: null };
const splitNames = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

export function TeamsPage() {
  const access = useAccess();
  const client = useQueryClient();
  const teams = useQuery({
    queryKey: ["teams"],
    queryFn: async () => (await call(api.GET("/api/v1/teams/", { params: { query: { limit: 1000 } } }))).results,
  });
  const [editing, setEditing] = useState<Schemas["Team"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const remove = useMutation({
    mutationFn: (id: number) => call(api.DELETE("/api/v1/teams/{id}/", { params: { path: { id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["teams"] }),
    onError: setError,
  });
  return (
    <>
      <PageTitle title="Teams" />
      {!access.isAdmin ? <p className="muted">The teams you belong to. Administrators manage teams.</p> : null}
      <ErrorNote error={teams.error ?? error} />
      {access.isAdmin ? <TeamForm key={editing?.id ?? "new"} team={editing} onDone={() => setEditing(null)} /> : null}
      <DataTable caption="Teams" columns={["Team", "Description", "Members"]} empty={teams.data?.length === 0} emptyText="No teams.">
        {teams.data?.map((team) => (
          <tr key={team.id}>
            <th scope="row">{team.name}</th>
            <td>{team.description}</td>
            <td>{team.members?.join(", ") || "–"}</td>
            <td className="row-actions">
              {access.isAdmin ? (
                <>
                  <button type="button" onClick={() => setEditing(team)}>
                    Edit
                  </button>
                  <ConfirmButton label="Delete" question={`Delete team ${team.name} and its grants?`} onConfirm={() => remove.mutate(team.id)} />
                </>
              ) : null}
            </td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

function TeamForm({ team, onDone }: { team: Schemas["Team"] | null; onDone: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState(team?.name ?? "");
  const [description, setDescription] = useState(team?.description ?? "");
  const [members, setMembers] = useState(team?.members?.join(", ") ?? "");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = { name, description, members: splitNames(members) };
    try {
      if (team) await call(api.PATCH("/api/v1/teams/{id}/", { params: { path: { id: team.id } }, body }));
      else await call(api.POST("/api/v1/teams/", { body }));
      setErrors(NO_ERRORS);
      if (!team) {
        setName("");
        setDescription("");
        setMembers("");
      }
      void client.invalidateQueries({ queryKey: ["teams"] });
      onDone();
    } catch (error) {
      setErrors(formErrors(error, ["name", "description", "members"]));
    }
  };
  return (
    <form className="card form inline-form" onSubmit={(e) => void submit(e)} aria-label={team ? `Edit team ${team.name}` : "Create a team"}>
      <ErrorNote error={errors.form} />
      <Field label="Team name" error={errors.fields.name}>
        {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}
      </Field>
      <Field label="Description" error={errors.fields.description}>
        {(p) => <input {...p} value={description} onChange={(e) => setDescription(e.target.value)} />}
      </Field>
      <Field label="Members" error={errors.fields.members} hint="Usernames, separated by commas">
        {(p) => <input {...p} value={members} onChange={(e) => setMembers(e.target.value)} />}
      </Field>
      <button type="submit" className="primary">
        {team ? "Save team" : "Create team"}
      </button>
      {team ? (
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      ) : null}
    </form>
  );
}

export function GrantsPage() {
  const access = useAccess();
  const client = useQueryClient();
  const hosts = useHosts();
  const grants = useQuery({
    queryKey: ["grants"],
    enabled: access.isAdmin,
    queryFn: async () => (await call(api.GET("/api/v1/grants/", { params: { query: { limit: 1000 } } }))).results,
  });
  const [who, setWho] = useState<"user" | "team">("user");
  const [subject, setSubject] = useState("");
  const [target, setTarget] = useState<"host" | "host_label">("host");
  const [host, setHost] = useState("");
  const [label, setLabel] = useState("");
  const [role, setRole] = useState<Schemas["RoleEnum"]>("viewer");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [error, setError] = useState<unknown>(null);
  const remove = useMutation({
    mutationFn: (id: number) => call(api.DELETE("/api/v1/grants/{id}/", { params: { path: { id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["grants"] }),
    onError: setError,
  });
  if (!access.isAdmin) {
    return (
      <>
        <PageTitle title="Grants" />
        <Notice>Only administrators manage grants. Your roles: {access.me.hosts.map((h) => `${h.name} (${h.role})`).join(", ") || "none"}.</Notice>
      </>
    );
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: Schemas["GrantRequest"] = { role, [who]: subject.trim(), ...(target === "host" ? { host: host || null } : { host_label: label.trim() }) };
    try {
      await call(api.POST("/api/v1/grants/", { body }));
      setErrors(NO_ERRORS);
      setSubject("");
      void client.invalidateQueries({ queryKey: ["grants"] });
    } catch (err) {
      setErrors(formErrors(err, ["user", "team", "host", "host_label", "role"]));
    }
  };
  return (
    <>
      <PageTitle title="Grants" />
      <p className="muted">A grant gives a user or a team a role on one host, or on every host with a label.</p>
      <ErrorNote error={grants.error ?? error} />
      <form className="card form inline-form" onSubmit={(e) => void submit(e)} aria-label="Add a grant">
        <ErrorNote error={errors.form} />
        <label className="inline">
          To{" "}
          <select value={who} onChange={(e) => setWho(e.target.value as "user" | "team")}>
            <option value="user">user</option>
            <option value="team">team</option>
          </select>
        </label>
        <Field label={who === "user" ? "Username" : "Team name"} error={errors.fields[who]}>
          {(p) => <input {...p} value={subject} onChange={(e) => setSubject(e.target.value)} required />}
        </Field>
        <label className="inline">
          On{" "}
          <select value={target} onChange={(e) => setTarget(e.target.value as "host" | "host_label")}>
            <option value="host">one host</option>
            <option value="host_label">hosts with a label</option>
          </select>
        </label>
        {target === "host" ? (
          <Field label="Grant host" error={errors.fields.host}>
            {(p) => (
              <select {...p} value={host} onChange={(e) => setHost(e.target.value)} required>
                <option value="">choose…</option>
                {hosts.data?.map((h) => (
                  <option key={h.id} value={h.name}>
                    {h.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ) : (
          <Field label="Host label" error={errors.fields.host_label} hint="key or key=value">
            {(p) => <input {...p} value={label} onChange={(e) => setLabel(e.target.value)} required />}
          </Field>
        )}
        <Field label="Role" error={errors.fields.role}>
          {(p) => (
            <select {...p} value={role} onChange={(e) => setRole(e.target.value as Schemas["RoleEnum"])}>
              <option value="viewer">viewer</option>
              <option value="operator">operator</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        <button type="submit" className="primary">
          Add grant
        </button>
      </form>
      <DataTable caption="Grants" columns={["Who", "Where", "Role"]} empty={grants.data?.length === 0} emptyText="No grants.">
        {grants.data?.map((g) => (
          <tr key={g.id}>
            <th scope="row">{g.user ? `user ${g.user}` : `team ${g.team}`}</th>
            <td>{g.host ? `host ${g.host}` : `hosts labelled ${g.host_label}`}</td>
            <td>{g.role}</td>
            <td className="row-actions">
              <ConfirmButton label="Revoke" question="Revoke this grant?" onConfirm={() => remove.mutate(g.id)} />
            </td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

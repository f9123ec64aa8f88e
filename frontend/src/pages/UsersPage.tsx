/** Users: administrators add, edit, deactivate and reactivate them (never delete: the audit log keeps naming
 * them); everyone else sees only their own account. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Link } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote, Notice } from "../components/ErrorNote";
import { CheckField, Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { formatTime, relativeTime } from "../lib/format";

type User = Schemas["User"];

const NO_ERRORS: FormErrors = { fields: {}, form: null };
const FIELDS = ["username", "email", "first_name", "last_name", "password", "is_superuser", "is_active"] as const;
const LIMIT = 500;
const SELF_DEACTIVATE = "You cannot deactivate yourself: another administrator has to do it.";
const SELF_DEMOTE = "You cannot remove your own administrator right: another administrator has to do it.";

function fullName(user: User): string {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

/** `value`, once it has stopped changing for `ms`. */
function useSettled<T>(value: T, ms = 250): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

type Editing = { mode: "closed" } | { mode: "new" } | { mode: "edit"; user: User };

export function UsersPage() {
  const access = useAccess();
  const client = useQueryClient();
  const [search, setSearch] = useState("");
  const [showInactive, setShowInactive] = useState(false);
  const query = useSettled(search.trim());
  const filters = { ...(query ? { search: query } : {}), ...(showInactive ? {} : { is_active: true }) };
  const users = useQuery({
    queryKey: ["users", filters],
    placeholderData: keepPreviousData,
    queryFn: () => call(api.GET("/api/v1/users/", { params: { query: { ...filters, limit: LIMIT } } })),
  });
  const [editing, setEditing] = useState<Editing>({ mode: "closed" });
  const [done, setDone] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const setActive = useMutation({
    mutationFn: ({ user, active }: { user: User; active: boolean }) =>
      call(api.PATCH("/api/v1/users/{id}/", { params: { path: { id: user.id } }, body: { is_active: active } })),
    onSuccess: (user, { active }) => {
      setActionError(null);
      setDone(`${user.username} ${active ? "reactivated" : "deactivated"}.`);
      void client.invalidateQueries({ queryKey: ["users"] });
    },
    onError: setActionError,
  });
  const rows = users.data?.results ?? [];
  const total = users.data?.count ?? 0;
  const me = access.me.username;
  const columns = access.isAdmin ? 9 : 8;

  return (
    <>
      <PageTitle title={access.isAdmin ? "Users" : "Your account"}>
        {access.isAdmin && editing.mode !== "new" ? (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setDone(null);
              setEditing({ mode: "new" });
            }}
          >
            Add user
          </button>
        ) : null}
      </PageTitle>
      {!access.isAdmin ? <p className="muted">Administrators add, change and deactivate users.</p> : null}
      {done ? <Notice>{done}</Notice> : null}
      <ErrorNote error={users.error ?? actionError} />
      {access.isAdmin && editing.mode !== "closed" ? (
        <UserForm
          key={editing.mode === "edit" ? editing.user.id : "new"}
          user={editing.mode === "edit" ? editing.user : null}
          isSelf={editing.mode === "edit" && editing.user.username === me}
          onDone={(message) => {
            setEditing({ mode: "closed" });
            if (message) setDone(message);
          }}
        />
      ) : null}
      {access.isAdmin ? (
        <form className="toolbar" role="search" aria-label="Filter users" onSubmit={(e) => e.preventDefault()}>
          <label className="inline grow">
            Search{" "}
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="username or email" aria-label="Search users" />
          </label>
          <CheckField label="Show deactivated" checked={showInactive} onChange={setShowInactive} />
          <span className="muted small" role="status">
            {users.data ? `${total} ${total === 1 ? "user" : "users"}${total > rows.length ? `, first ${rows.length} shown` : ""}` : ""}
          </span>
        </form>
      ) : null}
      <table className="table users">
        <caption className="sr-only">Users</caption>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Administrator</th>
            <th scope="col">Active</th>
            <th scope="col">Teams</th>
            <th scope="col">Last login</th>
            <th scope="col">Joined</th>
            {access.isAdmin ? (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {users.isPending ? (
            <tr>
              <td colSpan={columns} className="empty">
                Loading…
              </td>
            </tr>
          ) : null}
          {users.data && rows.length === 0 ? (
            <tr>
              <td colSpan={columns} className="empty">
                {query ? `No user matches “${query}”.` : "No users."}
              </td>
            </tr>
          ) : null}
          {rows.map((user) => {
            const isSelf = user.username === me;
            return (
              <tr key={user.id} className={user.is_active ? undefined : "inactive"}>
                <th scope="row">
                  {user.username}
                  {isSelf ? <span className="muted small"> (you)</span> : null}
                </th>
                <td>{fullName(user) || <span className="muted">–</span>}</td>
                <td>{user.email || <span className="muted">–</span>}</td>
                <td>{user.is_superuser ? <span className="badge admin-badge">administrator</span> : <span className="muted">no</span>}</td>
                <td>{user.is_active ? <span className="badge status-up">active</span> : <span className="badge status-down">deactivated</span>}</td>
                <td>
                  {user.teams.length ? (
                    <ul className="chips inline-chips" aria-label={`Teams of ${user.username}`}>
                      {user.teams.map((team) => (
                        <li key={team}>
                          <Link className="chip" to="/teams">
                            {team}
                          </Link>
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
                <td title={user.last_login ? formatTime(user.last_login) : undefined}>{user.last_login ? relativeTime(user.last_login) : "never"}</td>
                <td>{formatTime(user.date_joined)}</td>
                {access.isAdmin ? (
                  <td className="row-actions">
                    <button
                      type="button"
                      aria-label={`Edit ${user.username}`}
                      onClick={() => {
                        setDone(null);
                        setEditing({ mode: "edit", user });
                      }}
                    >
                      Edit
                    </button>
                    {user.is_active ? (
                      isSelf ? (
                        <button type="button" className="danger" disabled title={SELF_DEACTIVATE} aria-description={SELF_DEACTIVATE}>
                          Deactivate
                        </button>
                      ) : (
                        <ConfirmButton
                          label="Deactivate"
                          question={`Deactivate ${user.username}?`}
                          onConfirm={() => setActive.mutate({ user, active: false })}
                          disabled={setActive.isPending}
                        />
                      )
                    ) : (
                      <ConfirmButton
                        label="Reactivate"
                        className=""
                        confirmLabel="Yes, reactivate"
                        question={`Reactivate ${user.username}?`}
                        onConfirm={() => setActive.mutate({ user, active: true })}
                        disabled={setActive.isPending}
                      />
                    )}
                  </td>
                ) : null}
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function UserForm({ user, isSelf, onDone }: { user: User | null; isSelf: boolean; onDone: (message: string | null) => void }) {
  const client = useQueryClient();
  const [username, setUsername] = useState(user?.username ?? "");
  const [email, setEmail] = useState(user?.email ?? "");
  const [firstName, setFirstName] = useState(user?.first_name ?? "");
  const [lastName, setLastName] = useState(user?.last_name ?? "");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [admin, setAdmin] = useState(user?.is_superuser ?? false);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const title = user ? `Edit user ${user.username}` : "Add a user";

  async function submit(event: FormEvent) {
    event.preventDefault();
    if ((password || confirm) && password !== confirm) {
      setErrors({ fields: { password_confirm: "The two passwords do not match." }, form: null });
      return;
    }
    const body: Schemas["PatchedUserRequest"] = { username, email, first_name: firstName, last_name: lastName, is_superuser: admin };
    if (password) body.password = password;
    setBusy(true);
    try {
      const saved = user
        ? await call(api.PATCH("/api/v1/users/{id}/", { params: { path: { id: user.id } }, body }))
        : await call(api.POST("/api/v1/users/", { body: { ...body, username, is_active: true } }));
      setErrors(NO_ERRORS);
      void client.invalidateQueries({ queryKey: ["users"] });
      if (isSelf) void client.invalidateQueries({ queryKey: ["me"] });
      onDone(user ? `Saved ${saved.username}.` : `User ${saved.username} added.`);
    } catch (error) {
      setErrors(formErrors(error, FIELDS));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card form user-form" onSubmit={(e) => void submit(e)} aria-label={title}>
      <h2>{title}</h2>
      <ErrorNote error={errors.form ?? errors.fields.is_active} />
      <div className="field-row">
        <Field label="Username" error={errors.fields.username}>
          {(p) => <input {...p} value={username} onChange={(e) => setUsername(e.target.value)} required maxLength={150} autoComplete="off" />}
        </Field>
        <Field label="Email" error={errors.fields.email}>
          {(p) => <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}
        </Field>
      </div>
      <div className="field-row">
        <Field label="First name" error={errors.fields.first_name}>
          {(p) => <input {...p} value={firstName} onChange={(e) => setFirstName(e.target.value)} maxLength={150} autoComplete="off" />}
        </Field>
        <Field label="Last name" error={errors.fields.last_name}>
          {(p) => <input {...p} value={lastName} onChange={(e) => setLastName(e.target.value)} maxLength={150} autoComplete="off" />}
        </Field>
      </div>
      <div className="field-row">
        <Field label="Password" error={errors.fields.password} hint={user ? "Leave empty to keep the current password." : undefined}>
          {(p) => (
            <input {...p} type="password" value={password} onChange={(e) => setPassword(e.target.value)} required={!user} autoComplete="new-password" />
          )}
        </Field>
        <Field label="Confirm password" error={errors.fields.password_confirm}>
          {(p) => (
            <input {...p} type="password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required={!user || password !== ""} autoComplete="new-password" />
          )}
        </Field>
      </div>
      <div>
        <CheckField label="Administrator" checked={admin} onChange={setAdmin} error={errors.fields.is_superuser} disabled={isSelf && admin} />
        {isSelf && admin ? <small className="hint muted">{SELF_DEMOTE}</small> : null}
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {user ? "Save user" : "Add user"}
        </button>
        <button type="button" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

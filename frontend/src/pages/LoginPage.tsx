import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { request } from "../api/client";
import { type FormErrors, formErrors } from "../api/errors";
import { type Session, useSession } from "../auth/session";
import { Field } from "../components/Field";

function safeNext(next: string | null): string {
  // Only paths of this site: never send a user elsewhere after login.
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/containers";
}

export function LoginPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const session = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get("next"));
  useEffect(() => {
    document.title = "Log in · dockerweb";
  }, []);

  if (session.data?.authenticated) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setErrors({ fields: {}, form: null });
    try {
      const result = await request<Session>("POST", "/auth/login/", { username, password });
      client.setQueryData(["session"], result);
      await client.invalidateQueries({ queryKey: ["me"] });
      navigate(next, { replace: true });
    } catch (error) {
      setErrors(formErrors(error, ["username", "password"]));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login-page" id="main">
      <form className="card login" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">Log in to dockerweb</h1>
        {errors.form ? (
          <p className="error-note" role="alert">
            {errors.form}
          </p>
        ) : null}
        <Field label="Username" error={errors.fields.username}>
          {(p) => (
            <input {...p} name="username" autoComplete="username" autoFocus required value={username} onChange={(e) => setUsername(e.target.value)} />
          )}
        </Field>
        <Field label="Password" error={errors.fields.password}>
          {(p) => (
            <input
              {...p}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        {session.isError ? <p className="error-note">The server could not be reached.</p> : null}
      </form>
    </main>
  );
}

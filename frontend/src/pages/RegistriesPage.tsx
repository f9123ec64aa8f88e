/** Registries dockerweb knows: list, test the connection, browse repositories and tags, search; administrators
 * add, edit and remove them. Credentials are write-only: the page only ever says whether one is set. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, call, request, type Schemas } from "../api/client";
import { type FormErrors, errorMessage, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote, Notice } from "../components/ErrorNote";
import { CheckField, Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { relativeTime } from "../lib/format";

export type Registry = Schemas["Registry"];

interface TestResult {
  ok: boolean;
  status: number | null;
  detail: string;
}

/** A page of the browse API: repositories (catalog) or tags, and the URL of the next page. */
interface BrowsePage {
  repositories?: string[];
  tags?: string[];
  image?: string;
  next: string | null;
}

interface SearchHit {
  name: string;
}

const MANAGE_REASON = "Only administrators may add, edit or remove registries.";

export function useRegistryList() {
  return useQuery({
    queryKey: ["registries", "list"],
    queryFn: async () => (await call(api.GET("/api/v1/registries/", { params: { query: { limit: 1000 } } }))).results,
  });
}

/** The next page's URL as a path on this server (the API answers with an absolute URL). */
export function samePath(url: string): string {
  try {
    const parsed = new URL(url, window.location.origin);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url;
  }
}

export function RegistriesPage() {
  const access = useAccess();
  const registries = useRegistryList();
  const [params, setParams] = useSearchParams();
  const client = useQueryClient();
  const [results, setResults] = useState<Record<number, TestResult | "testing">>({});
  const [error, setError] = useState<unknown>(null);
  const browseId = Number(params.get("browse")) || null;
  const browsing = registries.data?.find((r) => r.id === browseId) ?? null;

  const test = async (registry: Registry) => {
    setResults((old) => ({ ...old, [registry.id]: "testing" }));
    try {
      const result = await request<TestResult>("POST", `/api/v1/registries/${registry.id}/test/`);
      setResults((old) => ({ ...old, [registry.id]: result }));
    } catch (e) {
      setResults((old) => ({ ...old, [registry.id]: { ok: false, status: null, detail: errorMessage(e) } }));
    }
  };
  const remove = useMutation({
    mutationFn: (registry: Registry) => call(api.DELETE("/api/v1/registries/{id}/", { params: { path: { id: registry.id } } })),
    onSuccess: (_, registry) => {
      setError(null);
      if (browseId === registry.id) browse(null);
      void client.invalidateQueries({ queryKey: ["registries"] });
    },
    onError: setError,
  });
  const browse = (id: number | null) =>
    setParams((p) => {
      p.delete("repo");
      p.delete("q");
      if (id === null) p.delete("browse");
      else p.set("browse", String(id));
      return p;
    });

  return (
    <>
      <PageTitle title="Registries">
        <button type="button" onClick={() => void registries.refetch()} disabled={registries.isFetching}>
          {registries.isFetching ? "Reloading…" : "Reload"}
        </button>
        {access.isAdmin ? (
          <Link className="button primary" to="/registries/new">
            Add registry
          </Link>
        ) : null}
      </PageTitle>
      {!access.isAdmin ? (
        <Notice>{MANAGE_REASON} You can test and browse the registries open to you or your teams.</Notice>
      ) : null}
      <ErrorNote error={registries.error ?? error} />
      <table className="table">
        <caption className="sr-only">Registries</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Images named</th>
            <th scope="col">API URL</th>
            <th scope="col">Credentials</th>
            <th scope="col">TLS</th>
            <th scope="col">Teams</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {registries.isPending ? (
            <tr>
              <td colSpan={7} className="loading">
                Loading…
              </td>
            </tr>
          ) : null}
          {registries.data && registries.data.length === 0 ? (
            <tr>
              <td colSpan={7} className="empty">
                No registries are known{access.isAdmin ? "" : " to you"}.{" "}
                {access.isAdmin ? <Link to="/registries/new">Add the first one.</Link> : "Ask an administrator to add one."}
              </td>
            </tr>
          ) : null}
          {registries.data?.map((registry) => {
            const result = results[registry.id];
            return (
              <RegistryRow
                key={registry.id}
                registry={registry}
                result={result}
                admin={access.isAdmin}
                browsing={browseId === registry.id}
                onTest={() => void test(registry)}
                onBrowse={() => browse(browseId === registry.id ? null : registry.id)}
                onRemove={() => remove.mutate(registry)}
              />
            );
          })}
        </tbody>
      </table>
      {browsing ? <BrowsePanel registry={browsing} /> : null}
    </>
  );
}

function RegistryRow({
  registry,
  result,
  admin,
  browsing,
  onTest,
  onBrowse,
  onRemove,
}: {
  registry: Registry;
  result: TestResult | "testing" | undefined;
  admin: boolean;
  browsing: boolean;
  onTest: () => void;
  onBrowse: () => void;
  onRemove: () => void;
}) {
  const teams = registry.teams ?? [];
  return (
    <>
      <tr aria-label={registry.name} className={browsing ? "selected" : undefined}>
        <th scope="row">{registry.name}</th>
        <td className="mono">{registry.address}</td>
        <td className="mono">{registry.url}</td>
        <td>
          {registry.username ? (
            <>
              user <span className="mono">{registry.username}</span>
            </>
          ) : (
            <span className="muted">no user</span>
          )}
          {" · "}
          <span aria-label="Password">password {registry.has_password ? "set" : "not set"}</span>
        </td>
        <td>
          {registry.url.startsWith("http://") ? (
            <span className="muted">none (http)</span>
          ) : registry.tls_verify === false ? (
            <span title="The registry's certificate is not verified">not verified</span>
          ) : registry.tls_ca ? (
            "verified (own CA)"
          ) : (
            "verified"
          )}
        </td>
        <td>{teams.length ? teams.join(", ") : <span className="muted">everyone</span>}</td>
        <td className="row-actions">
          <button type="button" onClick={onTest} disabled={result === "testing"}>
            {result === "testing" ? "Testing…" : "Test connection"}
          </button>
          <button type="button" onClick={onBrowse} aria-expanded={browsing}>
            {browsing ? "Close" : "Browse"}
          </button>
          {admin ? (
            <Link className="button" to={`/registries/${registry.id}/edit`}>
              Edit
            </Link>
          ) : null}
          {admin ? <ConfirmButton label="Remove" question={`Remove ${registry.name} from dockerweb? (Its images stay in the registry.)`} onConfirm={onRemove} /> : null}
        </td>
      </tr>
      {result && result !== "testing" ? (
        <tr>
          <td colSpan={7}>
            <div className={result.ok ? "notice" : "error-note"} role="status" aria-label={`Connection test of ${registry.name}`}>
              <strong>{result.ok ? "Connected: " : "Connection failed: "}</strong>
              {result.detail}
              {!result.ok && result.status === 401 ? " (check the username and password)" : ""}
            </div>
          </td>
        </tr>
      ) : null}
    </>
  );
}

function BrowsePanel({ registry }: { registry: Registry }) {
  const access = useAccess();
  const [params, setParams] = useSearchParams();
  const repository = params.get("repo") ?? "";
  const searched = params.get("q") ?? "";
  const [term, setTerm] = useState(searched);
  useEffect(() => setTerm(searched), [searched]);
  const canPull = access.me.hosts.some((h) => access.can(h.id, "operator"));
  const setParam = (key: string, value: string) =>
    setParams((p) => {
      if (value) p.set(key, value);
      else p.delete(key);
      return p;
    });
  const catalog = useInfiniteQuery({
    queryKey: ["registry-browse", registry.id, "catalog"],
    initialPageParam: `/api/v1/registries/${registry.id}/catalog/?n=100`,
    queryFn: ({ pageParam }) => request<BrowsePage>("GET", pageParam),
    getNextPageParam: (last) => (last.next ? samePath(last.next) : undefined),
    retry: false,
  });
  const search = useQuery({
    queryKey: ["registry-browse", registry.id, "search", searched],
    enabled: searched !== "",
    retry: false,
    queryFn: () => request<SearchHit[]>("GET", `/api/v1/registries/${registry.id}/search/?${new URLSearchParams({ q: searched, limit: "100" })}`),
  });
  const repositories = searched
    ? (search.data ?? []).map((hit) => (hit.name.startsWith(`${registry.address}/`) ? hit.name.slice(registry.address.length + 1) : hit.name))
    : (catalog.data?.pages.flatMap((p) => p.repositories ?? []) ?? []);
  const listError = searched ? search.error : catalog.error;
  const loading = searched ? search.isFetching : catalog.isPending;

  return (
    <section className="card" aria-label={`Browse ${registry.name}`}>
      <h2>
        Repositories in {registry.name} <span className="muted mono small">{registry.address}</span>
      </h2>
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setParam("q", term.trim());
        }}
      >
        <label className="inline grow">
          Search repositories <input type="search" value={term} onChange={(e) => setTerm(e.target.value)} placeholder="part of a name" />
        </label>
        <button type="submit">Search</button>
        {searched ? (
          <button type="button" onClick={() => setParam("q", "")}>
            Show all
          </button>
        ) : null}
      </form>
      <ErrorNote error={listError} />
      <div className="overview">
        <div>
          <h3 className="small muted">{searched ? `Repositories matching “${searched}”` : "All repositories"}</h3>
          {loading ? <p className="loading">Loading…</p> : null}
          {!loading && !listError && repositories.length === 0 ? <p className="empty">{searched ? "No repository matches." : "The registry has no repositories."}</p> : null}
          <ul aria-label="Repositories">
            {repositories.map((name) => (
              <li key={name}>
                <button type="button" className="link mono" aria-current={name === repository ? "true" : undefined} onClick={() => setParam("repo", name)}>
                  {name === repository ? <strong>{name}</strong> : name}
                </button>
              </li>
            ))}
          </ul>
          {!searched && catalog.hasNextPage ? (
            <button type="button" onClick={() => void catalog.fetchNextPage()} disabled={catalog.isFetchingNextPage}>
              {catalog.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          ) : null}
        </div>
        {repository ? <TagsList registry={registry} repository={repository} canPull={canPull} /> : null}
      </div>
    </section>
  );
}

function TagsList({ registry, repository, canPull }: { registry: Registry; repository: string; canPull: boolean }) {
  const tags = useInfiniteQuery({
    queryKey: ["registry-browse", registry.id, "tags", repository],
    initialPageParam: `/api/v1/registries/${registry.id}/tags/?${new URLSearchParams({ repository, n: "100" })}`,
    queryFn: ({ pageParam }) => request<BrowsePage>("GET", pageParam),
    getNextPageParam: (last) => (last.next ? samePath(last.next) : undefined),
    retry: false,
  });
  const list = tags.data?.pages.flatMap((p) => p.tags ?? []) ?? [];
  const image = `${registry.address}/${repository}`;
  return (
    <div>
      <h3 className="small muted">
        Tags of <span className="mono">{repository}</span>
      </h3>
      <ErrorNote error={tags.error} />
      {tags.isPending ? <p className="loading">Loading…</p> : null}
      {tags.data && list.length === 0 ? <p className="empty">No tags.</p> : null}
      {list.length ? (
        <table className="table compact" aria-label={`Tags of ${repository}`}>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col">Image</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((tag) => (
              <tr key={tag}>
                <th scope="row" className="mono">
                  {tag}
                </th>
                <td className="mono small">
                  {image}:{tag}
                </td>
                <td className="row-actions">
                  {canPull ? (
                    <Link className="button" to={`/images?pull=${encodeURIComponent(`${image}:${tag}`)}`} aria-label={`Pull ${image}:${tag}`}>
                      Pull…
                    </Link>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {tags.hasNextPage ? (
        <button type="button" onClick={() => void tags.fetchNextPage()} disabled={tags.isFetchingNextPage}>
          {tags.isFetchingNextPage ? "Loading…" : "Load more tags"}
        </button>
      ) : null}
    </div>
  );
}

const FIELDS = ["name", "url", "server", "username", "password", "tls_verify", "tls_ca", "teams"];

/** Add a registry (`/registries/new`) or edit one (`/registries/:registryId/edit`); administrators only. */
export function RegistryFormPage() {
  const { registryId } = useParams();
  const editing = registryId !== undefined;
  const access = useAccess();
  const navigate = useNavigate();
  const client = useQueryClient();
  const existing = useQuery({
    queryKey: ["registries", "one", registryId],
    enabled: editing && access.isAdmin,
    queryFn: () => call(api.GET("/api/v1/registries/{id}/", { params: { path: { id: Number(registryId) } } })),
  });
  const teams = useQuery({
    queryKey: ["teams"],
    enabled: access.isAdmin,
    queryFn: async () => (await call(api.GET("/api/v1/teams/", { params: { query: { limit: 1000 } } }))).results,
  });
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [server, setServer] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [clearPassword, setClearPassword] = useState(false);
  const [tlsVerify, setTlsVerify] = useState(true);
  const [tlsCa, setTlsCa] = useState("");
  const [chosenTeams, setChosenTeams] = useState<string[]>([]);
  const [errors, setErrors] = useState<FormErrors>({ fields: {}, form: null });
  const [busy, setBusy] = useState(false);
  const registry = existing.data;

  useEffect(() => {
    if (!registry) return;
    setName(registry.name);
    setUrl(registry.url);
    setServer(registry.server ?? "");
    setUsername(registry.username ?? "");
    setTlsVerify(registry.tls_verify ?? true);
    setTlsCa(registry.tls_ca ?? "");
    setChosenTeams(registry.teams ?? []);
  }, [registry]);

  const title = editing ? `Edit registry ${registry?.name ?? ""}` : "Add registry";
  if (!access.isAdmin) {
    return (
      <>
        <PageTitle title={title} />
        <Notice>
          {MANAGE_REASON} <Link to="/registries">Back to the registries</Link>
        </Notice>
      </>
    );
  }
  if (editing && existing.isPending) return <p className="loading">Loading…</p>;
  if (editing && existing.error) return <ErrorNote error={existing.error} />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setErrors({ fields: {}, form: null });
    const body: Schemas["RegistryRequest"] = {
      name: name.trim(),
      url: url.trim(),
      server: server.trim(),
      username: username.trim(),
      tls_verify: tlsVerify,
      tls_ca: tlsCa,
      teams: chosenTeams,
    };
    // Write-only: sent only when typed (or to remove the stored one); never read back.
    if (password) body.password = password;
    else if (editing && clearPassword) body.password = "";
    try {
      if (editing) {
        await call(api.PATCH("/api/v1/registries/{id}/", { params: { path: { id: Number(registryId) } }, body }));
      } else {
        await call(api.POST("/api/v1/registries/", { body }));
      }
      await client.invalidateQueries({ queryKey: ["registries"] });
      navigate("/registries");
    } catch (error) {
      setErrors(formErrors(error, FIELDS));
    } finally {
      setBusy(false);
    }
  }

  async function readCa(file: File | undefined) {
    if (file) setTlsCa(await file.text());
  }

  const e = errors.fields;
  const passwordHint = editing
    ? registry?.has_password
      ? "A password is set. Leave this empty to keep it."
      : "No password is set."
    : "Password or access token; stored encrypted and never shown again.";
  return (
    <>
      <PageTitle title={title} />
      <form className="card form" onSubmit={(ev) => void submit(ev)} noValidate aria-label={title}>
        <ErrorNote error={errors.form} />
        <Field label="Name" error={e.name} hint="How people pick it, e.g. team-registry.">
          {(p) => <input {...p} value={name} onChange={(ev) => setName(ev.target.value)} required />}
        </Field>
        <Field label="API URL" error={e.url} hint="The base URL dockerweb calls (it adds /v2/), e.g. https://registry.example.com">
          {(p) => <input {...p} className="mono" value={url} onChange={(ev) => setUrl(ev.target.value)} required />}
        </Field>
        <Field label="Registry in image names" error={e.server} hint="host[:port] as image names carry it, e.g. localhost:5000; default: the URL's host.">
          {(p) => <input {...p} className="mono" value={server} onChange={(ev) => setServer(ev.target.value)} />}
        </Field>
        <fieldset>
          <legend>Credentials</legend>
          <Field label="Username" error={e.username} hint="Empty for anonymous access.">
            {(p) => <input {...p} value={username} onChange={(ev) => setUsername(ev.target.value)} autoComplete="off" />}
          </Field>
          <Field label="Password" error={e.password} hint={passwordHint}>
            {(p) => (
              <input
                {...p}
                type="password"
                value={password}
                onChange={(ev) => {
                  setPassword(ev.target.value);
                  if (ev.target.value) setClearPassword(false);
                }}
                autoComplete="new-password"
              />
            )}
          </Field>
          {editing && registry?.has_password ? (
            <CheckField label="Remove the stored password" checked={clearPassword} onChange={setClearPassword} disabled={password !== ""} />
          ) : null}
        </fieldset>
        <fieldset>
          <legend>TLS</legend>
          <CheckField label="Verify the registry's certificate" checked={tlsVerify} onChange={setTlsVerify} error={e.tls_verify} />
          <Field label="CA certificate (PEM)" error={e.tls_ca} hint="For a registry whose certificate a private CA signed.">
            {(p) => <textarea {...p} className="mono" rows={3} value={tlsCa} onChange={(ev) => setTlsCa(ev.target.value)} placeholder="-----BEGIN CERTIFICATE-----" />}
          </Field>
          <label className="inline small">
            or read it from a file <input type="file" accept=".pem,.crt,.cer,text/plain" onChange={(ev) => void readCa(ev.target.files?.[0])} />
          </label>
        </fieldset>
        <fieldset aria-describedby="registry-teams-hint">
          <legend>Teams that may use it</legend>
          <small id="registry-teams-hint" className="hint muted">
            None chosen: everyone may pull and push with its credentials.
          </small>
          {teams.error ? <ErrorNote error={teams.error} /> : null}
          {teams.data?.length === 0 ? <p className="muted small">There are no teams yet.</p> : null}
          <div className="field-row">
            {teams.data?.map((team) => (
              <CheckField
                key={team.id}
                label={team.name}
                checked={chosenTeams.includes(team.name)}
                onChange={(checked) => setChosenTeams((old) => (checked ? [...old, team.name] : old.filter((t) => t !== team.name)))}
              />
            ))}
          </div>
          {e.teams ? <p className="field-error">{e.teams}</p> : null}
        </fieldset>
        {editing && registry ? (
          <p className="muted small">
            Added by {registry.created_by || "–"} {relativeTime(registry.created_at)}; changed {relativeTime(registry.updated_at)}.
          </p>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Saving…" : editing ? "Save" : "Add registry"}
          </button>
          <Link to="/registries">Cancel</Link>
        </div>
      </form>
    </>
  );
}

/** Images per host: list, pull (with a registry/repository/tag picker) and build (a pasted Dockerfile, an
 * uploaded context or a git URL the engine fetches) as jobs whose progress shows in the jobs panel, push,
 * tag, history, export, load (`docker load` of an uploaded tar), remove, prune. Until the server has the
 * images API this page says so. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, call, csrfHeaders, request } from "../api/client";
import { ApiError, type FormErrors, errorMessage, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote, Notice } from "../components/ErrorNote";
import { CheckField, Field } from "../components/Field";
import { PageTitle } from "../components/Layout";
import { formatBytes, formatTime, parsePairs, shortId } from "../lib/format";
import { HostSelect, useHostParam, useHosts } from "../lib/hosts";
import { type Job, describeJob, useJobFinished, useJobs } from "../lib/jobs";

interface Image {
  id: string;
  short_id: string;
  repo_tags: string[];
  size: number;
  created: string | null;
  dangling: boolean;
  containers: { id?: string; name?: string }[];
  containers_hidden: number;
}

interface Registry {
  id: number;
  name: string;
  address: string;
}

interface HistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

type RowForm = { image: string; kind: "tag" | "push" } | null;

const NO_ERRORS: FormErrors = { fields: {}, form: null };
// The pull and build cards share a grid row: their fields stay at the top instead of spreading out.
const TOP = { alignContent: "start" } as const;

/** "localhost:5000/team/web:1" → ["localhost:5000/team/web", "1"]; no tag: "latest". */
export function splitRef(ref: string): [string, string] {
  const colon = ref.lastIndexOf(":");
  return colon > ref.lastIndexOf("/") ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "latest"];
}

/** The repository path without a registry part: "localhost:5000/team/web" → "team/web". */
export function repositoryPath(repository: string): string {
  const [first, ...rest] = repository.split("/");
  const isRegistry = rest.length > 0 && first !== undefined && (first.includes(".") || first.includes(":") || first === "localhost");
  return isRegistry ? rest.join("/") : repository;
}

export function ImagesPage() {
  const access = useAccess();
  const hosts = useHosts();
  const [host, setHost] = useHostParam(hosts.data);
  const [params] = useSearchParams();
  const client = useQueryClient();
  const [filter, setFilter] = useState("");
  const [history, setHistory] = useState<{ ref: string; entries: HistoryEntry[] } | null>(null);
  const [rowForm, setRowForm] = useState<RowForm>(null);
  const [error, setError] = useState<unknown>(null);
  const [forceable, setForceable] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const hostId = host?.id ?? 0;
  const base = `/api/v1/hosts/${hostId}/images/`;
  const images = useQuery({
    queryKey: ["images", hostId],
    enabled: host !== undefined,
    queryFn: async () => {
      const answer = await request<unknown>("GET", base);
      return (Array.isArray(answer) ? answer : ((answer as { results?: Image[] }).results ?? [])) as Image[];
    },
  });
  const refresh = useCallback(() => void client.invalidateQueries({ queryKey: ["images", hostId] }), [client, hostId]);
  // A pull, build, push or commit on this host that finishes changes the list.
  useJobFinished((job) => {
    if (job.host === hostId && job.status === "succeeded") refresh();
  });
  const remove = useMutation({
    mutationFn: ({ ref, force }: { ref: string; force: boolean }) =>
      request<{ removed: unknown[] }>("DELETE", `${base}${encodeURIComponent(ref)}/${force ? "?force=true" : ""}`),
    onSuccess: (r, { ref }) => {
      setError(null);
      setForceable(null);
      setNotice(`Removed ${ref} (${(r?.removed ?? []).length} untagged or deleted).`);
      refresh();
    },
    onError: (e, { ref, force }) => {
      setError(e);
      setNotice(null);
      // Refused because containers use it, or it has several tags: the user may force it.
      setForceable(!force && e instanceof ApiError && e.status === 409 ? ref : null);
    },
  });
  const prune = useMutation({
    mutationFn: (dangling: boolean) => request<{ ImagesDeleted?: unknown[] | null; SpaceReclaimed?: number }>("POST", `${base}prune/`, { dangling }),
    onSuccess: (r, dangling) => {
      setError(null);
      setNotice(`Removed ${(r.ImagesDeleted ?? []).length} ${dangling ? "dangling" : "unused"} images, ${formatBytes(r.SpaceReclaimed ?? 0)} reclaimed.`);
      refresh();
    },
    onError: setError,
  });
  const showHistory = async (image: Image) => {
    const ref = image.repo_tags[0] ?? image.id;
    try {
      setHistory({ ref, entries: await request<HistoryEntry[]>("GET", `${base}${encodeURIComponent(image.id)}/history/`) });
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  const hostPicker = hosts.data ? <HostSelect hosts={hosts.data} value={host?.id} onChange={setHost} /> : null;
  const role = host ? access.roleOn(host.id) : null;
  const operator = host ? access.can(host.id, "operator") : false;
  const admin = host ? access.can(host.id, "admin") : false;
  const needle = filter.trim().toLowerCase();
  const shown = (images.data ?? []).filter((i) => !needle || [...i.repo_tags, i.short_id, i.id].some((t) => t.toLowerCase().includes(needle)));

  return (
    <>
      <PageTitle title="Images">
        {hostPicker}
        <button type="button" onClick={refresh} disabled={images.isFetching}>
          {images.isFetching ? "Reloading…" : "Refresh"}
        </button>
        {operator ? (
          <button type="button" aria-expanded={loading} onClick={() => setLoading(!loading)}>
            Load images…
          </button>
        ) : null}
        {admin ? (
          <>
            <ConfirmButton label="Prune dangling" question="Remove every untagged image of this host?" onConfirm={() => prune.mutate(true)} disabled={prune.isPending} />
            <ConfirmButton
              label="Prune unused"
              question="Remove every image of this host that no container uses (tagged ones too)?"
              onConfirm={() => prune.mutate(false)}
              disabled={prune.isPending}
            />
          </>
        ) : null}
      </PageTitle>
      {host && !operator ? (
        <Notice>
          Your role on {host.name} is {role ?? "none"}: you can look at its images, but pulling, building, loading, pushing, tagging and removing need the
          operator role.
        </Notice>
      ) : null}
      {host && operator && !admin ? <p className="muted small">Pruning images needs the admin role on {host.name}.</p> : null}
      <ErrorNote error={hosts.error ?? images.error ?? error} />
      {forceable ? (
        <div className="actions">
          <ConfirmButton
            label={`Force remove ${forceable}`}
            question={`Remove ${forceable} anyway? Containers using it keep running but lose its name.`}
            confirmLabel="Yes, force remove"
            onConfirm={() => remove.mutate({ ref: forceable, force: true })}
          />
        </div>
      ) : null}
      {notice ? <Notice>{notice}</Notice> : null}
      {operator && host && loading ? <LoadForm key={`load-${host.id}`} hostId={host.id} onLoaded={refresh} onClose={() => setLoading(false)} /> : null}
      {operator && host ? (
        <div className="create-row">
          <PullForm key={`pull-${host.id}`} hostId={host.id} initialImage={params.get("pull") ?? ""} />
          <BuildForm key={`build-${host.id}`} hostId={host.id} />
        </div>
      ) : null}
      <div className="toolbar" role="search">
        <label className="inline grow">
          Search <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="tag or id" />
        </label>
        <span className="muted small">{images.data ? `${shown.length} of ${images.data.length} images` : ""}</span>
      </div>
      <table className="table">
        <caption className="sr-only">Images of {host?.name}</caption>
        <thead>
          <tr>
            <th scope="col">Tags</th>
            <th scope="col">ID</th>
            <th scope="col">Size</th>
            <th scope="col">Created</th>
            <th scope="col">Used by</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {images.isPending && host ? (
            <tr>
              <td colSpan={6} className="loading">
                Loading…
              </td>
            </tr>
          ) : null}
          {images.data && shown.length === 0 ? (
            <tr>
              <td colSpan={6} className="empty">
                {images.data.length ? "No images match." : "No images."}
              </td>
            </tr>
          ) : null}
          {shown.map((image) => {
            const ref = image.repo_tags[0] ?? image.id;
            const open = rowForm?.image === image.id ? rowForm.kind : null;
            return (
              <ImageRows
                key={image.id}
                image={image}
                hostId={hostId}
                operator={operator}
                open={open}
                onOpen={(kind) => setRowForm(kind ? { image: image.id, kind } : null)}
                onHistory={() => void showHistory(image)}
                onRemove={() => remove.mutate({ ref: image.repo_tags.length === 1 ? ref : image.id, force: false })}
                onTagged={() => {
                  setRowForm(null);
                  refresh();
                }}
              />
            );
          })}
        </tbody>
      </table>
      {history ? <HistoryPanel reference={history.ref} entries={history.entries} onClose={() => setHistory(null)} /> : null}
    </>
  );
}

function ImageRows({
  image,
  hostId,
  operator,
  open,
  onOpen,
  onHistory,
  onRemove,
  onTagged,
}: {
  image: Image;
  hostId: number;
  operator: boolean;
  open: "tag" | "push" | null;
  onOpen: (kind: "tag" | "push" | null) => void;
  onHistory: () => void;
  onRemove: () => void;
  onTagged: () => void;
}) {
  const ref = image.repo_tags[0] ?? image.id;
  const label = image.repo_tags.length ? image.repo_tags.join(", ") : image.short_id;
  const users = image.containers.length + image.containers_hidden;
  const base = `/api/v1/hosts/${hostId}/images/`;
  return (
    <>
      <tr aria-label={label}>
        <th scope="row" className="mono">
          {image.repo_tags.length ? image.repo_tags.join(", ") : <span className="muted">&lt;none&gt;</span>}
        </th>
        <td className="mono">{image.short_id}</td>
        <td>{formatBytes(image.size)}</td>
        <td>{formatTime(image.created)}</td>
        <td>
          {image.containers.map((c) => c.name).filter(Boolean).join(", ") || (image.containers_hidden ? "" : <span className="muted">unused</span>)}
          {image.containers_hidden ? ` +${image.containers_hidden} not visible to you` : ""}
        </td>
        <td className="row-actions">
          {operator && image.repo_tags.length ? (
            <Link className="button" to={`/containers/run?host=${hostId}&image=${encodeURIComponent(ref)}`}>
              Run
            </Link>
          ) : null}
          <button type="button" onClick={onHistory}>
            History
          </button>
          <a className="button" href={`${base}${encodeURIComponent(image.repo_tags.length ? ref : image.id)}/export/`} download>
            Export
          </a>
          {operator ? (
            <button type="button" aria-expanded={open === "tag"} onClick={() => onOpen(open === "tag" ? null : "tag")}>
              Tag
            </button>
          ) : null}
          {operator ? (
            <button type="button" aria-expanded={open === "push"} onClick={() => onOpen(open === "push" ? null : "push")}>
              Push
            </button>
          ) : null}
          {operator ? (
            <ConfirmButton
              label="Remove"
              question={`Remove ${image.repo_tags.length === 1 ? ref : `image ${image.short_id}`}${users ? ` (used by ${users} container${users === 1 ? "" : "s"})` : ""}?`}
              onConfirm={onRemove}
            />
          ) : null}
        </td>
      </tr>
      {open ? (
        <tr className="selected">
          <td colSpan={6}>
            {open === "tag" ? (
              <TagForm hostId={hostId} image={image} onDone={onTagged} onCancel={() => onOpen(null)} />
            ) : (
              <PushForm hostId={hostId} image={image} onCancel={() => onOpen(null)} />
            )}
          </td>
        </tr>
      ) : null}
    </>
  );
}

function HistoryPanel({ reference, entries, onClose }: { reference: string; entries: HistoryEntry[]; onClose: () => void }) {
  return (
    <section className="card json-panel" aria-label={`History of ${reference}`}>
      <header>
        <h2>History of {reference}</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <table className="table compact">
        <thead>
          <tr>
            <th scope="col">Layer</th>
            <th scope="col">Created</th>
            <th scope="col">Created by</th>
            <th scope="col">Size</th>
            <th scope="col">Comment</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry, i) => (
            <tr key={`${entry.Id}-${i}`}>
              <td className="mono">{entry.Id && entry.Id !== "<missing>" ? shortId(entry.Id) : <span className="muted">–</span>}</td>
              <td>{formatTime(entry.Created)}</td>
              <td className="mono small" style={{ overflowWrap: "anywhere" }}>
                {entry.CreatedBy.replace(/^\/bin\/sh -c #\(nop\)\s*/, "")}
              </td>
              <td>{formatBytes(entry.Size)}</td>
              <td className="small">{entry.Comment}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function useRegistries() {
  return useQuery({
    queryKey: ["registries"],
    queryFn: async () => {
      try {
        return (await call(api.GET("/api/v1/registries/", { params: { query: { limit: 1000 } } }))).results as Registry[];
      } catch {
        return [] as Registry[];
      }
    },
  });
}

/** One page of a registry's repositories or tags (the registries browse API). */
interface BrowsePage {
  repositories?: string[];
  tags?: string[];
  next: string | null;
}

function useCatalog(registryId: number | null) {
  return useQuery({
    queryKey: ["registry-catalog", registryId],
    enabled: registryId !== null,
    staleTime: 30_000,
    queryFn: () => request<BrowsePage>("GET", `/api/v1/registries/${registryId}/catalog/?n=1000`),
  });
}

function useTags(registryId: number | null, repository: string) {
  return useQuery({
    queryKey: ["registry-tags", registryId, repository],
    enabled: registryId !== null && repository !== "",
    staleTime: 30_000,
    retry: false,
    queryFn: () => request<BrowsePage>("GET", `/api/v1/registries/${registryId}/tags/?${new URLSearchParams({ repository, n: "1000" })}`),
  });
}

function PullForm({ hostId, initialImage }: { hostId: number; initialImage: string }) {
  const { upsert } = useJobs();
  const registries = useRegistries();
  const [image, setImage] = useState(initialImage);
  const [registryId, setRegistryId] = useState<number | null>(null);
  const [repository, setRepository] = useState("");
  const [tag, setTag] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [started, setStarted] = useState<Job | null>(null);
  const [busy, setBusy] = useState(false);
  const registry = registries.data?.find((r) => r.id === registryId) ?? null;
  const catalog = useCatalog(registryId);
  const repositories = catalog.data?.repositories ?? [];
  const known = repositories.includes(repository);
  const tags = useTags(registryId, known ? repository : "");
  useEffect(() => setImage(initialImage), [initialImage]);

  const compose = (repo: string, t: string) => {
    if (registry && repo) setImage(`${registry.address}/${repo}${t ? `:${t}` : ""}`);
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const job = await request<Job>("POST", `/api/v1/hosts/${hostId}/images/pull/`, { image: image.trim(), ...(registry ? { registry: registry.id } : {}) });
      upsert(job);
      setStarted(job);
      setErrors(NO_ERRORS);
    } catch (error) {
      setStarted(null);
      setErrors(formErrors(error, ["image", "registry"]));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card form" style={TOP} onSubmit={(e) => void submit(e)} aria-label="Pull an image" noValidate>
      <h2>Pull</h2>
      <ErrorNote error={errors.form} />
      {registries.data?.length ? (
        <fieldset>
          <legend>Pick from a registry</legend>
          <Field label="Registry" error={errors.fields.registry} hint="Its stored credentials are used for the pull.">
            {(p) => (
              <select
                {...p}
                value={registryId ?? ""}
                onChange={(e) => {
                  setRegistryId(e.target.value ? Number(e.target.value) : null);
                  setRepository("");
                  setTag("");
                }}
              >
                <option value="">none: type the full name below</option>
                {registries.data?.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name} ({r.address})
                  </option>
                ))}
              </select>
            )}
          </Field>
          {registry ? (
            <div className="field-row">
              <Field
                label="Repository"
                error={catalog.error ? errorMessage(catalog.error) : null}
                hint={catalog.isFetching ? "Loading the catalog…" : `${repositories.length} repositories${catalog.data?.next ? " (first 1000)" : ""}`}
              >
                {(p) => (
                  <>
                    <input
                      {...p}
                      className="mono"
                      list={`pull-repos-${hostId}`}
                      value={repository}
                      onChange={(e) => {
                        setRepository(e.target.value);
                        setTag("");
                        compose(e.target.value, "");
                      }}
                      placeholder="team/app"
                    />
                    <datalist id={`pull-repos-${hostId}`}>
                      {repositories.map((r) => (
                        <option key={r} value={r} />
                      ))}
                    </datalist>
                  </>
                )}
              </Field>
              <Field label="Tag" error={tags.error ? errorMessage(tags.error) : null} hint={tags.isFetching ? "Loading tags…" : undefined}>
                {(p) => (
                  <select
                    {...p}
                    value={tag}
                    disabled={!known}
                    onChange={(e) => {
                      setTag(e.target.value);
                      compose(repository, e.target.value);
                    }}
                  >
                    <option value="">{known ? "choose a tag (default: latest)" : "choose a repository first"}</option>
                    {(tags.data?.tags ?? []).map((t) => (
                      <option key={t} value={t}>
                        {t}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </div>
          ) : null}
        </fieldset>
      ) : null}
      <Field label="Image to pull" error={errors.fields.image} hint="repository[:tag], e.g. localhost:5000/team/app:1">
        {(p) => <input {...p} className="mono" value={image} onChange={(e) => setImage(e.target.value)} required />}
      </Field>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || !image.trim()}>
          {busy ? "Starting…" : "Pull"}
        </button>
        {started ? (
          <span className="muted small" role="status">
            Started {describeJob(started)}: progress in the jobs panel.
          </span>
        ) : null}
      </div>
    </form>
  );
}

/** A POST of a multipart form or a raw file with upload progress (fetch has none); the answer or an
 * ApiError like `request`. */
function upload<T>(url: string, body: FormData | Blob, onProgress: (fraction: number) => void, contentType?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    if (contentType) xhr.setRequestHeader("Content-Type", contentType);
    for (const [key, value] of Object.entries(csrfHeaders("POST"))) xhr.setRequestHeader(key, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = xhr.responseText;
      if ((xhr.getResponseHeader("content-type") ?? "").includes("json") && xhr.responseText) {
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = xhr.responseText;
        }
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else reject(ApiError.fromBody(xhr.status, xhr.statusText, body));
    };
    xhr.onerror = () => reject(new ApiError(0, "The server could not be reached (or the upload was refused)."));
    xhr.send(body);
  });
}

const BUILD_FIELDS = ["dockerfile_text", "context", "files", "git_url", "dockerfile", "tags", "buildargs", "labels", "target", "nocache", "pull", "push"];

type BuildMode = "dockerfile" | "upload" | "git";

/** Where "Give exactly one of context, dockerfile_text or git_url" (named `context`) shows in each mode. */
const CONTEXT_FIELD: Record<BuildMode, string> = { dockerfile: "dockerfile_text", upload: "context", git: "git_url" };

function BuildForm({ hostId }: { hostId: number }) {
  const { upsert } = useJobs();
  const [mode, setMode] = useState<BuildMode>("dockerfile");
  const [gitUrl, setGitUrl] = useState("");
  const [dockerfile, setDockerfile] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [context, setContext] = useState<File | null>(null);
  const [dockerfilePath, setDockerfilePath] = useState("");
  const [tags, setTags] = useState("");
  const [buildargs, setBuildargs] = useState("");
  const [target, setTarget] = useState("");
  const [nocache, setNocache] = useState(false);
  const [pull, setPull] = useState(false);
  const [push, setPush] = useState(false);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [started, setStarted] = useState<Job | null>(null);
  const [uploading, setUploading] = useState<number | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let args: Record<string, string> = {};
    try {
      args = parsePairs(buildargs, "Build argument line");
    } catch (error) {
      setErrors({ fields: { buildargs: (error as Error).message }, form: null });
      return;
    }
    const tagList = tags.split(/[\s,]+/).filter(Boolean);
    const url = `/api/v1/hosts/${hostId}/images/build/`;
    const options = { nocache, pull, push, ...(target ? { target } : {}), ...(dockerfilePath.trim() && mode !== "dockerfile" ? { dockerfile: dockerfilePath.trim() } : {}) };
    setUploading(0);
    try {
      let job: Job;
      if (mode === "git") {
        job = await request<Job>("POST", url, { git_url: gitUrl.trim(), tags: tagList, buildargs: args, ...options });
      } else if (mode === "dockerfile" && files.length === 0) {
        job = await request<Job>("POST", url, { dockerfile_text: dockerfile, tags: tagList, buildargs: args, ...options });
      } else {
        const form = new FormData();
        if (mode === "dockerfile") {
          form.append("dockerfile_text", dockerfile);
          for (const file of files) form.append("files", file, file.name);
        } else if (context) {
          form.append("context", context, context.name);
        }
        for (const t of tagList) form.append("tags", t);
        if (Object.keys(args).length) form.append("buildargs", JSON.stringify(args));
        for (const [key, value] of Object.entries(options)) form.append(key, String(value));
        job = await upload<Job>(url, form, setUploading);
      }
      upsert(job);
      setStarted(job);
      setErrors(NO_ERRORS);
    } catch (error) {
      setStarted(null);
      const found = formErrors(error, BUILD_FIELDS);
      // "Give exactly one of context, dockerfile_text or git_url" goes to what this form shows.
      const shownField = CONTEXT_FIELD[mode];
      if (found.fields.context && shownField !== "context") {
        found.fields[shownField] = found.fields[shownField] ?? found.fields.context;
        delete found.fields.context;
      }
      setErrors(found);
    } finally {
      setUploading(null);
    }
  };
  const f = errors.fields;
  return (
    <form className="card form" style={TOP} onSubmit={(e) => void submit(e)} aria-label="Build an image" noValidate>
      <h2>Build</h2>
      <ErrorNote error={errors.form} />
      <div className="actions" role="radiogroup" aria-label="Build context">
        <label className="inline">
          <input type="radio" name={`build-mode-${hostId}`} checked={mode === "dockerfile"} onChange={() => setMode("dockerfile")} /> Paste a Dockerfile
        </label>
        <label className="inline">
          <input type="radio" name={`build-mode-${hostId}`} checked={mode === "upload"} onChange={() => setMode("upload")} /> Upload a context
        </label>
        <label className="inline">
          <input type="radio" name={`build-mode-${hostId}`} checked={mode === "git"} onChange={() => setMode("git")} /> Git repository URL
        </label>
      </div>
      {mode === "dockerfile" ? (
        <>
          <Field label="Dockerfile" error={f.dockerfile_text}>
            {(p) => (
              <textarea
                {...p}
                className="mono"
                rows={6}
                value={dockerfile}
                onChange={(e) => setDockerfile(e.target.value)}
                placeholder={"FROM localhost:5000/base:1\nRUN echo hello > /greeting\nCMD [\"cat\", \"/greeting\"]"}
                spellCheck={false}
                required
              />
            )}
          </Field>
          <Field label="Files for the context" error={f.files} hint="Optional: files the Dockerfile COPYs, placed by their names.">
            {(p) => <input {...p} type="file" multiple onChange={(e) => setFiles([...(e.target.files ?? [])])} />}
          </Field>
        </>
      ) : mode === "git" ? (
        <>
          <Field
            label="Repository URL"
            error={f.git_url}
            hint={
              <>
                The engine clones it itself (so the engine, not this server, must reach it). A branch or tag and a folder go after #, e.g.{" "}
                <code>https://git.example.com/team/app.git#main:docker</code>; without one, the engine's default (master on Docker 20.10).
              </>
            }
          >
            {(p) => (
              <input
                {...p}
                className="mono"
                type="url"
                value={gitUrl}
                onChange={(e) => setGitUrl(e.target.value)}
                placeholder="https://git.example.com/team/app.git"
                required
              />
            )}
          </Field>
          <Field label="Dockerfile path in the repository" error={f.dockerfile} hint="Relative to the folder after #; default: Dockerfile">
            {(p) => <input {...p} className="mono" value={dockerfilePath} onChange={(e) => setDockerfilePath(e.target.value)} placeholder="Dockerfile" />}
          </Field>
        </>
      ) : (
        <>
          <Field label="Context archive" error={f.context} hint="A tar, optionally gzip-compressed, with the Dockerfile inside.">
            {(p) => (
              <input {...p} type="file" accept=".tar,.tgz,.tar.gz,.gz,application/x-tar,application/gzip" onChange={(e) => setContext(e.target.files?.[0] ?? null)} required />
            )}
          </Field>
          <Field label="Dockerfile path in the archive" error={f.dockerfile} hint="Default: Dockerfile">
            {(p) => <input {...p} className="mono" value={dockerfilePath} onChange={(e) => setDockerfilePath(e.target.value)} placeholder="Dockerfile" />}
          </Field>
        </>
      )}
      <Field label="Tags" error={f.tags} hint="repository:tag, separated by commas">
        {(p) => <input {...p} className="mono" value={tags} onChange={(e) => setTags(e.target.value)} placeholder="localhost:5000/team/app:1" />}
      </Field>
      <details className="inline-details">
        <summary>More options</summary>
        <div className="form">
          <Field label="Build arguments" error={f.buildargs} hint="One KEY=value per line; values of keys like TOKEN or PASSWORD are kept secret.">
            {(p) => <textarea {...p} className="mono" rows={2} value={buildargs} onChange={(e) => setBuildargs(e.target.value)} />}
          </Field>
          <Field label="Target stage" error={f.target}>
            {(p) => <input {...p} value={target} onChange={(e) => setTarget(e.target.value)} />}
          </Field>
          <CheckField label="Do not use the cache" checked={nocache} onChange={setNocache} error={f.nocache} />
          <CheckField label="Always pull newer FROM images" checked={pull} onChange={setPull} error={f.pull} />
          <CheckField label="Push the tags when the build succeeds" checked={push} onChange={setPush} error={f.push} />
        </div>
      </details>
      <div className="actions">
        <button type="submit" className="primary" disabled={uploading !== null}>
          {uploading !== null ? (uploading > 0 && uploading < 1 ? `Uploading ${Math.round(uploading * 100)}%…` : "Starting…") : "Build"}
        </button>
        {started ? (
          <span className="muted small" role="status">
            Started {describeJob(started)}: output in the jobs panel.
          </span>
        ) : null}
      </div>
    </form>
  );
}

/** What `docker load` reported: "Loaded image: web:1" → "web:1", "Loaded image ID: sha256:…" → the id. */
export function loadedNames(lines: string[]): string[] {
  return lines.map((line) => line.replace(/^Loaded image(?: ID)?:\s*/i, "").trim()).filter(Boolean);
}

/** The content type an archive is sent with: the browser's when it names a gzip, else a tar. */
export function archiveType(file: File): string {
  const type = file.type.toLowerCase();
  if (type === "application/gzip" || type === "application/x-gzip" || /\.(tgz|gz)$/i.test(file.name)) return "application/gzip";
  return "application/x-tar";
}

/** `docker load`: an uploaded `docker save` tar (optionally gzip) streamed to the engine; reports what it loaded. */
function LoadForm({ hostId, onLoaded, onClose }: { hostId: number; onLoaded: () => void; onClose: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState<string[] | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) {
      setError("Choose a tar archive, as docker save or Export writes it.");
      return;
    }
    setProgress(0);
    setLoaded(null);
    try {
      const answer = await upload<{ loaded?: string[] }>(`/api/v1/hosts/${hostId}/images/load/`, file, setProgress, archiveType(file));
      setLoaded(loadedNames(answer?.loaded ?? []));
      setError(null);
      onLoaded();
    } catch (err) {
      setError(errorMessage(err).replace(/^body: /, ""));
    } finally {
      setProgress(null);
    }
  };
  const percent = progress === null ? 0 : Math.round(progress * 100);
  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Load images" noValidate>
      <h2>Load images</h2>
      <Field label="Image archive" error={error} hint="A tar written by docker save (or Export on this page), optionally gzip-compressed; it may hold several images.">
        {(p) => (
          <input
            {...p}
            type="file"
            accept=".tar,.tgz,.tar.gz,.gz,application/x-tar,application/gzip"
            onChange={(e) => {
              setFile(e.target.files?.[0] ?? null);
              setError(null);
              setLoaded(null);
            }}
            required
          />
        )}
      </Field>
      {progress !== null ? (
        <div className="actions">
          <progress max={100} value={percent} aria-label="Upload progress" aria-valuetext={`${percent}%`} />
          <span className="small">{progress < 1 ? `Uploading ${percent}%…` : "The engine is loading the images…"}</span>
        </div>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={progress !== null || !file}>
          {progress !== null ? "Loading…" : "Load"}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {loaded ? (
        <div className="notice" role="status" aria-label="Loaded images">
          {loaded.length ? (
            <>
              The engine loaded {loaded.length === 1 ? "1 image" : `${loaded.length} images`}:
              <ul className="mono">
                {loaded.map((name) => (
                  <li key={name}>{name}</li>
                ))}
              </ul>
            </>
          ) : (
            "The engine loaded the archive but reported no image names."
          )}
        </div>
      ) : null}
    </form>
  );
}

function TagForm({ hostId, image, onDone, onCancel }: { hostId: number; image: Image; onDone: () => void; onCancel: () => void }) {
  const [target, setTarget] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const [repository, tag] = splitRef(target.trim());
    try {
      await request("POST", `/api/v1/hosts/${hostId}/images/${encodeURIComponent(image.id)}/tag/`, { repository, tag });
      onDone();
    } catch (err) {
      setErrors(formErrors(err, ["repository", "tag"]));
    }
  };
  const fieldError = [errors.fields.repository, errors.fields.tag].filter(Boolean).join(" ") || null;
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)} aria-label={`Tag ${image.repo_tags[0] ?? image.short_id}`}>
      <Field label="New tag" error={fieldError} hint="repository[:tag]">
        {(p) => <input {...p} className="mono" value={target} onChange={(e) => setTarget(e.target.value)} placeholder="localhost:5000/team/app:2" required />}
      </Field>
      <button type="submit" className="primary">
        Add tag
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <ErrorNote error={errors.form} />
    </form>
  );
}

function PushForm({ hostId, image, onCancel }: { hostId: number; image: Image; onCancel: () => void }) {
  const { upsert } = useJobs();
  const registries = useRegistries();
  const source = image.repo_tags[0] ?? image.id;
  const [sourceRepo, sourceTag] = image.repo_tags[0] ? splitRef(image.repo_tags[0]) : ["", "latest"];
  const matching = registries.data?.find((r) => sourceRepo.startsWith(`${r.address}/`));
  const [registryId, setRegistryId] = useState<number | null>(null);
  const [repository, setRepository] = useState(repositoryPath(sourceRepo));
  const [tag, setTag] = useState(sourceTag);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [started, setStarted] = useState<Job | null>(null);
  const registry = registries.data?.find((r) => r.id === (registryId ?? matching?.id ?? registries.data?.[0]?.id));
  if (registries.isPending) return <p className="loading">Loading registries…</p>;
  if (!registries.data?.length) {
    return (
      <div className="actions">
        <p className="notice">
          No registry is available to you to push to: an administrator adds one on the <Link to="/registries">Registries</Link> page.
        </p>
        <button type="button" onClick={onCancel}>
          Close
        </button>
      </div>
    );
  }
  const targetRef = registry ? `${registry.address}/${repository.trim()}:${tag.trim() || "latest"}` : "";
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!registry) return;
    try {
      const body = { image: targetRef, registry: registry.id, ...(targetRef !== source ? { source } : {}) };
      const job = await request<Job>("POST", `/api/v1/hosts/${hostId}/images/push/`, body);
      upsert(job);
      setStarted(job);
      setErrors(NO_ERRORS);
    } catch (err) {
      setStarted(null);
      setErrors(formErrors(err, ["image", "registry"]));
    }
  };
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)} aria-label={`Push ${image.repo_tags[0] ?? image.short_id}`}>
      <Field label="Registry" error={errors.fields.registry}>
        {(p) => (
          <select {...p} value={registry?.id ?? ""} onChange={(e) => setRegistryId(Number(e.target.value))}>
            {registries.data?.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} ({r.address})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Repository" error={errors.fields.image}>
        {(p) => <input {...p} className="mono" value={repository} onChange={(e) => setRepository(e.target.value)} placeholder="team/app" required />}
      </Field>
      <Field label="Push tag">
        {(p) => <input {...p} className="mono" value={tag} onChange={(e) => setTag(e.target.value)} placeholder="latest" />}
      </Field>
      <button type="submit" className="primary" disabled={!repository.trim()}>
        Push to {targetRef || "…"}
      </button>
      <button type="button" onClick={onCancel}>
        Close
      </button>
      <ErrorNote error={errors.form} />
      {started ? (
        <span className="muted small" role="status">
          Started {describeJob(started)}: progress in the jobs panel.
        </span>
      ) : null}
    </form>
  );
}

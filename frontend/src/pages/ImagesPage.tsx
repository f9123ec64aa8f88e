/** Images per host: list, pull and build as jobs (progress in the jobs panel), tag, history, remove, prune.
 * Until the server has the images API this page says so. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link } from "react-router";
import { request } from "../api/client";
import { ApiError, type FormErrors, errorMessage, formErrors } from "../api/errors";
import { useAccess } from "../auth/session";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNote, Notice } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { JsonPanel } from "../components/JsonPanel";
import { PageTitle } from "../components/Layout";
import { formatBytes, formatTime } from "../lib/format";
import { HostSelect, useHostParam, useHosts } from "../lib/hosts";
import { type Job, useJobs } from "../lib/jobs";

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

const NO_ERRORS: FormErrors = { fields: {}, form: null };

export function ImagesPage() {
  const access = useAccess();
  const hosts = useHosts();
  const [host, setHost] = useHostParam(hosts.data);
  const client = useQueryClient();
  const [filter, setFilter] = useState("");
  const [panel, setPanel] = useState<{ title: string; value: unknown } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
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
  const refresh = () => void client.invalidateQueries({ queryKey: ["images", hostId] });
  const remove = useMutation({
    mutationFn: ({ ref, force }: { ref: string; force: boolean }) => request("DELETE", `${base}${encodeURIComponent(ref)}/${force ? "?force=true" : ""}`),
    onSuccess: () => {
      setError(null);
      refresh();
    },
    onError: setError,
  });
  const prune = useMutation({
    mutationFn: () => request<{ ImagesDeleted?: unknown[] | null; SpaceReclaimed?: number }>("POST", `${base}prune/`, { dangling: true }),
    onSuccess: (r) => {
      setNotice(`Removed ${(r.ImagesDeleted ?? []).length} dangling images, ${formatBytes(r.SpaceReclaimed ?? 0)} reclaimed.`);
      refresh();
    },
    onError: setError,
  });
  const history = async (image: Image) => {
    try {
      setPanel({ title: `History of ${image.repo_tags[0] ?? image.short_id}`, value: await request("GET", `${base}${encodeURIComponent(image.id)}/history/`) });
    } catch (e) {
      setError(e);
    }
  };

  if (images.error instanceof ApiError && images.error.endpointMissing) {
    return (
      <>
        <PageTitle title="Images">{hosts.data ? <HostSelect hosts={hosts.data} value={host?.id} onChange={setHost} /> : null}</PageTitle>
        <Notice>Images are not available from this server yet: its images API (/api/v1/hosts/…/images/) is not installed.</Notice>
      </>
    );
  }
  const operator = host ? access.can(host.id, "operator") : false;
  const admin = host ? access.can(host.id, "admin") : false;
  const shown = (images.data ?? []).filter((i) => !filter || [...i.repo_tags, i.short_id].some((t) => t.toLowerCase().includes(filter.toLowerCase())));

  return (
    <>
      <PageTitle title="Images">
        {hosts.data ? <HostSelect hosts={hosts.data} value={host?.id} onChange={setHost} /> : null}
        <button type="button" onClick={refresh}>
          Refresh
        </button>
        {admin ? <ConfirmButton label="Prune" question="Remove every dangling image of this host?" onConfirm={() => prune.mutate()} /> : null}
      </PageTitle>
      <ErrorNote error={hosts.error ?? images.error ?? error} />
      {notice ? <Notice>{notice}</Notice> : null}
      {operator && host ? (
        <div className="create-row">
          <PullForm hostId={host.id} />
          <BuildForm hostId={host.id} />
        </div>
      ) : null}
      <div className="toolbar" role="search">
        <label className="inline grow">
          Search <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="tag or id" />
        </label>
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
          {images.data && shown.length === 0 ? (
            <tr>
              <td colSpan={6} className="empty">
                No images.
              </td>
            </tr>
          ) : null}
          {shown.map((image) => {
            const ref = image.repo_tags[0] ?? image.id;
            const users = image.containers.length + image.containers_hidden;
            return (
              <tr key={image.id}>
                <th scope="row" className="mono">
                  {image.repo_tags.length ? image.repo_tags.join(", ") : <span className="muted">&lt;none&gt;</span>}
                </th>
                <td className="mono">{image.short_id}</td>
                <td>{formatBytes(image.size)}</td>
                <td>{formatTime(image.created)}</td>
                <td>
                  {image.containers.map((c) => c.name).filter(Boolean).join(", ") || (image.containers_hidden ? "" : "unused")}
                  {image.containers_hidden ? ` +${image.containers_hidden} not visible to you` : ""}
                </td>
                <td className="row-actions">
                  {operator && image.repo_tags.length ? (
                    <Link className="button" to={`/containers/run?host=${hostId}&image=${encodeURIComponent(ref)}`}>
                      Run
                    </Link>
                  ) : null}
                  <button type="button" onClick={() => void history(image)}>
                    History
                  </button>
                  {operator ? <TagForm hostId={hostId} image={image} onDone={refresh} /> : null}
                  {operator ? (
                    <ConfirmButton
                      label="Remove"
                      question={`Remove ${ref}${users ? ` (used by ${users} container${users === 1 ? "" : "s"}: forced)` : ""}?`}
                      onConfirm={() => remove.mutate({ ref: image.repo_tags.length === 1 ? ref : image.id, force: users > 0 || image.repo_tags.length > 1 })}
                    />
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {panel ? <JsonPanel title={panel.title} value={panel.value} onClose={() => setPanel(null)} /> : null}
    </>
  );
}

function useRegistries() {
  return useQuery({
    queryKey: ["registries"],
    queryFn: async () => {
      try {
        const answer = await request<unknown>("GET", "/api/v1/registries/?limit=1000");
        return (Array.isArray(answer) ? answer : ((answer as { results?: Registry[] }).results ?? [])) as Registry[];
      } catch {
        return [];
      }
    },
  });
}

function PullForm({ hostId }: { hostId: number }) {
  const { upsert } = useJobs();
  const registries = useRegistries();
  const [image, setImage] = useState("");
  const [registry, setRegistry] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [started, setStarted] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const job = await request<Job>("POST", `/api/v1/hosts/${hostId}/images/pull/`, { image: image.trim(), ...(registry ? { registry: Number(registry) } : {}) });
      upsert(job);
      setStarted(`Pulling ${image}: progress in the jobs panel.`);
      setErrors(NO_ERRORS);
    } catch (error) {
      setErrors(formErrors(error, ["image", "registry"]));
    }
  };
  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Pull an image">
      <h2>Pull</h2>
      <ErrorNote error={errors.form} />
      <Field label="Image to pull" error={errors.fields.image} hint="repository[:tag], e.g. localhost:5000/team/app:1">
        {(p) => <input {...p} className="mono" value={image} onChange={(e) => setImage(e.target.value)} required />}
      </Field>
      {registries.data?.length ? (
        <Field label="Registry credentials" error={errors.fields.registry}>
          {(p) => (
            <select {...p} value={registry} onChange={(e) => setRegistry(e.target.value)}>
              <option value="">matching the image (default)</option>
              {registries.data?.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} ({r.address})
                </option>
              ))}
            </select>
          )}
        </Field>
      ) : null}
      <button type="submit" className="primary">
        Pull
      </button>
      {started ? <p className="muted small" role="status">{started}</p> : null}
    </form>
  );
}

function BuildForm({ hostId }: { hostId: number }) {
  const { upsert } = useJobs();
  const [dockerfile, setDockerfile] = useState("FROM busybox\nCMD [\"sh\"]\n");
  const [tags, setTags] = useState("");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [started, setStarted] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const tagList = tags.split(/[\s,]+/).filter(Boolean);
    try {
      const job = await request<Job>("POST", `/api/v1/hosts/${hostId}/images/build/`, { dockerfile_text: dockerfile, tags: tagList });
      upsert(job);
      setStarted("Building: output in the jobs panel.");
      setErrors(NO_ERRORS);
    } catch (error) {
      setErrors(formErrors(error, ["dockerfile_text", "tags"]));
    }
  };
  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Build an image">
      <h2>Build from a Dockerfile</h2>
      <ErrorNote error={errors.form} />
      <Field label="Dockerfile" error={errors.fields.dockerfile_text}>
        {(p) => <textarea {...p} className="mono" rows={5} value={dockerfile} onChange={(e) => setDockerfile(e.target.value)} required />}
      </Field>
      <Field label="Tags" error={errors.fields.tags} hint="repository:tag, separated by commas">
        {(p) => <input {...p} className="mono" value={tags} onChange={(e) => setTags(e.target.value)} />}
      </Field>
      <button type="submit" className="primary">
        Build
      </button>
      {started ? <p className="muted small" role="status">{started}</p> : null}
    </form>
  );
}

function TagForm({ hostId, image, onDone }: { hostId: number; image: Image; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState("");
  const [error, setError] = useState<string | null>(null);
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Tag
      </button>
    );
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const colon = target.lastIndexOf(":");
    const [repository, tag] = colon > target.lastIndexOf("/") ? [target.slice(0, colon), target.slice(colon + 1)] : [target, "latest"];
    try {
      await request("POST", `/api/v1/hosts/${hostId}/images/${encodeURIComponent(image.id)}/tag/`, { repository, tag });
      setOpen(false);
      onDone();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)}>
      <label className="inline">
        New tag <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="repo:tag" required />
      </label>
      <button type="submit">Tag</button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error ? <span className="field-error">{error}</span> : null}
    </form>
  );
}

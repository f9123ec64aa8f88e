/** `docker commit` from the container page: the container's filesystem and settings become an image, as a
 * job (shown in the jobs panel with the new image's id). Server errors appear next to their fields. */
import { type FormEvent, useState } from "react";
import { Link } from "react-router";
import { api, call } from "../../api/client";
import { type FormErrors, formErrors } from "../../api/errors";
import { ErrorNote } from "../../components/ErrorNote";
import { CheckField, Field } from "../../components/Field";
import { shortId } from "../../lib/format";
import { type Job, describeJob, useJobs } from "../../lib/jobs";

const NO_ERRORS: FormErrors = { fields: {}, form: null };
const FIELDS = ["image", "comment", "author", "changes", "pause"];

/** The non-blank lines of the changes box, each one Dockerfile instruction. */
export function changeLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/\r$/, "").trim())
    .filter(Boolean);
}

/** "repository" + "tag" → "repository:tag" ("" without a repository: the engine makes an untagged image). */
export function commitReference(repository: string, tag: string): string {
  const repo = repository.trim();
  if (!repo) return "";
  return tag.trim() ? `${repo}:${tag.trim()}` : repo;
}

export function CommitForm({ hostId, container, name, onClose }: { hostId: number; container: string; name: string; onClose: () => void }) {
  const { jobs, upsert } = useJobs();
  const [repository, setRepository] = useState("");
  const [tag, setTag] = useState("");
  const [message, setMessage] = useState("");
  const [author, setAuthor] = useState("");
  const [changes, setChanges] = useState("");
  const [pause, setPause] = useState(true);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [startedId, setStartedId] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The newest state of the started job comes from the jobs panel's live feed.
  const started = startedId ? (jobs.find((j) => j.id === startedId) ?? null) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (tag.trim() && !repository.trim()) {
      setErrors({ fields: { tag: "A tag needs a repository." }, form: null });
      return;
    }
    setBusy(true);
    try {
      const image = commitReference(repository, tag);
      const lines = changeLines(changes);
      const job = (await call(
        api.POST("/api/v1/hosts/{host_pk}/images/commit/", {
          params: { path: { host_pk: hostId } },
          body: {
            container,
            pause,
            ...(image ? { image } : {}),
            ...(message.trim() ? { comment: message } : {}),
            ...(author.trim() ? { author: author.trim() } : {}),
            ...(lines.length ? { changes: lines } : {}),
          },
        }),
      )) as unknown as Job;
      upsert(job);
      setStartedId(job.id);
      setErrors(NO_ERRORS);
    } catch (error) {
      setStartedId(null);
      setErrors(formErrors(error, FIELDS));
    } finally {
      setBusy(false);
    }
  };

  // The server checks repository:tag as one `image`: a complaint about the tag goes next to the tag.
  const imageError = errors.fields.image ?? null;
  const tagError = errors.fields.tag ?? (imageError && /\btag\b/i.test(imageError) && !/repository/i.test(imageError) ? imageError : null);
  const repositoryError = imageError && imageError !== tagError ? imageError : null;
  const resultId = started?.status === "succeeded" && typeof started.result.image_id === "string" ? started.result.image_id : "";
  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label={`Commit ${name}`} noValidate>
      <h2>Commit {name} to an image</h2>
      <p className="muted small">Saves the container's files and settings as a new image on this host, like docker commit.</p>
      <ErrorNote error={errors.form} />
      <div className="inline-form">
        <Field label="Repository" error={repositoryError} hint="Empty: an untagged image">
          {(p) => <input {...p} className="mono" value={repository} onChange={(e) => setRepository(e.target.value)} placeholder="team/snapshot" autoFocus />}
        </Field>
        <Field label="Tag" error={tagError} hint="Default: latest">
          {(p) => <input {...p} className="mono" value={tag} onChange={(e) => setTag(e.target.value)} placeholder="latest" />}
        </Field>
      </div>
      <Field label="Message" error={errors.fields.comment}>
        {(p) => <input {...p} value={message} onChange={(e) => setMessage(e.target.value)} placeholder="What changed" />}
      </Field>
      <Field label="Author" error={errors.fields.author}>
        {(p) => <input {...p} value={author} onChange={(e) => setAuthor(e.target.value)} placeholder="Name <email>" />}
      </Field>
      <Field
        label="Changes"
        error={errors.fields.changes}
        hint={
          <>
            One Dockerfile instruction per line: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, ONBUILD or STOPSIGNAL, e.g.{" "}
            <code>CMD ["sh"]</code> or <code>ENV A=1</code>.
          </>
        }
      >
        {(p) => (
          <textarea
            {...p}
            className="mono"
            rows={3}
            value={changes}
            onChange={(e) => setChanges(e.target.value)}
            placeholder={'CMD ["sh"]\nENV A=1'}
            spellCheck={false}
          />
        )}
      </Field>
      <CheckField label="Pause the container while committing" checked={pause} onChange={setPause} error={errors.fields.pause} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Starting…" : "Commit"}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
        {started ? (
          <span className="muted small" role="status">
            {started.status === "succeeded"
              ? `Committed: ${describeJob(started)}, image ${shortId(resultId)}.`
              : started.status === "failed"
                ? `The commit failed: ${started.error}`
                : `Started ${describeJob(started)}: progress in the jobs panel.`}
          </span>
        ) : null}
        {resultId ? <Link to={`/images?host=${hostId}`}>Show the images of this host</Link> : null}
      </div>
    </form>
  );
}

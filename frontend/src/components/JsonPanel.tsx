import { Link } from "react-router";

/** Raw JSON shown as text in a closable panel. */
export function JsonPanel({ title, value, onClose }: { title: string; value: unknown; onClose: () => void }) {
  return (
    <section className="card json-panel" aria-label={title}>
      <header>
        <h2>{title}</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <pre className="raw-json">{JSON.stringify(value, null, 2)}</pre>
    </section>
  );
}

export function UsedBy({ hostId, users }: { hostId: number; users: { id: string; name: string }[] | undefined }) {
  if (!users?.length) return <span className="muted">unused</span>;
  return (
    <>
      {users.map((u, i) => (
        <span key={u.id}>
          {i ? ", " : ""}
          <Link to={`/hosts/${hostId}/containers/${encodeURIComponent(u.name)}`}>{u.name}</Link>
        </span>
      ))}
    </>
  );
}

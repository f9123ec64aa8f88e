import { errorMessage } from "../api/errors";

/** An error for the user, with the server's own message. */
export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined || error === "") return null;
  return (
    <div className="error-note" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {typeof error === "string" ? error : errorMessage(error)}
    </div>
  );
}

export function Notice({ children }: { children: React.ReactNode }) {
  return (
    <div className="notice" role="status">
      {children}
    </div>
  );
}

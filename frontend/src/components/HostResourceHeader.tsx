/** The top of a page listing one host's objects (networks, volumes): title, host picker, refresh, prune for
 * host admins, then the page's error and the last prune's report. */
import type { ReactNode } from "react";
import type { Host } from "../lib/hosts";
import { HostSelect } from "../lib/hosts";
import { ConfirmButton } from "./Confirm";
import { ErrorNote, Notice } from "./ErrorNote";
import { PageTitle } from "./Layout";

export function HostResourceHeader({
  title,
  hosts,
  host,
  onHost,
  onRefresh,
  prune,
  error,
  notice,
}: {
  title: string;
  hosts: Host[] | undefined;
  host: Host | undefined;
  onHost: (id: number) => void;
  onRefresh: () => void;
  /** Shown to host admins only: what to ask, and what to do once confirmed. */
  prune: { question: string; onConfirm: () => void } | null;
  error: unknown;
  notice: ReactNode;
}) {
  return (
    <>
      <PageTitle title={title}>
        {hosts ? <HostSelect hosts={hosts} value={host?.id} onChange={onHost} /> : null}
        <button type="button" onClick={onRefresh}>
          Refresh
        </button>
        {prune ? <ConfirmButton label="Prune" question={prune.question} onConfirm={prune.onConfirm} /> : null}
      </PageTitle>
      <ErrorNote error={error} />
      {notice ? <Notice>{notice}</Notice> : null}
    </>
  );
}

/** A container's inspect in a readable form, with the raw JSON on demand. */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, call } from "../../api/client";
import { ErrorNote } from "../../components/ErrorNote";
import { formatBytes, formatTime } from "../../lib/format";

export type Inspect = Record<string, unknown> & {
  Id?: string;
  Name?: string;
  Created?: string;
  Path?: string;
  Args?: string[];
  RestartCount?: number;
  State?: { Status?: string; Running?: boolean; Paused?: boolean; ExitCode?: number; Error?: string; StartedAt?: string; FinishedAt?: string; Health?: { Status?: string } };
  Config?: { Image?: string; Env?: string[] | null; Labels?: Record<string, string> | null; Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string; User?: string; Tty?: boolean; OpenStdin?: boolean };
  HostConfig?: { RestartPolicy?: { Name?: string; MaximumRetryCount?: number }; Memory?: number; NanoCpus?: number; Privileged?: boolean; NetworkMode?: string };
  NetworkSettings?: { Ports?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null; Networks?: Record<string, { IPAddress?: string; Gateway?: string; MacAddress?: string }> | null };
  Mounts?: { Type?: string; Name?: string; Source?: string; Destination?: string; RW?: boolean }[];
};

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="card section" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Overview({ inspect, hostId, reference }: { inspect: Inspect; hostId: number; reference: string }) {
  const [raw, setRaw] = useState(false);
  const [showTop, setShowTop] = useState(false);
  const state = inspect.State ?? {};
  const config = inspect.Config ?? {};
  const hostConfig = inspect.HostConfig ?? {};
  const ports = Object.entries(inspect.NetworkSettings?.Ports ?? {});
  const networks = Object.entries(inspect.NetworkSettings?.Networks ?? {});
  const labels = Object.entries(config.Labels ?? {});
  return (
    <div className="overview">
      <Section title="General">
        <dl className="facts">
          <dt>ID</dt>
          <dd className="mono">{inspect.Id}</dd>
          <dt>Image</dt>
          <dd className="mono">{config.Image}</dd>
          <dt>State</dt>
          <dd>
            {state.Status}
            {state.Health?.Status ? ` (health: ${state.Health.Status})` : ""}
            {state.Status === "exited" ? `, exit code ${state.ExitCode}` : ""}
            {state.Error ? ` — ${state.Error}` : ""}
          </dd>
          <dt>Created</dt>
          <dd>{formatTime(inspect.Created)}</dd>
          <dt>Started</dt>
          <dd>{state.StartedAt && !state.StartedAt.startsWith("0001") ? formatTime(state.StartedAt) : "–"}</dd>
          <dt>Finished</dt>
          <dd>{state.FinishedAt && !state.FinishedAt.startsWith("0001") ? formatTime(state.FinishedAt) : "–"}</dd>
          <dt>Command</dt>
          <dd className="mono">{[inspect.Path, ...(inspect.Args ?? [])].filter(Boolean).join(" ")}</dd>
          <dt>Working dir / user</dt>
          <dd className="mono">
            {config.WorkingDir || "/"} · {config.User || "default user"}
          </dd>
          <dt>Terminal</dt>
          <dd>
            tty {config.Tty ? "yes" : "no"}, stdin {config.OpenStdin ? "open" : "closed"}
          </dd>
          <dt>Restart policy</dt>
          <dd>
            {hostConfig.RestartPolicy?.Name || "no"} (restarted {inspect.RestartCount ?? 0}×)
          </dd>
          <dt>Limits</dt>
          <dd>
            memory {hostConfig.Memory ? formatBytes(hostConfig.Memory) : "unlimited"}, CPUs {hostConfig.NanoCpus ? hostConfig.NanoCpus / 1e9 : "unlimited"}
            {hostConfig.Privileged ? ", privileged" : ""}
          </dd>
        </dl>
      </Section>
      <Section title="Ports">
        {ports.length ? (
          <ul>
            {ports.map(([port, bindings]) => (
              <li key={port} className="mono">
                {port}
                {bindings?.length ? ` → ${bindings.map((b) => `${b.HostIp || "0.0.0.0"}:${b.HostPort}`).join(", ")}` : " (not published)"}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No ports.</p>
        )}
      </Section>
      <Section title="Networks">
        {networks.length ? (
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Network</th>
                <th scope="col">IP</th>
                <th scope="col">Gateway</th>
                <th scope="col">MAC</th>
              </tr>
            </thead>
            <tbody>
              {networks.map(([name, n]) => (
                <tr key={name}>
                  <th scope="row">{name}</th>
                  <td className="mono">{n.IPAddress || "–"}</td>
                  <td className="mono">{n.Gateway || "–"}</td>
                  <td className="mono">{n.MacAddress || "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">{hostConfig.NetworkMode ? `Network mode ${hostConfig.NetworkMode}.` : "No networks."}</p>
        )}
      </Section>
      <Section title="Mounts">
        {inspect.Mounts?.length ? (
          <ul>
            {inspect.Mounts.map((m, i) => (
              <li key={i} className="mono">
                {m.Type} {m.Name || m.Source} → {m.Destination} {m.RW ? "" : "(read-only)"}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No mounts.</p>
        )}
      </Section>
      <Section title="Environment">
        {config.Env?.length ? (
          <ul className="mono env">
            {config.Env.map((entry) => (
              <li key={entry}>{entry}</li>
            ))}
          </ul>
        ) : (
          <p className="muted">No variables.</p>
        )}
      </Section>
      <Section title="Labels">
        {labels.length ? (
          <ul className="chips">
            {labels.map(([k, v]) => (
              <li key={k} className="chip mono">
                {k}={v}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No labels.</p>
        )}
      </Section>
      <Section title="Processes">
        {state.Running ? (
          showTop ? (
            <Processes hostId={hostId} reference={reference} />
          ) : (
            <button type="button" onClick={() => setShowTop(true)}>
              Show processes
            </button>
          )
        ) : (
          <p className="muted">Not running.</p>
        )}
      </Section>
      <Section title="Raw inspect">
        <button type="button" aria-expanded={raw} onClick={() => setRaw(!raw)}>
          {raw ? "Hide raw JSON" : "Show raw JSON"}
        </button>
        {raw ? <pre className="raw-json">{JSON.stringify(inspect, null, 2)}</pre> : null}
      </Section>
    </div>
  );
}

function Processes({ hostId, reference }: { hostId: number; reference: string }) {
  const top = useQuery({
    queryKey: ["top", hostId, reference],
    queryFn: () => call(api.GET("/api/v1/hosts/{host_pk}/containers/{ref}/top/", { params: { path: { host_pk: hostId, ref: reference } } })),
    refetchInterval: 5000,
  });
  if (top.isError) return <ErrorNote error={top.error} />;
  const data = top.data as { Titles?: string[]; Processes?: string[][] } | undefined;
  if (!data) return <p className="loading">Loading…</p>;
  return (
    <table className="table compact mono">
      <thead>
        <tr>
          {data.Titles?.map((t) => (
            <th key={t} scope="col">
              {t}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {data.Processes?.map((row, i) => (
          <tr key={i}>
            {row.map((cell, j) => (
              <td key={j}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

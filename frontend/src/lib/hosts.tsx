import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { useSearchParams } from "react-router";
import { api, call, type Schemas } from "../api/client";

export type Host = Schemas["Host"];

export function useHosts() {
  return useQuery({
    queryKey: ["hosts"],
    queryFn: async () => (await call(api.GET("/api/v1/hosts/", { params: { query: { limit: 1000 } } }))).results,
  });
}

/** The host chosen in the URL (?host=id), defaulting to the first host that is up. */
export function useHostParam(hosts: Host[] | undefined): [Host | undefined, (id: number) => void] {
  const [params, setParams] = useSearchParams();
  const wanted = Number(params.get("host"));
  const chosen = hosts?.find((h) => h.id === wanted) ?? hosts?.find((h) => h.status === "up") ?? hosts?.[0];
  useEffect(() => {
    if (chosen && chosen.id !== wanted) {
      setParams((p) => {
        p.set("host", String(chosen.id));
        return p;
      }, { replace: true });
    }
  }, [chosen, wanted, setParams]);
  const choose = (id: number) =>
    setParams((p) => {
      p.set("host", String(id));
      return p;
    });
  return [chosen, choose];
}

export function HostSelect({
  hosts,
  value,
  onChange,
  label = "Host",
  filter,
}: {
  hosts: Host[];
  value: number | undefined;
  onChange: (id: number) => void;
  label?: string;
  filter?: (host: Host) => boolean;
}) {
  const shown = filter ? hosts.filter(filter) : hosts;
  return (
    <label className="inline">
      {label}{" "}
      <select value={value ?? ""} onChange={(e) => onChange(Number(e.target.value))}>
        {shown.map((h) => (
          <option key={h.id} value={h.id}>
            {h.name}
            {h.status !== "up" ? ` (${h.status})` : ""}
          </option>
        ))}
      </select>
    </label>
  );
}

export function StatusBadge({ status, reason }: { status: string; reason?: string | null }) {
  return (
    <span className={`badge status-${status}`} title={reason ?? undefined}>
      {status}
    </span>
  );
}

/** The signed-in user: the Django session (via /auth/session/) and their roles (via /api/v1/me/). */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, createContext, useContext, useEffect } from "react";
import { Navigate, useLocation } from "react-router";
import { api, call, onAuthProblem, request, type Schemas } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";

export interface Session {
  authenticated: boolean;
  username: string | null;
  is_superuser: boolean;
}

export type Role = Schemas["RoleEnum"];
export type Me = Schemas["Me"];

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function fetchSession(): Promise<Session> {
  return request<Session>("GET", "/auth/session/");
}

export function useSession() {
  return useQuery({ queryKey: ["session"], queryFn: fetchSession, staleTime: 60_000 });
}

export interface Access {
  me: Me;
  /** May add hosts, manage users, teams, grants and registries, read the whole audit log (the server says). */
  isAdmin: boolean;
  roleOn(hostId: number): Role | null;
  /** Whether the caller has at least `role` on the host. */
  can(hostId: number, role: Role): boolean;
}

const AccessContext = createContext<Access | null>(null);

export function useAccess(): Access {
  const access = useContext(AccessContext);
  if (!access) throw new Error("useAccess outside <RequireSession>");
  return access;
}

export function makeAccess(me: Me): Access {
  const roles = new Map(me.hosts.map((h) => [h.id, h.role] as const));
  return {
    me,
    isAdmin: me.can_manage_inventory,
    roleOn: (hostId) => roles.get(hostId) ?? null,
    can: (hostId, role) => {
      const have = roles.get(hostId);
      return have !== undefined && ROLE_RANK[have] >= ROLE_RANK[role];
    },
  };
}

/** Renders its children for a signed-in user, else sends them to the login page and back afterwards. */
export function RequireSession({ children }: { children: ReactNode }) {
  const location = useLocation();
  const client = useQueryClient();
  const session = useSession();
  const me = useQuery({
    queryKey: ["me"],
    queryFn: () => call(api.GET("/api/v1/me/")),
    enabled: session.data?.authenticated === true,
    staleTime: 30_000,
  });
  useEffect(
    () =>
      onAuthProblem(() => {
        void client.invalidateQueries({ queryKey: ["session"] });
      }),
    [client],
  );
  if (session.isPending) return <p className="loading">Loading…</p>;
  if (session.isError) return <ErrorNote error={session.error} title="Could not reach the server" />;
  if (!session.data.authenticated) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  if (me.isPending) return <p className="loading">Loading…</p>;
  if (me.isError) return <ErrorNote error={me.error} title="Could not load your access" />;
  return <AccessContext.Provider value={makeAccess(me.data)}>{children}</AccessContext.Provider>;
}

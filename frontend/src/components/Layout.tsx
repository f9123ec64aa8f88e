import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { request } from "../api/client";
import { errorMessage } from "../api/errors";
import { useAccess } from "../auth/session";
import { JobsPanel, JobsProvider } from "../lib/jobs";
import { type Theme, applyTheme, storedTheme } from "../lib/theme";

export function Layout() {
  const access = useAccess();
  const client = useQueryClient();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  // A container's pages live under /hosts/<id>/containers/...: they belong to "Containers".
  const inContainers = /^\/(containers|hosts\/\d+\/(containers|logs))(\/|$)/.test(pathname);
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const [logoutError, setLogoutError] = useState<string | null>(null);
  useEffect(() => applyTheme(theme), [theme]);
  // The page scrolls in its own region (below the top bar, above the jobs panel): a new page starts at its
  // top, and when the focus was in the top bar (a nav link was followed) it moves to the page, so the
  // keyboard (PageDown, End, Tab) works on the page at once. A control the page focused itself keeps it.
  const scroller = useRef<HTMLDivElement>(null);
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    scroller.current?.scrollTo({ top: 0 });
    const active = document.activeElement;
    if (!active || active === document.body || active.closest(".topbar")) mainRef.current?.focus({ preventScroll: true });
  }, [pathname]);

  async function logout() {
    try {
      await request("POST", "/auth/logout/");
      client.clear();
      navigate("/login", { replace: true });
    } catch (error) {
      setLogoutError(errorMessage(error));
    }
  }

  return (
    <JobsProvider username={access.me.username}>
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">dockerweb</span>
        <nav aria-label="Main">
          <NavLink to="/containers" className={inContainers ? "active" : ""} aria-current={inContainers ? "page" : undefined}>
            Containers
          </NavLink>
          <NavLink to="/hosts" className={({ isActive }) => (isActive && !inContainers ? "active" : "")} aria-current={inContainers ? false : undefined}>
            Hosts
          </NavLink>
          <NavLink to="/images">Images</NavLink>
          <NavLink to="/registries">Registries</NavLink>
          <NavLink to="/networks">Networks</NavLink>
          <NavLink to="/volumes">Volumes</NavLink>
          <NavLink to="/tokens">Tokens</NavLink>
          <NavLink to="/audit">Audit</NavLink>
          <NavLink to="/teams">Teams</NavLink>
          {access.isAdmin ? <NavLink to="/grants">Grants</NavLink> : null}
          {access.isAdmin ? <NavLink to="/users">Users</NavLink> : null}
        </nav>
        <span className="spacer" />
        <label className="theme">
          Theme{" "}
          <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        <a href="/api/v1/docs/">API docs</a>
        <span className="user" aria-label="Signed in as">
          {access.me.username}
        </span>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      {logoutError ? (
        <div className="error-note" role="alert">
          Logging out failed: {logoutError}
        </div>
      ) : null}
      {/* The page scrolls in its own region; the jobs panel is docked below it and never covers it. */}
      <div className="app-scroll" ref={scroller}>
        <main id="main" tabIndex={-1} ref={mainRef}>
          <Outlet />
        </main>
      </div>
      <JobsPanel />
    </div>
    </JobsProvider>
  );
}

export function PageTitle({ title, children }: { title: string; children?: React.ReactNode }) {
  useEffect(() => {
    document.title = `${title} · dockerweb`;
  }, [title]);
  return (
    <div className="page-title">
      <h1>{title}</h1>
      <div className="page-actions">{children}</div>
    </div>
  );
}

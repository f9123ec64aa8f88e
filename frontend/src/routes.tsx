import { Navigate, createBrowserRouter } from "react-router";
import { RequireSession } from "./auth/session";
import { Layout } from "./components/Layout";
import { AuditPage } from "./pages/AuditPage";
import { ContainerPage } from "./pages/container/ContainerPage";
import { ContainersPage } from "./pages/ContainersPage";
import { HostFormPage } from "./pages/HostFormPage";
import { HostsPage } from "./pages/HostsPage";
import { ImagesPage } from "./pages/ImagesPage";
import { LoginPage } from "./pages/LoginPage";
import { MergedLogsPage } from "./pages/MergedLogsPage";
import { NetworksPage } from "./pages/NetworksPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { RegistriesPage, RegistryFormPage } from "./pages/RegistriesPage";
import { RunContainerPage } from "./pages/RunContainerPage";
import { GrantsPage, TeamsPage } from "./pages/TeamsPage";
import { TokensPage } from "./pages/TokensPage";
import { UsersPage } from "./pages/UsersPage";
import { VolumesPage } from "./pages/VolumesPage";

export const router = createBrowserRouter([
  { path: "/login", element: <LoginPage /> },
  {
    path: "/",
    element: (
      <RequireSession>
        <Layout />
      </RequireSession>
    ),
    children: [
      { index: true, element: <Navigate to="/containers" replace /> },
      { path: "containers", element: <ContainersPage /> },
      { path: "containers/run", element: <RunContainerPage /> },
      { path: "hosts", element: <HostsPage /> },
      { path: "hosts/new", element: <HostFormPage /> },
      { path: "hosts/:hostId/edit", element: <HostFormPage /> },
      { path: "hosts/:hostId/logs", element: <MergedLogsPage /> },
      { path: "hosts/:hostId/containers/:ref/:tab?", element: <ContainerPage /> },
      { path: "networks", element: <NetworksPage /> },
      { path: "volumes", element: <VolumesPage /> },
      { path: "images", element: <ImagesPage /> },
      { path: "registries", element: <RegistriesPage /> },
      { path: "registries/new", element: <RegistryFormPage /> },
      { path: "registries/:registryId/edit", element: <RegistryFormPage /> },
      { path: "tokens", element: <TokensPage /> },
      { path: "audit", element: <AuditPage /> },
      { path: "teams", element: <TeamsPage /> },
      { path: "grants", element: <GrantsPage /> },
      { path: "users", element: <UsersPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
]);

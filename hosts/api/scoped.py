"""Base for REST views about objects on one host: `/api/v1/hosts/<host_pk>/...`."""

from __future__ import annotations

from functools import cached_property

from rest_framework import exceptions

from hosts import access, visibility
from hosts.api.auditing import AuditedMixin, request_caller
from hosts.models import Host


class HostScopedViewSet(AuditedMixin):
    """Resolves the URL's host among those the caller may see (else 404) and audits against it."""

    @cached_property
    def host(self) -> Host:
        host = visibility.visible_hosts(self.who).filter(pk=int(self.kwargs["host_pk"])).first()
        if host is None:
            raise exceptions.NotFound(f"No host {self.kwargs.get('host_pk')} is visible to you.")
        return host

    @cached_property
    def who(self) -> access.Caller:
        return request_caller(self.request)

    def audit_host(self) -> Host | None:
        try:
            return self.host
        except exceptions.NotFound:
            return None

"""Base for REST views about objects on one host: `/api/v1/hosts/<host_pk>/...`."""

from __future__ import annotations

from functools import cached_property
from typing import Any

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

    def get_object(self) -> Any:
        # Engine objects are no database rows. DRF's OPTIONS metadata asks for one to describe a PUT form;
        # a 404 there means "no form", where the missing queryset would be a 500.
        raise exceptions.NotFound("Objects on an engine are described by the API schema, not by OPTIONS.")

    def audit_host(self) -> Host | None:
        try:
            return self.host
        except exceptions.NotFound:
            return None

"""Audit for REST: every changing call (and every refused one) of a viewset is recorded once."""

from __future__ import annotations

import time
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hosts import access, audit
from hosts.models import EntryPoint, Host

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_caller(request: Request) -> access.Caller:
    return access.caller(request.user, request.auth)


def _detail(data: dict[str, Any]) -> str:
    detail = str(data.get("detail", ""))
    if data.get("rule"):  # a policy denial: keep which rule and which field
        return f"{data['rule']} ({data.get('field', '')}): {detail}"
    return detail


def _recorded_body(request: Request) -> Any:
    """The request body as the audit row keeps it (hosts.audit redacts secrets): JSON as sent; a form or
    multipart body as its fields, uploaded files by name and size; a raw upload by its content type."""
    if not hasattr(request, "_full_data"):  # the view never read it
        return None
    body = request.data
    if hasattr(body, "lists"):  # a QueryDict
        fields = {}
        for key, values in body.lists():
            shown = [_file(value) if isinstance(value, UploadedFile) else value for value in values]
            fields[key] = shown[0] if len(shown) == 1 else shown
        return fields
    if isinstance(body, (dict, list)):
        return body
    return {"content_type": request.content_type, "streamed": True}


def _file(upload: UploadedFile) -> dict[str, Any]:
    return {"file": upload.name, "size": upload.size}


class AuditedMixin(GenericViewSet[Any]):
    """Records unsafe requests (POST, PUT, PATCH, DELETE) with their outcome and duration, and refused reads.

    Views name the host concerned through `audit_host()` (none by default).
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._audit_started = time.monotonic()
        self._audit_started_at = timezone.now()
        super().initial(request, *args, **kwargs)

    def audit_host(self) -> Host | None:
        return None

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Changes are recorded, and so is every refusal (a read of another team's object included).
        refused = getattr(response, "audit_outcome", None) == "denied"
        if (
            (request.method not in SAFE_METHODS or refused)
            and request.user is not None
            and request.user.is_authenticated
        ):
            self._record(request, response)
        return response

    def _record(self, request: Request, response: Response) -> None:
        started = getattr(self, "_audit_started", None)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        body = _recorded_body(request)
        audit.record(
            who=request_caller(request),
            entry_point=EntryPoint.REST,
            action=f"{self.basename}.{self.action or (request.method or '').lower()}",
            outcome=getattr(response, "audit_outcome", None)
            or audit.outcome_for_status(response.status_code),
            host=self.audit_host(),
            method=request.method or "",
            path=request.get_full_path(),
            object_id=str(self.kwargs.get("pk") or data.get("id") or ""),
            object_name=str(data.get("name") or ""),
            body=body,
            status_code=response.status_code,
            detail=_detail(data) if response.status_code >= 400 else "",
            duration_ms=(time.monotonic() - started) * 1000 if started is not None else None,
            source_ip=request.META.get("REMOTE_ADDR"),
            started_at=getattr(self, "_audit_started_at", None),
        )

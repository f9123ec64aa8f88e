"""REST plumbing shared by every app: pagination and one stable error shape.

Every error body is `{"detail": str, "code": str}`, plus `"fields": {name: [messages]}` for validation errors,
so scripts and the dashboard handle all errors one way.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hosts.access import AccessDenied
from hosts.engine.errors import EngineError
from hosts.policy import Denied


class StreamParser(parsers.BaseParser):
    """Hands an upload over as the request stream: it goes to the engine as it arrives, never whole in
    memory. Subclasses name the media type."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return stream


class TarParser(StreamParser):
    media_type = "application/x-tar"


class ArchiveParser(StreamParser):
    """A tar, or a gzip/bzip2/xz-compressed one (the engine unpacks what it gets)."""

    media_type = "application/*"


class Pagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(key): [str(m) for m in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, EngineError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Denied):
        # The admission policy refused the request: name the rule and the field so it can be fixed.
        return Response({**exc.as_dict(), "code": "policy_denied"}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, AccessDenied):
        if exc.not_found:
            refused = Response({"detail": exc.message, "code": "not_found"}, status=status.HTTP_404_NOT_FOUND)
        else:
            refused = Response(
                {"detail": exc.message, "code": "permission_denied"}, status=status.HTTP_403_FORBIDDEN
            )
        # Looks like a plain 404 to the caller (names do not leak), but the audit log records a denial.
        refused.audit_outcome = "denied"  # type: ignore[attr-defined]
        return refused
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first_field, messages = next(iter(fields.items()), ("", ["Invalid input."]))
        prefix = "" if first_field == "non_field_errors" else f"{first_field}: "
        response.data = {"detail": prefix + messages[0], "code": "invalid", "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        codes = exc.get_codes()
        response.data = {
            "detail": str(detail if not isinstance(detail, (list, dict)) else _flatten(detail)),
            "code": codes if isinstance(codes, str) else "error",
        }
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data.setdefault("code", "not_authenticated")
    return response

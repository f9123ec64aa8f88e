"""REST plumbing shared by every app: pagination and one stable error shape.

Every error body is `{"detail": str, "code": str}`, plus `"fields": {name: [messages]}` for validation errors,
so scripts and the dashboard handle all errors one way.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, parsers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hosts import audit
from hosts.access import AccessDenied, caller
from hosts.auth import authenticate_token, token_from_header
from hosts.engine.errors import EngineError
from hosts.engine.request import BadReference
from hosts.models import EntryPoint, Outcome
from hosts.policy import Denied
from hosts.policy.base import reject_duplicates


class StreamParser(parsers.BaseParser):
    """Hands an upload over as the request stream: it goes to the engine as it arrives, never whole in
    memory. Subclasses name the media type."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return stream


class DuplicateKey(exceptions.ParseError):
    """A JSON body naming one key twice: not canonical, so refused (and audited as a refusal)."""

    default_code = "duplicate_key"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    try:
        return reject_duplicates(pairs)
    except Denied as exc:
        raise DuplicateKey(f"JSON parse error - {exc.message}") from None


class StrictJSONParser(parsers.JSONParser):
    """JSON as DRF parses it, but a key given twice in one object is refused: Python keeps the last, Go
    merges or keeps another, so which one counts would be a guess."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return json.loads(stream.read().decode(encoding), object_pairs_hook=_no_duplicate_keys)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


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
    if isinstance(exc, BadReference):
        # A reference outside the engine's grammar is refused before anything reaches the engine.
        refused = Response(
            {"detail": exc.message, "code": "bad_reference", "fields": {exc.field: [exc.message]}},
            status=status.HTTP_400_BAD_REQUEST,
        )
        refused.audit_outcome = "denied"  # type: ignore[attr-defined]
        return refused
    if isinstance(exc, EngineError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Denied):
        # The admission policy refused the request: name the rule and the field so it can be fixed.
        refused = Response({**exc.as_dict(), "code": "policy_denied"}, status=status.HTTP_403_FORBIDDEN)
        refused.audit_outcome = "denied"  # type: ignore[attr-defined]
        return refused
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
    if isinstance(exc, DuplicateKey):
        response.audit_outcome = "denied"  # type: ignore[attr-defined]
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


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for a path no URL matches: the one JSON error shape under /api/, the usual page elsewhere
    (a reference with '/', '?' or '#' in it, say, takes no route at all)."""
    if request.path.startswith("/api/"):
        message = f"No API endpoint at {request.path!r}."
        _audit_unrouted(request, message)
        return JsonResponse({"detail": message, "code": "not_found"}, status=404)
    return page_not_found(request, exception or Http404())


def _audit_unrouted(request: HttpRequest, message: str) -> None:
    # A path no route takes (a walk with '..', an encoded '/' or '?'): a refusal, recorded for a caller
    # who authenticated (a token, or a session), as every other refusal is.
    who = None
    token = authenticate_token(token_from_header(request.headers.get("Authorization")) or "")
    if token is not None and not token.is_expired:
        who = caller(token.user, token)
    elif getattr(request, "user", None) is not None and request.user.is_authenticated:
        who = caller(request.user)
    if who is None or not who.active:
        return
    audit.record(
        who=who,
        entry_point=EntryPoint.REST,
        action="api.no_route",
        outcome=Outcome.DENIED,
        method=request.method or "",
        path=request.get_full_path()[:2000],
        status_code=404,
        detail=message[:2000],
        source_ip=request.META.get("REMOTE_ADDR"),
    )

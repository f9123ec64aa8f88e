"""The audit log: one append-only row per change, exec, attach or denied call, from every entry point.

Request bodies and paths are stored with secrets removed, the same way for every entry point: registry auth
headers, anything named like a password or token (JSON keys, query parameters, build args), and the values
of environment variables whose names look secret (`DB_PASSWORD=...`, in bodies and in query values).
Rows carry the time their request started and are ordered by it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.utils import timezone

from hosts.access import Caller
from hosts.models import AuditEntry, EntryPoint, Host, Outcome

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
# Names whose values are secrets wherever they appear: JSON keys, env var names, query parameters.
SECRET_NAME = re.compile(r"pass(word|wd|phrase)?|secret|token|(^|[-_])key$|api[-_]?key|credential|auth", re.I)
ENV_KEYS = {"env"}
# Query parameters whose whole value is secret whatever their name: build args (`buildargs={"TOKEN": ...}`).
SECRET_QUERY_NAMES = {"buildargs"}
MAX_STORED_BODY_CHARS = 64 * 1024


def is_secret_name(name: str) -> bool:
    """Whether a key, variable or parameter of this name holds a secret."""
    return bool(SECRET_NAME.search(name))


def _redact_assignment(entry: str) -> str:
    """`NAME=value` with the value redacted when NAME looks secret (also `ENV NAME=value`, as in commit's
    `changes`); anything else as it is."""
    if "=" not in entry:
        return entry
    name, _, _ = entry.partition("=")
    words = name.split()
    return f"{name}={REDACTED}" if words and is_secret_name(words[-1]) else entry


def _redact_env(entries: list[Any]) -> list[Any]:
    return [_redact_assignment(entry) if isinstance(entry, str) else entry for entry in entries]


def redact_query(query: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """The query's pairs with secret values replaced: secret-looking names, build args, env-like values."""
    return [
        (
            name,
            REDACTED
            if name.lower() in SECRET_QUERY_NAMES or is_secret_name(name)
            else _redact_assignment(value),
        )
        for name, values in query.items()
        for value in values
    ]


def audited_path(path: str, query: Mapping[str, Sequence[str]] | None = None) -> str:
    """The path as the audit log keeps it, for every entry point: its query (given, or after the `?`) with
    secret values redacted (`redact_query`). Redacting an already redacted path changes nothing."""
    if query is None:
        path, sep, query_string = path.partition("?")
        if not sep:
            return path
        pairs: dict[str, list[str]] = {}
        for name, value in parse_qsl(query_string, keep_blank_values=True):
            pairs.setdefault(name, []).append(value)
        query = pairs
    return f"{path}?{urlencode(redact_query(query))}" if query else path


def redact(value: Any) -> Any:
    """A copy of `value` (parsed JSON) with every secret replaced by a marker."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if is_secret_name(str(key)) and not isinstance(item, (dict, list)):
                result[key] = REDACTED
            elif str(key).lower() in ENV_KEYS and isinstance(item, list):
                result[key] = _redact_env(item)
            elif str(key).lower() in ENV_KEYS and isinstance(item, dict):
                result[key] = {k: REDACTED if is_secret_name(str(k)) else v for k, v in item.items()}
            else:
                result[key] = redact(item)
        return result
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _bounded(body: Any) -> Any:
    text = repr(body)
    if len(text) > MAX_STORED_BODY_CHARS:
        return {"truncated": True, "size": len(text)}
    return body


def outcome_for_status(status_code: int) -> Outcome:
    if status_code < 400:
        return Outcome.SUCCESS
    if status_code in (401, 403):
        return Outcome.DENIED
    return Outcome.FAILURE


def storable(value: Any) -> Any:
    """`value` with every string made storable in any database: NUL characters and lone surrogates (which
    a hostile request can carry, and PostgreSQL's text and jsonb refuse) become U+FFFD."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        fixed = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return fixed.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def record(
    *,
    who: Caller | None,
    entry_point: EntryPoint,
    action: str,
    outcome: Outcome,
    host: Host | None = None,
    method: str = "",
    path: str = "",
    object_id: str = "",
    object_name: str = "",
    body: Any = None,
    status_code: int | None = None,
    detail: str = "",
    duration_ms: float | None = None,
    source_ip: str | None = None,
    started_at: datetime | None = None,
) -> AuditEntry:
    """Append one audit row; the body and the path's query are redacted here, so callers pass what they
    received. `started_at` is when the request started; without it, the time the row is written less
    `duration_ms` (the call's measured length), else the time the row is written."""
    user = who.user if who is not None and who.active else None
    written = timezone.now()
    if started_at is None:
        started_at = written - timedelta(milliseconds=duration_ms) if duration_ms else written
    entry = AuditEntry.objects.create(
        started_at=started_at,
        created_at=written,
        user=user,
        username=user.get_username() if user is not None else "",
        token_name=who.token.audit_name if who is not None and who.token is not None else "",
        source_ip=source_ip or None,
        entry_point=entry_point,
        host=host,
        host_name=host.name if host is not None else "",
        action=storable(action)[:100],
        method=storable(method),
        path=storable(audited_path(path))[:500],
        object_id=storable(object_id)[:768],
        object_name=storable(object_name)[:255],
        request_body=storable(_bounded(redact(body))) if body is not None else None,
        outcome=outcome,
        status_code=status_code,
        detail=storable(detail),
        duration_ms=duration_ms,
    )
    logger.info("audit %s %s %s %s", entry.username or "-", entry.action, entry.host_name or "-", outcome)
    return entry

"""The audit log: one append-only row per change, exec, attach or denied call, from every entry point.

Request bodies are stored with secrets removed: registry auth headers, anything named like a password or
token, and the values of environment variables whose names look secret (`DB_PASSWORD=...`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from hosts.access import Caller
from hosts.models import AuditEntry, EntryPoint, Host, Outcome

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
# Names whose values are secrets wherever they appear: JSON keys, env var names, query parameters.
SECRET_NAME = re.compile(r"pass(word|wd|phrase)?|secret|token|(^|[-_])key$|api[-_]?key|credential|auth", re.I)
ENV_KEYS = {"env"}
MAX_STORED_BODY_CHARS = 64 * 1024


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def _redact_env(entries: list[Any]) -> list[Any]:
    redacted = []
    for entry in entries:
        if isinstance(entry, str) and "=" in entry:
            name, _, _ = entry.partition("=")
            redacted.append(f"{name}={REDACTED}" if is_secret_name(name) else entry)
        else:
            redacted.append(entry)
    return redacted


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
) -> AuditEntry:
    """Append one audit row; the body is redacted here, so callers pass what they received."""
    user = who.user if who is not None and who.active else None
    entry = AuditEntry.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        token_name=who.token.audit_name if who is not None and who.token is not None else "",
        source_ip=source_ip or None,
        entry_point=entry_point,
        host=host,
        host_name=host.name if host is not None else "",
        action=action[:100],
        method=method,
        path=path[:500],
        object_id=object_id[:128],
        object_name=object_name[:255],
        request_body=_bounded(redact(body)) if body is not None else None,
        outcome=outcome,
        status_code=status_code,
        detail=detail,
        duration_ms=duration_ms,
    )
    logger.info("audit %s %s %s %s", entry.username or "-", entry.action, entry.host_name or "-", outcome)
    return entry

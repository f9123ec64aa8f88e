"""Calls the gateway answers itself instead of relaying them to the engine.

Apps register them from their `ready()`, so the gateway needs no import of theirs: images answers
`GET /images/search` for registries dockerweb knows, which no engine can search (a v2 registry has no
search endpoint; dockerweb reads its catalog). An answer runs after authentication and admission, in the
gateway's thread pool, and returns the JSON to send, or None to let the engine answer after all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hosts.access import Caller
from hosts.models import Host

Answer = Callable[[Caller, Host, dict[str, list[str]]], Any]

_answers: dict[tuple[str, str], Answer] = {}


def register(method: str, canonical_path: str, answer: Answer) -> None:
    """Answer `method canonical_path` (no version prefix, as hosts.policy.canonical_path gives it)."""
    _answers[(method.upper(), canonical_path)] = answer


def find(method: str, canonical_path: str) -> Answer | None:
    return _answers.get((method, canonical_path))

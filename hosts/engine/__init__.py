"""Reaching engines: one client factory, TLS handling and error mapping."""

from hosts.engine.client import EngineTarget, async_client, open_engine, parse_engine_url
from hosts.engine.errors import Conflict, EngineError, HostUnreachable, InvalidRequest, NotFound

__all__ = [
    "Conflict",
    "EngineError",
    "EngineTarget",
    "HostUnreachable",
    "InvalidRequest",
    "NotFound",
    "async_client",
    "open_engine",
    "parse_engine_url",
]

"""Websocket consumers for live container data: logs, exec console, attach, stats and engine events.

Every consumer accepts, then checks authentication and access through hosts.access (and hosts.admission
for exec and attach); a refusal is an `{"type": "error", "message": ...}` message followed by a close code:
4400 bad parameters, 4401 not authenticated, 4403 not allowed, 4404 no such (visible) host or container,
4409 conflict (e.g. the container is not running), 4502 host unreachable or engine error.

Open sockets are re-checked every ACCESS_RECHECK_SECONDS (base.AccessWatch): a revoked or expired token, a
deactivated user or an ended browser session closes them with 4401, a removed grant or a role below what the
session needs with 4403 or 4404, each after an error message saying so.
"""

from containers.consumers.attach import AttachConsumer
from containers.consumers.base import EngineConsumer
from containers.consumers.events import EventsConsumer
from containers.consumers.exec import ExecConsumer
from containers.consumers.logs import LogsConsumer, MergedLogsConsumer
from containers.consumers.stats import HostStatsConsumer, StatsConsumer
from hosts.live import CloseCode

__all__ = [
    "AttachConsumer",
    "CloseCode",
    "EngineConsumer",
    "EventsConsumer",
    "ExecConsumer",
    "HostStatsConsumer",
    "LogsConsumer",
    "MergedLogsConsumer",
    "StatsConsumer",
]

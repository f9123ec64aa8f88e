"""Live data from engines for the websocket consumers: logs, stats, events and exec sessions.

- frames: the engine's stream formats (multiplexed frames, timestamped lines) and viewer line filters.
- fanout: fan-out; one engine stream per key and process, bounded per-viewer queues with skip counts.
- engine: inspect/list calls and following a container through restarts and host outages.
- logs, stats, events: the shared streams.
- hijack: hijacked engine connections (`Upgrade: tcp`); exec and attach: the sessions built on them.
- raw: engine GETs read straight off the connection, for the busiest bodies (logs).
"""

from containers.streams.engine import ContainerInfo, inspect_container, list_containers
from containers.streams.events import EngineEvent, subscribe_events
from containers.streams.exec import ExecConnection, ExecRequest, create_exec, exit_code, resize_exec
from containers.streams.fanout import Control, Subscriber, hub
from containers.streams.frames import LineFilter, LogLine, as_bool
from containers.streams.logs import LogOptions, subscribe_logs
from containers.streams.stats import STATS_FIELDS, reduce_stats, subscribe_stats

__all__ = [
    "STATS_FIELDS",
    "ContainerInfo",
    "Control",
    "EngineEvent",
    "ExecConnection",
    "ExecRequest",
    "LineFilter",
    "LogLine",
    "LogOptions",
    "Subscriber",
    "as_bool",
    "create_exec",
    "exit_code",
    "hub",
    "inspect_container",
    "list_containers",
    "reduce_stats",
    "resize_exec",
    "subscribe_events",
    "subscribe_logs",
    "subscribe_stats",
]

"""Ordering the lines of several containers by the engine's timestamps."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable

from containers.streams.frames import LogLine


class Merger:
    """Releases lines in timestamp order: history as far as every container has sent, live lines after a hold.

    While a container still sends its history, no line later than its latest one can go out (an earlier line
    of it may still come). Live lines wait `hold` seconds so that a line of another container written at the
    same moment but read a little later still goes out before them. One container needs neither.
    """

    def __init__(self, sources: Iterable[str], hold: float) -> None:
        self.hold = hold
        self.open = set(sources)
        self.in_history = set(self.open)
        self.latest: dict[str, int] = {}
        self.heap: list[tuple[int, int, float, LogLine]] = []
        self._seq = itertools.count()

    def add(self, line: LogLine, now: float) -> None:
        source = line.container
        if line.ts_ns > self.latest.get(source, -1):
            self.latest[source] = line.ts_ns
        due = now if source in self.in_history else now + self.hold
        heapq.heappush(self.heap, (line.ts_ns, next(self._seq), due, line))

    def caught_up(self, source: str) -> None:
        self.in_history.discard(source)

    def ended(self, source: str) -> None:
        self.in_history.discard(source)
        self.open.discard(source)

    @property
    def finished(self) -> bool:
        return not self.open

    def _watermark(self) -> int | None:
        return min((self.latest.get(s, -1) for s in self.in_history), default=None)

    def release(self, now: float, *, everything: bool = False) -> list[LogLine]:
        """The lines that may go out now, in order."""
        heap, out = self.heap, []
        watermark = None if everything else self._watermark()
        while heap:
            ts_ns, _, due, line = heap[0]
            if not everything and ((watermark is not None and ts_ns > watermark) or due > now):
                break
            heapq.heappop(heap)
            out.append(line)
        return out

    def next_due(self, now: float) -> float | None:
        """When held lines become releasable without anything new arriving (None: only new input helps)."""
        if not self.heap:
            return None
        ts_ns, _, due, _ = self.heap[0]
        watermark = self._watermark()
        if (watermark is not None and ts_ns > watermark) or due <= now:
            return None
        return due

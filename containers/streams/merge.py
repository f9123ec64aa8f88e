"""Ordering the lines of several containers by the engine's timestamps."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from operator import attrgetter

from containers.streams.frames import LogLine


class Merger:
    """Releases lines in timestamp order: history as far as every container has sent, live lines after a hold.

    While a container still sends its history, no line later than its latest one can go out (an earlier line
    of it may still come). Live lines wait `hold` seconds so that a line of another container written at the
    same moment but read a little later still goes out before them. One container needs neither: its lines
    go out as they come, each round in timestamp order, without a heap (a history of a million lines).
    """

    def __init__(self, sources: Iterable[str], hold: float) -> None:
        self.hold = hold
        self.open = set(sources)
        self.in_history = set(self.open)
        self.latest: dict[str, int] = {}
        self.heap: list[tuple[int, int, float, LogLine]] = []
        self._seq = itertools.count()
        self._single = len(self.open) == 1 and hold <= 0
        self._lines: list[LogLine] = []  # one container: what `release` hands out next

    def add_many(self, lines: list[LogLine], now: float) -> None:
        if not self._single:
            for line in lines:
                self.add(line, now)
            return
        if lines:
            self._lines += lines
            source = lines[0].container
            newest = max(map(_TS_NS, lines))
            if newest > self.latest.get(source, -1):
                self.latest[source] = newest

    def add(self, line: LogLine, now: float) -> None:
        if self._single:
            self.add_many([line], now)
            return
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
        if self._single:
            # Each line of one container is at or below its own watermark and due at once: all go, sorted
            # as the heap would (stable: equal timestamps keep their order).
            out, self._lines = self._lines, []
            out.sort(key=_TS_NS)
            return out
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
        if self._single or not self.heap:
            return None
        ts_ns, _, due, _ = self.heap[0]
        watermark = self._watermark()
        if (watermark is not None and ts_ns > watermark) or due <= now:
            return None
        return due


_TS_NS = attrgetter("ts_ns")

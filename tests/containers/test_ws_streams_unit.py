"""Pure logic behind the websockets, without an engine: frames, lines, filters, bounded queues, merging,
stats arithmetic."""

from __future__ import annotations

import asyncio
import struct

import pytest

from containers.streams import Control, LineFilter, Subscriber, reduce_stats
from containers.streams.frames import (
    Demultiplexer,
    LogLine,
    LogParser,
    engine_since,
    parse_since,
    timestamp_ns,
)
from containers.streams.merge import Merger

TS = "2026-01-02T03:04:05.123456789Z"


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_frames_split_anywhere_come_out_whole() -> None:
    data = frame(1, b"hello\n") + frame(2, b"") + frame(2, b"oops\n") + frame(1, b"x" * 70_000)
    for step in (1, 3, 8, 9, 4096):
        demux = Demultiplexer()
        out: dict[int, bytes] = {}
        ends = 0
        for start in range(0, len(data), step):
            for stream, piece, complete in demux.feed(data[start : start + step]):
                out[stream] = out.get(stream, b"") + piece
                ends += complete
        assert out == {1: b"hello\n" + b"x" * 70_000, 2: b"oops\n"} and ends == 3


def test_log_entries_keep_their_stream_timestamp_and_text() -> None:
    parser = LogParser("web", tty=False)
    data = frame(1, f"{TS} one\n{TS} two\n".encode()) + frame(2, f"{TS} bad\xff\r\n".encode("latin-1"))
    lines = parser.feed(data[:5]) + parser.feed(data[5:])
    assert [(x.stream, x.text) for x in lines] == [
        ("stdout", "one"),
        ("stdout", "two"),
        ("stderr", "bad\ufffd"),
    ]
    assert lines[0].ts == TS and lines[0].ts_ns == timestamp_ns(TS)
    # An entry the engine split (no newline at the end of the frame) is a line of its own.
    assert [x.text for x in parser.feed(frame(1, f"{TS} partial".encode()))] == ["partial"]


def test_a_terminal_stream_is_split_into_lines_across_chunks() -> None:
    parser = LogParser("tty", tty=True)
    assert parser.feed(f"{TS} fir".encode()) == []
    lines = parser.feed(f"st\r\n{TS} second\r\nno stamp\r\n{TS} tail".encode())
    assert [(x.ts, x.text) for x in lines] == [(TS, "first"), (TS, "second"), ("", "no stamp")]
    assert [x.text for x in parser.flush()] == ["tail"]


def test_timestamps_keep_nanoseconds() -> None:
    ns = timestamp_ns(TS)
    assert ns % 1_000_000_000 == 123456789 and engine_since(ns).endswith(".123456789")
    assert timestamp_ns("2026-01-02T03:04:05Z") == ns - 123456789
    assert timestamp_ns("garbage") == 0
    assert parse_since("10m", now=1000.0) == "400.000000000"
    assert parse_since("1700000000.5", now=0) == "1700000000.5"
    assert parse_since("1970-01-01T00:01:00Z", now=0) == "60.000000000"
    with pytest.raises(ValueError, match="not a unix time"):
        parse_since("yesterday", now=0)


def test_filters_match_substrings_or_regexes_and_refuse_catastrophic_ones() -> None:
    line = LogLine("c", "stderr", TS, 0, "ERROR: disk full")
    assert LineFilter.build("error").accepts(line)
    assert not LineFilter.build("error", case=True).accepts(line)
    assert LineFilter.build(r"disk \w+$", regex=True).accepts(line)
    assert not LineFilter.build("", stream="stdout").accepts(line)
    assert LineFilter.build("a.b").accepts(LogLine("c", "stdout", TS, 0, "a.b")) is True
    assert not LineFilter.build("a.b").accepts(LogLine("c", "stdout", TS, 0, "axb"))
    for pattern in ("(a+)+$", "(x*)*", "(?:a|b+)*c"):
        with pytest.raises(ValueError, match="repeats a repetition"):
            LineFilter.build(pattern, regex=True)
    with pytest.raises(ValueError, match="stream"):
        LineFilter.build("", stream="both")


def test_a_full_queue_drops_and_counts_lines_but_never_controls() -> None:
    async def scenario() -> None:
        subscriber = Subscriber(max_items=3, batch_items=2)
        for i in range(5):
            subscriber.offer(i, size=1)
        subscriber.control(Control("status", "c"))
        assert subscriber.full.is_set()
        items, skipped = subscriber.take()
        assert items[:3] == [0, 1, 2] and isinstance(items[3], Control) and skipped == 2
        assert not subscriber.ready.is_set() and subscriber.take() == ([], 0)
        bytes_bound = Subscriber(max_items=100, max_bytes=10)
        for _ in range(4):
            bytes_bound.offer("x", size=4)
        assert bytes_bound.take() == (["x", "x"], 2)

    asyncio.run(scenario())


def test_merging_waits_for_histories_and_holds_live_lines() -> None:
    def line(container: str, ns: int) -> LogLine:
        return LogLine(container, "stdout", str(ns), ns, f"{container}{ns}")

    merger = Merger(["a", "b"], hold=1.0)
    merger.add(line("a", 10), now=0)
    merger.add(line("a", 30), now=0)
    assert merger.release(now=0) == []  # b may still send something older
    merger.add(line("b", 20), now=0)
    assert [x.text for x in merger.release(now=0)] == ["a10", "b20"]
    merger.caught_up("b")
    assert [x.text for x in merger.release(now=0)] == ["a30"]  # only a's history is open: up to its latest
    merger.caught_up("a")
    merger.add(line("b", 50), now=5)
    merger.add(line("a", 40), now=5.5)
    assert merger.release(now=5.9) == [] and merger.next_due(5.9) == 6.5
    assert [x.text for x in merger.release(now=6.6)] == ["a40", "b50"]
    merger.ended("a")
    merger.ended("b")
    assert merger.finished


def test_stats_are_reduced_the_way_docker_stats_does() -> None:
    raw = {
        "read": "2026-01-01T00:00:02Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000},
            "system_cpu_usage": 20_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
        "memory_stats": {"usage": 50_000, "limit": 100_000, "stats": {"total_inactive_file": 10_000}},
        "networks": {"eth0": {"rx_bytes": 300, "tx_bytes": 30}, "eth1": {"rx_bytes": 100, "tx_bytes": 0}},
        "blkio_stats": {
            "io_service_bytes_recursive": [{"op": "Read", "value": 7}, {"op": "write", "value": 9}]
        },
        "pids_stats": {"current": 4},
    }
    previous = {"ts": "2026-01-01T00:00:00Z", "net_rx": 200, "net_tx": 30, "blk_read": 7, "blk_write": 1}
    frame = reduce_stats(raw, previous)
    assert frame is not None
    assert frame["cpu_percent"] == 40.0  # 2M of 10M system time, on 2 CPUs
    assert (frame["mem_usage"], frame["mem_percent"]) == (40_000, 40.0)  # reclaimable cache excluded
    assert (frame["net_rx"], frame["net_tx"], frame["blk_read"], frame["blk_write"]) == (400, 30, 7, 9)
    assert (frame["net_rx_rate"], frame["blk_write_rate"], frame["pids"]) == (100.0, 4.0, 4)
    assert reduce_stats({"read": "0001-01-01T00:00:00Z"}) is None  # a stopped container

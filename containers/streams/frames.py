"""Docker stream formats: multiplexed 8-byte frames, timestamped log entries, and per-viewer line filters."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

STREAMS = {0: "stdin", 1: "stdout", 2: "stderr", 3: "stderr"}  # 3: the engine's own error (exec start)
_HEADER = struct.Struct(">BxxxL")
# A log line longer than this is cut (the engine itself splits entries at 16 KiB).
MAX_LINE_BYTES = 16 * 1024
MAX_PATTERN_CHARS = 500


class Demultiplexer:
    """Splits `[stream, 0, 0, 0, size]` + payload frames out of arbitrary chunks, streaming large payloads."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._stream = 0
        self._remaining = 0  # payload bytes of the current frame not yet returned

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes, bool]]:
        """Yield (stream, payload piece, frame complete) for every piece of payload in `chunk`."""
        buffer = self._buffer
        buffer += chunk
        pos = 0
        size = len(buffer)
        while pos < size:
            if self._remaining == 0:
                if size - pos < _HEADER.size:
                    break
                self._stream, self._remaining = _HEADER.unpack_from(buffer, pos)
                pos += _HEADER.size
                if self._remaining == 0:
                    continue
            end = min(size, pos + self._remaining)
            if end == pos:
                break
            self._remaining -= end - pos
            yield self._stream, bytes(buffer[pos:end]), self._remaining == 0
            pos = end
        del buffer[:pos]


@lru_cache(maxsize=256)
def _epoch_seconds(whole_seconds: str) -> int:
    # Lines of one second share this prefix, so the cache makes parsing a million lines cheap.
    return int(datetime.fromisoformat(whole_seconds).replace(tzinfo=UTC).timestamp())


def timestamp_ns(ts: str) -> int:
    """Nanoseconds since the epoch of an engine timestamp (`2026-01-02T03:04:05.123456789Z`); 0 if invalid."""
    whole, _, fraction = ts.rstrip("Z").partition(".")
    try:
        return _epoch_seconds(whole) * 1_000_000_000 + (int(fraction[:9].ljust(9, "0")) if fraction else 0)
    except ValueError:
        return 0


def engine_since(ns: int) -> str:
    """The engine's `since` form (`seconds.nanoseconds`) of a time in nanoseconds."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


_DURATION = re.compile(r"^(?P<value>\d+(\.\d+)?)(?P<unit>s|m|h|d)$")


def parse_since(value: str, now: float) -> str:
    """A user's `since` (unix time, RFC 3339 or a duration such as `10m`) as the engine takes it."""
    value = value.strip()
    if not value:
        return ""
    if re.fullmatch(r"\d+(\.\d{1,9})?", value):
        return value
    duration = _DURATION.match(value)
    if duration:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration["unit"]]
        return f"{now - float(duration['value']) * scale:.9f}"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"since={value!r} is not a unix time, an RFC 3339 time or a duration such as 10m."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.timestamp():.9f}"


@dataclass(slots=True, eq=False)
class LogLine:
    """One log line as viewers get it; its JSON is made once and shared by every viewer."""

    container: str
    stream: str
    ts: str
    ts_ns: int
    text: str
    _json: str = field(default="", repr=False)

    def as_json(self, with_ts: bool = True) -> str:
        # Written out rather than json.dumps of a dict: the same document, at a fraction of the cost.
        if not with_ts:
            return (
                f'{{"container":{_string(self.container)},"stream":{_string(self.stream)},'
                f'"ts":null,"text":{_string(self.text)}}}'
            )
        if not self._json:
            self._json = (
                f'{{"container":{_string(self.container)},"stream":{_string(self.stream)},'
                f'"ts":{_string(self.ts)},"text":{_string(self.text)}}}'
            )
        return self._json


_string = json.encoder.encode_basestring_ascii  # a JSON string, as json.dumps writes it (C)
_FRACTION_SCALE = tuple(10 ** (9 - digits) for digits in range(10))
_SECOND = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")  # what the engine's stamps start with
# A frame larger than this is handed over in pieces as it arrives rather than waited for whole (the engine
# splits log entries at 16 KiB, so log frames never come near it).
MAX_FRAME_WAIT = 1024 * 1024


class LogParser:
    """Turns an engine log stream (requested with `timestamps=1`) into LogLines: frames, or raw with a TTY.

    The hot path of every log stream (a million lines of history pass here): whole frames are cut out of
    each chunk in one loop, and lines of the same second share the parse of their timestamp's date part.
    """

    def __init__(self, container: str, tty: bool) -> None:
        self.container = container
        self.tty = tty
        self._rest = b""  # the start of a frame (header or payload) that the next chunk completes
        self._stream = 0  # a frame too large to wait for: its stream, and payload bytes still to come
        self._remaining = 0
        self._pending: dict[int, bytearray] = {}  # per stream: payload of an unfinished frame or line
        # The date and time to the second of the last timestamp (bytes; as text with the dot that follows it,
        # what a stamp of that second starts with) and its nanoseconds. The first prefix matches no stamp: a
        # stamp's 21st character is a digit.
        self._second = b""
        self._second_prefix = "\x00" * 21
        self._second_ns = 0

    def feed(self, chunk: bytes) -> list[LogLine]:
        if self.tty:
            return self._lines(1, chunk, final=False)
        data = self._rest + chunk if self._rest else chunk
        size = len(data)
        pos = 0
        lines: list[LogLine] = []
        append = lines.append
        pending = self._pending
        unpack = _HEADER.unpack_from
        entry = self._entry
        container, scale = self.container, _FRACTION_SCALE
        second, second_ns = self._second_prefix, self._second_ns
        while pos < size:
            if self._remaining:
                end = min(size, pos + self._remaining)
                self._remaining -= end - pos
                lines += self._lines(self._stream, data[pos:end], final=not self._remaining)
                pos = end
                continue
            if size - pos < 8:
                break
            stream, length = unpack(data, pos)
            start = pos + 8
            end = start + length
            if end > size:
                if length <= MAX_FRAME_WAIT:
                    break
                self._stream, self._remaining = stream, length
                pos = start
                continue
            pos = end
            if not length:
                continue
            if pending and pending.get(stream):
                lines += self._lines(stream, data[start:end], final=True)
                continue
            # Each frame is one or more whole entries; an entry the engine split (>16 KiB) stays one line.
            name = STREAMS.get(stream, "stdout")
            if data[end - 1] != 10 or length > MAX_LINE_BYTES or data.find(b"\n", start, end - 1) >= 0:
                for part in data[start:end].split(b"\n"):
                    if part:
                        append(entry(name, part))
                second, second_ns = self._second_prefix, self._second_ns
                continue
            # One line (the usual frame): `_entry` inlined for a stamp of the second seen last. The line is
            # decoded at once: the stamp is ASCII, so the text decodes as it would on its own.
            ts, sep, text = data[start : end - 1].decode("utf-8", "replace").partition(" ")
            if sep and ts.startswith(second) and len(ts) <= 30 and ts[-1:] == "Z":
                fraction = ts[20:-1]
                if fraction.isdigit() and fraction.isascii():
                    if text[-1:] == "\r":
                        text = text[:-1]
                    ns = second_ns + int(fraction) * scale[len(fraction)]
                    append(LogLine(container, name, ts, ns, text))
                    continue
            append(entry(name, data[start : end - 1]))
            second, second_ns = self._second_prefix, self._second_ns
        self._rest = data[pos:] if pos < size else b""
        return lines

    def flush(self) -> list[LogLine]:
        lines: list[LogLine] = []
        for stream in list(self._pending):
            lines += self._lines(stream, b"", final=True)
        return lines

    def _entry(self, stream: str, raw: bytes) -> LogLine:
        ts, sep, text = raw.partition(b" ")
        if not sep or ts[-1:] != b"Z":  # no timestamp: keep the whole line as text
            ts, text = b"", raw
        if text[-1:] == b"\r":
            text = text[:-1]
        decoded = text[:MAX_LINE_BYTES].decode("utf-8", "replace")
        if not ts:
            return LogLine(self.container, stream, "", 0, decoded)
        stamp = ts.decode("ascii", "replace")
        return LogLine(self.container, stream, stamp, self._stamp_ns(ts, stamp), decoded)

    def _stamp_ns(self, ts: bytes, stamp: str) -> int:
        """timestamp_ns(stamp), without parsing a date for every line of the same second."""
        second = ts[:19]  # 2026-01-02T03:04:05
        if second != self._second:
            if not _SECOND.fullmatch(second):
                return timestamp_ns(stamp)
            text = second.decode("ascii")
            try:
                self._second_ns = _epoch_seconds(text) * 1_000_000_000
            except ValueError:
                return timestamp_ns(stamp)
            self._second, self._second_prefix = second, text + "."
        rest = ts[19:]
        if rest == b"Z":
            return self._second_ns
        fraction = rest[1:-1]
        if rest[:1] == b"." and 0 < len(fraction) <= 9 and fraction.isdigit():
            return self._second_ns + int(fraction) * _FRACTION_SCALE[len(fraction)]
        return timestamp_ns(stamp)

    def _lines(self, stream: int, piece: bytes, *, final: bool) -> list[LogLine]:
        pending = self._pending.get(stream)
        if pending:
            pending += piece
            data = bytes(pending)
            pending.clear()
        else:
            data = piece
        parts = data.split(b"\n")
        rest = parts.pop()
        if rest and not final and len(rest) <= MAX_LINE_BYTES:
            self._pending.setdefault(stream, bytearray()).extend(rest)
        elif rest:
            parts.append(rest)
        name = STREAMS.get(stream, "stdout")
        return [self._entry(name, part) for part in parts if part]


def _has_nested_repeat(pattern: str) -> bool:
    """Whether a regex repeats something that itself repeats (`(a+)+`): the catastrophic backtracking kind."""
    import re._parser as sre_parse  # the stdlib's own parser, so the check sees what `re` will compile

    def walk(items: Any, inside_repeat: bool) -> bool:
        for op, arg in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, body = arg
                repeats = high > 1
                if inside_repeat and repeats:
                    return True
                if walk(body, inside_repeat or repeats):
                    return True
            elif name == "SUBPATTERN":
                if walk(arg[-1], inside_repeat):
                    return True
            elif name == "BRANCH" and any(walk(branch, inside_repeat) for branch in arg[1]):
                return True
        return False

    return walk(sre_parse.parse(pattern), False)


@dataclass(frozen=True)
class LineFilter:
    """A viewer's filter: substring or regex on the text, case flag, and which stream."""

    text: str = ""
    regex: bool = False
    case: bool = False
    stream: str = "all"
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(
        cls, text: str = "", *, regex: bool = False, case: bool = False, stream: str = "all"
    ) -> LineFilter:
        """A filter, or ValueError with a message for the user."""
        if stream not in ("all", "stdout", "stderr"):
            raise ValueError(f"stream={stream!r}: use stdout, stderr or all.")
        if len(text) > MAX_PATTERN_CHARS:
            raise ValueError(f"The filter is longer than {MAX_PATTERN_CHARS} characters.")
        pattern = None
        if text:
            try:
                pattern = re.compile(text if regex else re.escape(text), 0 if case else re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"The filter is not a valid regular expression: {exc}.") from None
            # Python's re has no time limit: one pathological pattern would stall every viewer of the process.
            if regex and _has_nested_repeat(text):
                raise ValueError("The regular expression repeats a repetition (like (a+)+); simplify it.")
        return cls(text, regex, case, stream, pattern)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LineFilter:
        """A filter from query parameters or a client message (`filter`, `regex`, `case`, `stream`)."""
        return cls.build(
            str(params.get("filter") or ""),
            regex=as_bool(params.get("regex"), False),
            case=as_bool(params.get("case"), False),
            stream=str(params.get("stream") or "all"),
        )

    @property
    def passes_all(self) -> bool:
        """No text and every stream: the filter lets every line through."""
        return self._pattern is None and self.stream == "all"

    def accepts(self, line: LogLine) -> bool:
        if self.stream != "all" and line.stream != self.stream:
            return False
        return self._pattern is None or self._pattern.search(line.text) is not None

    def describe(self) -> dict[str, Any]:
        return {"filter": self.text, "regex": self.regex, "case": self.case, "stream": self.stream}


def as_bool(value: Any, default: bool) -> bool:
    """A flag from a query parameter or JSON (`1`, `true`, `yes`, `on`); ValueError for anything else."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a flag: use 1 or 0.")

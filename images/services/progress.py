"""Turning the engine's JSON-lines streams (pull, push, build) into a job's progress and result.

Pull/push lines carry `status`, `id` (a layer) and `progressDetail` (current/total bytes); build lines carry
`stream` text ("Step 2/5 : RUN ...") and `aux` (the image ID); any of them may be an error inside the 200:
`{"errorDetail": {"message": ...}, "error": ...}`, raised here as StreamError with the engine's message.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LINES = 500
MAX_LINE_CHARS = 2000
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})$")
_REMOVING = re.compile(r"^Removing intermediate container ([0-9a-f]{12,64})$")
_BUILT = re.compile(r"^Successfully built ([0-9a-f]{12,64})$")
_TAGGED = re.compile(r"^Successfully tagged (\S+)$")
_DIGEST = re.compile(r"(?:^Digest: |digest: )(sha256:[0-9a-f]{64})")
# Layer statuses after which nothing more happens to the layer.
_LAYER_DONE = {"pull complete", "already exists", "pushed", "layer already exists", "mounted from"}


class StreamError(Exception):
    """The engine reported an error inside a 200 stream; `message` is its own text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def raise_if_error(line: dict[str, Any]) -> None:
    if "errorDetail" in line or "error" in line:
        detail = line.get("errorDetail") or {}
        message = (detail.get("message") if isinstance(detail, dict) else None) or line.get("error")
        raise StreamError(str(message or "the engine reported an error without a message").strip())


class LayerProgress:
    """Per-layer progress of a pull or a push, and the digest the engine reports."""

    def __init__(self, phase: str) -> None:
        self.phase = phase  # "pull" or "push"
        self.layers: dict[str, dict[str, Any]] = {}
        self.message = ""
        self.digest = ""
        self.aux: dict[str, Any] = {}

    def feed(self, line: dict[str, Any]) -> None:
        raise_if_error(line)
        if isinstance(line.get("aux"), dict):
            self.aux.update(line["aux"])
        status = str(line.get("status") or "")
        match = _DIGEST.search(status)
        if match:
            self.digest = match.group(1)
        layer_id = line.get("id")
        detail = line.get("progressDetail") or {}
        if not layer_id or not _is_layer(status):
            if status:
                self.message = status
            return
        layer = self.layers.setdefault(str(layer_id), {"status": "", "current": 0, "total": 0, "done": False})
        layer["status"] = status
        if isinstance(detail, dict) and "current" in detail:
            total = int(detail.get("total") or 0)
            current = int(detail.get("current") or 0)
            # A push counts uncompressed bytes against a compressed total and overshoots it near the end.
            layer["current"], layer["total"] = (min(current, total) if total else current), total
        lowered = status.lower()
        if any(lowered.startswith(done) for done in _LAYER_DONE):
            layer["done"] = True
            if layer["total"]:
                layer["current"] = layer["total"]

    def percent(self) -> float:
        if not self.layers:
            return 0.0
        fractions = [_layer_fraction(self.phase, layer) for layer in self.layers.values()]
        return round(100 * sum(fractions) / len(fractions), 1)

    def snapshot(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "message": self.message,
            "percent": self.percent(),
            "layers": self.layers,
            "current": sum(layer["current"] for layer in self.layers.values()),
            "total": sum(layer["total"] for layer in self.layers.values()),
        }


def _is_layer(status: str) -> bool:
    # Lines like "Pulling from x" or "Digest: ..." carry an id (a tag) but are not about a layer.
    lowered = status.lower()
    return not lowered.startswith(("pulling from", "digest:", "status:", "the push refers")) and not (
        _DIGEST.search(status)
    )


def _layer_fraction(phase: str, layer: dict[str, Any]) -> float:
    if layer["done"]:
        return 1.0
    total = layer["total"]
    part = min(layer["current"] / total, 1.0) if total else 0.0
    status = str(layer["status"]).lower()
    if phase == "pull":
        # Downloading is the first half of a pulled layer, extracting the second.
        if status.startswith("extracting"):
            return 0.5 + part / 2
        if status.startswith(("download complete", "verifying")):
            return 0.5
        return part / 2
    return part


class BuildProgress:
    """Step n of m, the output lines (the last MAX_LINES), the current intermediate container, the image."""

    def __init__(self) -> None:
        self.step = 0
        self.steps = 0
        self.instruction = ""
        self.lines: list[str] = []
        self.dropped = 0
        self.container = ""  # the intermediate container of the running step
        self.image_id = ""
        self.tagged: list[str] = []
        self.pulls = LayerProgress("pull")  # a FROM image being pulled
        self._partial = ""

    def feed(self, line: dict[str, Any]) -> None:
        raise_if_error(line)
        aux = line.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        if "stream" in line:
            self._text(str(line["stream"]))
        elif "status" in line:
            self.pulls.feed(line)

    def _text(self, text: str) -> None:
        text = self._partial + text
        *complete, self._partial = text.split("\n")
        for raw in complete:
            self._line(raw.rstrip("\r"))

    def _line(self, line: str) -> None:
        if match := _STEP.match(line):
            self.step, self.steps, self.instruction = int(match[1]), int(match[2]), match[3]
        elif match := _RUNNING_IN.match(line):
            self.container = match[1]
        elif (match := _REMOVING.match(line)) and self.container and match[1].startswith(self.container[:12]):
            self.container = ""
        elif match := _BUILT.match(line):
            self.image_id = self.image_id or match[1]
        elif match := _TAGGED.match(line):
            self.tagged.append(match[1])
        self.lines.append(line[:MAX_LINE_CHARS])
        if len(self.lines) > MAX_LINES:
            excess = len(self.lines) - MAX_LINES
            del self.lines[:excess]
            self.dropped += excess

    def finish(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""

    def percent(self) -> float:
        if not self.steps:
            return 0.0
        return round(100 * max(self.step - 1, 0) / self.steps, 1)

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "phase": "build",
            "step": self.step,
            "steps": self.steps,
            "instruction": self.instruction,
            "percent": self.percent(),
            "lines": list(self.lines),
            "lines_dropped": self.dropped,
            "message": f"Step {self.step}/{self.steps}: {self.instruction}" if self.steps else "",
        }
        if self.pulls.layers:
            state["pull"] = self.pulls.snapshot()
        return state

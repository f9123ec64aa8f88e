"""Progress of pull and push streams (pure logic: lines as the engine writes them)."""

from __future__ import annotations

import pytest

from images.services.progress import LayerProgress, StreamError


def test_a_push_that_overshoots_its_total_is_capped_and_completes() -> None:
    push = LayerProgress("push")
    push.feed({"status": "The push refers to repository [localhost:5000/app]"})
    push.feed({"status": "Pushing", "id": "a1", "progressDetail": {"current": 1024, "total": 2048}})
    assert push.snapshot()["current"] == 1024 and push.percent() == 50.0
    push.feed({"status": "Pushing", "id": "a1", "progressDetail": {"current": 2100, "total": 2048}})
    assert push.layers["a1"]["current"] == 2048 and push.percent() == 100.0
    push.feed({"status": "Pushed", "id": "a1", "progressDetail": {}})
    push.feed({"status": "1: digest: sha256:" + "ab" * 32 + " size: 528"})
    snapshot = push.snapshot()
    assert (snapshot["current"], snapshot["total"], snapshot["percent"]) == (2048, 2048, 100.0)
    assert push.digest == "sha256:" + "ab" * 32


def test_a_pulled_layer_is_half_download_half_extraction_and_errors_raise() -> None:
    pull = LayerProgress("pull")
    pull.feed({"status": "Pulling from app", "id": "1"})
    assert pull.layers == {}  # a tag line, not a layer
    pull.feed({"status": "Downloading", "id": "l1", "progressDetail": {"current": 50, "total": 100}})
    assert pull.percent() == 25.0
    pull.feed({"status": "Extracting", "id": "l1", "progressDetail": {"current": 100, "total": 100}})
    assert pull.percent() == 100.0
    with pytest.raises(StreamError, match="manifest unknown"):
        pull.feed({"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"})

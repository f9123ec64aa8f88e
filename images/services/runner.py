"""Running one job in a worker: claim a slot, re-admit, stream the engine operation, report progress,
honour cancel and the time limit, record the outcome.

The operation runs in an event loop (`async_to_sync`) so that one watcher coroutine can stop it from
outside: cancelling the task closes the engine stream, which stops a pull or build on the engine. The
watcher also writes the heartbeat and enforces the time limit, which the Celery threads pool cannot.
Database calls go through `sync_to_async`, which runs them on the worker's own thread and connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import F
from django.utils import timezone

from hosts.access import AccessDenied, Caller
from hosts.engine import EngineError, EngineTarget, HostUnreachable, async_client
from hosts.engine.errors import raise_for_status, translate_errors
from hosts.engine.request import BadReference, EngineRequest
from hosts.policy import Denied
from images import conf
from images.models import Job, JobKind, JobStatus, Registry
from images.registry import (
    ANONYMOUS_AUTH,
    matching_registry,
    registry_auth_header,
    registry_config_header,
)
from images.services import contexts, jobs
from images.services.calls import admit_job
from images.services.progress import BuildProgress, LayerProgress, StreamError

logger = logging.getLogger(__name__)


class RetryLater(Exception):
    """The host could not be reached before any work started; the task retries after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:g} s")
        self.delay = delay


@dataclass
class _Outcome:
    status: JobStatus
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class _Reporter:
    """Saves progress at most every `interval` seconds (the last one is never lost) and broadcasts it."""

    def __init__(self, job: Job, run_id: uuid.UUID) -> None:
        self.job_id, self.run_id, self.user_id = job.pk, run_id, job.user_id
        self.interval = conf.progress_interval()
        self.last = 0.0
        self.pending: dict[str, Any] | None = None
        self.latest: dict[str, Any] = {}

    async def report(self, progress: dict[str, Any]) -> None:
        self.pending = self.latest = progress
        if time.monotonic() - self.last >= self.interval:
            await self.flush()

    async def flush_due(self) -> None:
        """Save what is pending if the interval has passed (the watcher's call: quiet streams)."""
        if time.monotonic() - self.last >= self.interval:
            await self.flush()

    async def flush(self) -> None:
        if self.pending is None:
            return
        progress, self.pending = self.pending, None
        self.last = time.monotonic()
        state = await sync_to_async(_save_progress)(self.job_id, self.run_id, progress)
        if state is not None:
            await jobs.abroadcast({**state, "user_id": self.user_id})


def _save_progress(job_id: Any, run_id: uuid.UUID, progress: dict[str, Any]) -> dict[str, Any] | None:
    updated = Job.objects.filter(pk=job_id, run_id=run_id, status=JobStatus.RUNNING).update(
        progress=progress, updated_at=timezone.now(), seq=F("seq") + 1
    )
    return jobs.state_of(job_id) if updated else None


def _poll(job_id: Any, run_id: uuid.UUID, beat: bool) -> bool:
    """Whether cancel was asked; writes the heartbeat when `beat`."""
    if beat:
        Job.objects.filter(pk=job_id, run_id=run_id).update(heartbeat_at=timezone.now())
    return bool(Job.objects.filter(pk=job_id).values_list("cancel_requested", flat=True).first())


@dataclass(frozen=True)
class _Credentials:
    """The registry headers a run needs, worked out before the event loop (they read the database)."""

    auth: dict[str, str]  # X-Registry-Auth by image reference
    build_config: str  # X-Registry-Config

    @classmethod
    def of(cls, job: Job) -> _Credentials:
        registries = list(Registry.objects.usable_by(job.user).prefetch_related("teams"))
        params = job.params
        images = [params["image"]] if params.get("image") else []
        images += list(params.get("tags") or [])
        auth = {}
        for image in images:
            chosen = next((r for r in registries if r.pk == job.registry_id), None)
            if chosen is None or matching_registry([chosen], image) is None:
                chosen = matching_registry(registries, image)
            auth[image] = registry_auth_header(chosen)
        return cls(auth, registry_config_header(registries) if job.kind == JobKind.BUILD else "")

    def for_image(self, image: str) -> str:
        return self.auth.get(image) or ANONYMOUS_AUTH


class _Run:
    """One run of one job, inside the event loop."""

    def __init__(self, job: Job, run_id: uuid.UUID, credentials: _Credentials) -> None:
        self.job, self.run_id, self.credentials = job, run_id, credentials
        self.params = jobs.run_params(job)
        self.target = EngineTarget.of(job.host)
        self.reporter = _Reporter(job, run_id)
        self.limit = conf.job_time_limit()
        self.stop_reason = ""  # "cancel" or "timeout" once the watcher stopped the work
        self.started_work = False
        self.build: BuildProgress | None = None

    async def main(self) -> _Outcome:
        work = asyncio.create_task(self._work())
        watch = asyncio.create_task(self._watch(work, time.monotonic() + self.limit))
        try:
            result = await work
            return _Outcome(JobStatus.SUCCEEDED, result=result)
        except asyncio.CancelledError:
            if not self.stop_reason:
                raise
            await self._remove_build_container()
            if self.stop_reason == "cancel":
                return _Outcome(
                    JobStatus.CANCELLED, error="Cancelled on request; the engine operation was stopped."
                )
            return _Outcome(JobStatus.FAILED, error=f"Stopped after the job time limit of {self.limit:g} s.")
        except StreamError as exc:
            await self._remove_build_container()
            return _Outcome(JobStatus.FAILED, error=exc.message)
        except HostUnreachable:
            if not self.started_work:
                raise
            return _Outcome(JobStatus.FAILED, error=f"Host {self.job.host.name!r} became unreachable.")
        except EngineError as exc:
            return _Outcome(JobStatus.FAILED, error=exc.message)
        except (AccessDenied, Denied, BadReference) as exc:
            return _Outcome(JobStatus.FAILED, error=f"Refused when the job started: {exc.message}")
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.reporter.flush()

    async def _watch(self, work: asyncio.Task[dict[str, Any]], deadline: float) -> None:
        """Heartbeat, cancel requests, the time limit, and trailing progress."""
        poll, beat_every = conf.cancel_poll_interval(), conf.heartbeat_interval()
        last_beat = time.monotonic()
        while not work.done():
            await asyncio.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))
            now = time.monotonic()
            if now >= deadline:
                self.stop_reason = "timeout"
                work.cancel()
                return
            beat = now - last_beat >= beat_every
            if await sync_to_async(_poll)(self.job.pk, self.run_id, beat):
                self.stop_reason = "cancel"
                work.cancel()
                return
            if beat:
                last_beat = now
            await self.reporter.flush_due()

    async def _work(self) -> dict[str, Any]:
        job = self.job
        # The calls are sent exactly as this second admission returned them.
        # From the run parameters (secret build args decrypted), not the stored, redacted ones.
        calls = await sync_to_async(admit_job)(Caller(job.user), job.host, job.kind, self.params)
        if job.kind == JobKind.PULL:
            return await self._pull(calls[0])
        if job.kind == JobKind.PUSH:
            return await self._push(job.params["image"], calls)
        if job.kind == JobKind.BUILD:
            return await self._build(calls[0], calls[1:])
        return await self._commit(calls[0])

    # Engine calls

    async def _stream(
        self,
        call: EngineRequest,
        headers: dict[str, str],
        feed: Callable[[dict[str, Any]], None],
        snapshot: Callable[[], dict[str, Any]],
        content: AsyncIterator[bytes] | None = None,
    ) -> None:
        """Make a streaming call and feed each JSON line; errors inside the 200 raise StreamError."""
        host = self.job.host.name
        with translate_errors(host, connect_timeout=5, read_timeout=self.limit):
            async with (
                async_client(self.target, read_timeout=self.limit) as client,
                client.stream(call.method, call.target(), headers=headers, content=content) as response,
            ):
                if not response.is_success:
                    await response.aread()
                    raise_for_status(response, host)
                self.started_work = True
                async for raw in response.aiter_lines():
                    if not raw.strip():
                        continue
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(line, dict):
                        feed(line)
                        await self.reporter.report(snapshot())

    async def _request(self, call: EngineRequest, *, started: bool = True) -> Any:
        host = self.job.host.name
        with translate_errors(host, connect_timeout=5, read_timeout=self.limit):
            async with async_client(self.target, read_timeout=self.limit) as client:
                response = await client.request(call.method, call.target())
        self.started_work = self.started_work or started
        raise_for_status(response, host)
        return response.json() if response.content else None

    async def _pull(self, call: EngineRequest) -> dict[str, Any]:
        query = call.query_dict
        reference = f"{query['fromImage'][0]}:{query['tag'][0]}"
        progress = LayerProgress("pull")
        auth = self.credentials.for_image(self.job.params["image"])
        await self._stream(call, {"X-Registry-Auth": auth}, progress.feed, progress.snapshot)
        await self.reporter.report({**progress.snapshot(), "percent": 100.0})
        details = await self._request(EngineRequest.build("GET", "/images/{image}/json", reference))
        return {
            "reference": reference,
            "image_id": details.get("Id", ""),
            "digest": progress.digest,
            "repo_digests": details.get("RepoDigests") or [],
            "message": progress.message,
        }

    async def _push(
        self, image: str, calls: list[EngineRequest], prefix: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        progress = LayerProgress("push")
        auth = self.credentials.for_image(image)

        def snapshot() -> dict[str, Any]:
            return {**(prefix or {}), **progress.snapshot(), "reference": image}

        for call in calls:
            if call.path.endswith("/tag"):
                await self._request(call, started=False)
            else:
                await self._stream(call, {"X-Registry-Auth": auth}, progress.feed, snapshot)
        await self.reporter.report({**snapshot(), "percent": 100.0})
        return {
            "reference": image,
            "digest": str(progress.aux.get("Digest") or progress.digest),
            "size": progress.aux.get("Size"),
        }

    async def _build(self, call: EngineRequest, pushes: list[EngineRequest]) -> dict[str, Any]:
        params = self.params
        self.build = build = BuildProgress()
        headers = {"X-Registry-Config": self.credentials.build_config}
        content = None
        if self.job.context:
            headers["Content-Type"] = "application/x-tar"
            content = contexts.stream(self.job.context)
        await self._stream(call, headers, build.feed, build.snapshot, content)
        build.finish()
        if not build.image_id:
            raise StreamError("The engine finished the build without reporting an image.")
        details = await self._request(EngineRequest.build("GET", "/images/{image}/json", build.image_id))
        result: dict[str, Any] = {
            "image_id": details.get("Id", build.image_id),
            "tags": params.get("tags") or [],
        }
        await self.reporter.report({**build.snapshot(), "percent": 100.0})
        if params.get("push"):
            # One push call per tag, in the order of the tags (calls.calls_for).
            prefix = {"build": build.snapshot()}
            result["pushed"] = [
                await self._push(tag, [push], prefix=prefix)
                for tag, push in zip(params.get("tags") or [], pushes, strict=True)
            ]
        return result

    async def _commit(self, call: EngineRequest) -> dict[str, Any]:
        await self.reporter.report({"phase": "commit", "message": "Committing", "percent": 0.0})
        created = await self._request(call)
        await self.reporter.report({"phase": "commit", "message": "Committed", "percent": 100.0})
        return {"image_id": (created or {}).get("Id", ""), "reference": self.job.params.get("image", "")}

    async def _remove_build_container(self) -> None:
        """A stopped build's intermediate container; the engine usually removes it, this makes sure."""
        if self.build is None or not self.build.container:
            return
        call = EngineRequest.build(
            "DELETE", "/containers/{container}", self.build.container, query={"force": "1"}
        )
        with contextlib.suppress(EngineError, OSError):
            await self._request(call, started=False)


def execute(job_id: Any, *, retries_left: int = 0, retry_delay: float = 0.0) -> None:
    """Run the job if it is queued and its host has a free slot; a finished or running job is left alone."""
    claimed = jobs.claim(job_id)
    if claimed is None:
        return
    job, run_id = claimed
    run = _Run(job, run_id, _Credentials.of(job))
    try:
        outcome = async_to_sync(run.main)()
    except HostUnreachable as exc:
        if retries_left > 0:
            jobs.wait_for_retry(
                job, run_id, f"Host {job.host.name!r} unreachable: {exc.message}.", retry_delay
            )
            raise RetryLater(retry_delay) from exc
        outcome = _Outcome(JobStatus.FAILED, error=f"Host {job.host.name!r} unreachable: {exc.message}")
    except Exception:
        logger.exception("job %s failed unexpectedly", job_id)
        outcome = _Outcome(
            JobStatus.FAILED, error="Internal error in dockerweb; the worker log has the details."
        )
    jobs.finish(
        job,
        run_id,
        outcome.status,
        result=outcome.result,
        error=outcome.error,
        progress=run.reporter.latest or None,
    )

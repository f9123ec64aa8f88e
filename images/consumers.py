"""Job progress over websockets: one job (`ws/jobs/<id>/`) or all of a user's jobs (`ws/jobs/`).

On connect the consumer joins the job's group first and only then reads the current state, so no change
falls between the two; every message carries the job's `seq`, and older snapshots than one already sent
are dropped. A client that reconnects therefore gets the whole state and misses nothing after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from hosts import access, visibility
from hosts.access import Caller

# The close codes are the live consumers' (an `{"type": "error", "message": ...}` message comes first).
from hosts.live import AccessWatch, CloseCode, Reject
from images.services import jobs

RECENT_JOBS = 50


class _JobSocket(AsyncJsonWebsocketConsumer):
    """Authentication on connect, group membership, and seq-ordered `job.update` relaying."""

    who: Caller

    async def connect(self) -> None:
        self.joined: list[str] = []
        self.seqs: dict[str, int] = {}
        self.closed = False
        self.ending: asyncio.Task[None] | None = None
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.reject(CloseCode.NOT_AUTHENTICATED, "Not signed in: use a session or a bearer token.")
            return
        self.who = access.caller(user, self.scope.get("token"))
        await self.start()
        if not self.closed:
            AccessWatch.add(self)  # the socket closes (4401/4404) once its token, user or job access is gone

    async def start(self) -> None:
        raise NotImplementedError

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.append(group)

    def still_allowed(self, who: Caller) -> None:
        """Re-authentication is all a socket of one's own jobs needs (AccessWatch)."""

    def end_session(self, reject: Reject) -> None:
        self.ending = asyncio.get_running_loop().create_task(self.reject(int(reject.code), reject.message))

    async def reject(self, code: int, message: str) -> None:
        self.closed = True
        AccessWatch.discard(self)
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "code": int(code), "message": message})
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []
        await self.close(code=int(code))

    async def disconnect(self, code: int) -> None:
        self.closed = True
        AccessWatch.discard(self)
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    def fresh(self, state: dict[str, Any]) -> bool:
        """Whether `state` is newer than what this client has of the job (and remember it)."""
        if state["seq"] <= self.seqs.get(state["id"], -1):
            return False
        self.seqs[state["id"]] = state["seq"]
        return True

    def wants(self, state: dict[str, Any]) -> bool:
        return True

    async def job_update(self, event: dict[str, Any]) -> None:
        state = {key: value for key, value in event["job"].items() if key != "user_id"}
        if self.wants(event["job"]) and self.fresh(state):
            await self.send_json({"type": "job", "job": state})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "error", "message": "This socket only sends; it takes no messages."})


class JobConsumer(_JobSocket):
    """One job: its state on connect, then every change."""

    async def start(self) -> None:
        job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        await self.join(jobs.job_group(job_id))
        state = await database_sync_to_async(_visible_state)(self.who, job_id)
        if state is None:
            await self.reject(CloseCode.NOT_FOUND, f"No job {job_id} is visible to you.")
            return
        self.job_id = job_id
        self.fresh(state)
        await self.send_json({"type": "job", "job": state})

    def still_allowed(self, who: Caller) -> None:
        if not jobs.visible_jobs(who).filter(pk=self.job_id).exists():
            raise Reject(CloseCode.NOT_FOUND, f"Job {self.job_id} is no longer visible to you.")


class JobsConsumer(_JobSocket):
    """A jobs panel: the caller's recent jobs on connect, then every change of their jobs.

    `?all=1` adds the jobs on hosts where the caller is admin (every job for a superuser).
    """

    async def start(self) -> None:
        query = self.scope.get("query_string", b"").decode("latin-1")
        self.everything = "all=1" in query.split("&") or "all=true" in query.split("&")
        self.user_id = self.who.user.pk
        self.admin_hosts: set[int] = set()
        if self.everything:
            self.admin_hosts = await database_sync_to_async(_admin_hosts)(self.who)
            await self.join(jobs.ALL_JOBS_GROUP)
        else:
            await self.join(jobs.user_group(self.user_id))
        states = await database_sync_to_async(_recent_states)(self.who, self.everything)
        for state in states:
            self.fresh(state)
        await self.send_json({"type": "jobs", "jobs": states})

    def wants(self, state: dict[str, Any]) -> bool:
        return state.get("user_id") == self.user_id or state.get("host") in self.admin_hosts

    def still_allowed(self, who: Caller) -> None:
        if self.everything:  # the hosts whose jobs it shows follow the caller's admin grants
            self.admin_hosts = _admin_hosts(who)


def _visible_state(who: Caller, job_id: str) -> dict[str, Any] | None:
    job = jobs.visible_jobs(who).filter(pk=job_id).first()
    return jobs.job_state(job) if job is not None else None


def _admin_hosts(who: Caller) -> set[int]:
    return set(visibility.admin_host_ids(who))


def _recent_states(who: Caller, everything: bool) -> list[dict[str, Any]]:
    visible = jobs.visible_jobs(who)
    if not everything:
        visible = visible.filter(user=who.user)
    return [jobs.job_state(job) for job in visible.order_by("-created_at")[:RECENT_JOBS]]

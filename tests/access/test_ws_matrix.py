"""The authorization matrix for websockets: every route x every kind of caller x every owner.

Routes are read from `dockerweb.routing`, so a route added without a row here fails
`test_every_websocket_route_is_in_the_matrix`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync

from dockerweb.routing import websocket_urlpatterns
from tests.access.test_matrix import (
    OWNERS,
    PRINCIPALS,
    Need,
    Principal,
    World,
    foreign_job,
    is_allowed,
    owned_objects,
    world,
)
from tests.containers.test_ws_support import Closed, communicator, receive

__all__ = ["owned_objects", "world"]  # fixtures shared with the REST matrix

pytestmark = pytest.mark.django_db(transaction=True)

DENIED_CODES = {4401, 4403, 4404}

# route pattern -> (need, about one container?, path for a world)
WS_MATRIX: dict[str, tuple[Need, bool, Callable[[World], str]]] = {
    "ws/hosts/<int:host_id>/containers/<str:container>/logs/": (
        Need.VIEWER,
        True,
        lambda w: f"/ws/hosts/{w.host.pk}/containers/{w.container}/logs/?tail=1&follow=0",
    ),
    "ws/hosts/<int:host_id>/containers/<str:container>/exec/": (
        Need.OPERATOR,
        True,
        lambda w: f"/ws/hosts/{w.host.pk}/containers/{w.container}/exec/?cmd=true&tty=0",
    ),
    # Attach without start=1 to the running container, then leave: a detach, the container goes on.
    "ws/hosts/<int:host_id>/containers/<str:container>/attach/": (
        Need.OPERATOR,
        True,
        lambda w: f"/ws/hosts/{w.host.pk}/containers/{w.container}/attach/",
    ),
    "ws/hosts/<int:host_id>/containers/<str:container>/stats/": (
        Need.VIEWER,
        True,
        lambda w: f"/ws/hosts/{w.host.pk}/containers/{w.container}/stats/",
    ),
    "ws/hosts/<int:host_id>/logs/": (
        Need.VIEWER,
        True,
        lambda w: f"/ws/hosts/{w.host.pk}/logs/?containers={w.container}&tail=1&follow=0",
    ),
    "ws/hosts/<int:host_id>/stats/": (Need.VIEWER, False, lambda w: f"/ws/hosts/{w.host.pk}/stats/"),
    "ws/events/": (Need.VIEWER, False, lambda w: f"/ws/events/?hosts={w.host.pk}"),
    "ws/jobs/": (Need.AUTHENTICATED, False, lambda w: "/ws/jobs/"),
    # Someone else's job: only admins of its host may watch it.
    "ws/jobs/<uuid:job_id>/": (Need.HOST_ADMIN, False, lambda w: f"/ws/jobs/{foreign_job(w).pk}/"),
}


def test_every_websocket_route_is_in_the_matrix() -> None:
    # The last route takes every path no other one does (dockerweb.routing.NoSuchRoute): nothing to grant.
    *routed, fallback = websocket_urlpatterns
    assert str(fallback.pattern) == ""
    routes = {str(pattern.pattern) for pattern in routed}
    assert routes == set(WS_MATRIX), f"add to / remove from the websocket matrix: {routes ^ set(WS_MATRIX)}"


async def verdict(path: str, token: str | None) -> tuple[bool, str]:
    """Whether the socket was let in (its first message is not a refusal), and what it said."""
    ws = communicator(path, token)
    connected, code = await ws.connect(timeout=10)
    if not connected:
        return False, f"rejected at connect ({code})"
    try:
        first = await receive(ws, 15)
    except Closed as closed:
        return closed.code not in DENIED_CODES, f"closed {closed.code}"
    if isinstance(first, dict) and first.get("type") == "error":
        try:
            while True:
                await receive(ws, 5)
        except Closed as closed:
            return closed.code not in DENIED_CODES, f"{closed.code} {first.get('message')}"
    await ws.disconnect()
    return True, str(first)[:200]


CASES = [
    (route, principal, owner)
    for route, principal in itertools.product(sorted(WS_MATRIX), PRINCIPALS)
    for owner in (OWNERS if WS_MATRIX[route][1] else [None])
]


@pytest.mark.parametrize(
    ("route", "principal", "owner"),
    CASES,
    ids=[f"{route.split('/')[-2]}:{p.name}:{owner}" for route, p, owner in CASES],
)
def test_ws_matrix(
    world: World, owned_objects: Callable[[str], str], route: str, principal: Principal, owner: str | None
) -> None:
    need, _, path = WS_MATRIX[route]
    world.container = owned_objects(owner or "red")
    token = world.tokens.get(principal.name)
    allowed, said = async_to_sync(verdict)(path(world), token)
    expected = is_allowed(need, principal, owner)
    assert allowed == expected, f"{principal.name} {route} on {owner}: {said}; expected {need.value}"

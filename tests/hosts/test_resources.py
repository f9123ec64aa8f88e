"""Networks, volumes and events of a host through the REST API, against the real engine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import Grant, Host, Role, Team
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(
    testbed: Testbed, client_for: Callable[[User | None], APIClient]
) -> Iterator[tuple[Host, APIClient, str]]:
    host = Host.objects.create(name="one", url=testbed.engine1.unix_url)
    team = Team.objects.create(name="red")
    dave = User.objects.create_user("dave")
    team.members.add(dave)
    Grant.objects.create(team=team, host=host, role=Role.OPERATOR)
    prefix = f"res-{uuid.uuid4().hex[:6]}"
    yield host, client_for(dave), prefix
    engine = docker.DockerClient(base_url=testbed.engine1.unix_url)
    for container in engine.containers.list(all=True, filters={"name": prefix}):
        container.remove(force=True)
    for network in engine.networks.list(names=[prefix]):
        network.remove()
    for volume in engine.volumes.list(filters={"name": prefix}):
        volume.remove(force=True)


def test_networks_volumes_and_who_uses_them(testbed: Testbed, setup: tuple[Host, APIClient, str]) -> None:
    host, api, prefix = setup
    base = f"/api/v1/hosts/{host.pk}"
    network = api.post(
        f"{base}/networks/", {"name": f"{prefix}-net", "subnet": "10.77.0.0/24"}, format="json"
    )
    assert network.status_code == 201, network.json()
    volume = api.post(f"{base}/volumes/", {"name": f"{prefix}-data"}, format="json")
    assert volume.status_code == 201, volume.json()
    assert volume.json()["Labels"]["dockerweb.owner.team"] == "red"
    run = api.post(
        f"{base}/containers/run/",
        {
            "image": testbed.images[0],
            "name": f"{prefix}-app",
            "command": ["sleep", "300"],
            "volumes": [{"volume": f"{prefix}-data", "target": "/data"}],
        },
        format="json",
    )
    assert run.status_code == 201, run.json()

    users = api.get(f"{base}/volumes/{prefix}-data/").json()["UsedBy"]
    assert [user["name"] for user in users] == [f"{prefix}-app"]
    connect = api.post(
        f"{base}/networks/{prefix}-net/connect/", {"container": f"{prefix}-app"}, format="json"
    )
    assert connect.status_code == 200, connect.json()
    listed = {n["Name"]: n for n in api.get(f"{base}/networks/").json()}
    assert [u["name"] for u in listed[f"{prefix}-net"]["UsedBy"]] == [f"{prefix}-app"]
    assert "bridge" not in listed, "the engine's own networks have no owner: not shown to operators"
    in_use = api.delete(f"{base}/volumes/{prefix}-data/")
    assert in_use.status_code == 409 and "in use" in in_use.json()["detail"]
    disconnect = api.post(
        f"{base}/networks/{prefix}-net/disconnect/", {"container": f"{prefix}-app"}, format="json"
    )
    assert disconnect.status_code == 200
    assert api.delete(f"{base}/networks/{prefix}-net/").status_code == 204


def test_the_policy_refuses_risky_volumes_and_networks(setup: tuple[Host, APIClient, str]) -> None:
    host, api, prefix = setup
    bind_volume = {"name": f"{prefix}-x", "driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}
    refused = api.post(f"/api/v1/hosts/{host.pk}/volumes/", bind_volume, format="json")
    assert refused.status_code == 403 and refused.json()["rule"] == "no-volume-driver-opts", refused.json()
    macvlan = api.post(
        f"/api/v1/hosts/{host.pk}/networks/", {"name": f"{prefix}-m", "driver": "macvlan"}, format="json"
    )
    assert macvlan.status_code == 403 and macvlan.json()["field"] == "Driver", macvlan.json()
    assert api.post(f"/api/v1/hosts/{host.pk}/volumes/prune/").status_code == 403


def test_events_between_since_and_until(testbed: Testbed, setup: tuple[Host, APIClient, str]) -> None:
    host, api, prefix = setup
    since = time.time() - 1
    created = api.post(
        f"/api/v1/hosts/{host.pk}/containers/run/",
        {"image": testbed.images[0], "name": f"{prefix}-ev", "command": ["true"]},
        format="json",
    )
    assert created.status_code == 201
    events = api.get(f"/api/v1/hosts/{host.pk}/events/?since={since}&until={time.time() + 1}").json()
    actions = [
        e["Action"] for e in events if e.get("Actor", {}).get("Attributes", {}).get("name") == f"{prefix}-ev"
    ]
    assert "create" in actions and "start" in actions
    bad = api.get(f"/api/v1/hosts/{host.pk}/events/?filters=nope")
    assert bad.status_code == 400 and "filters" in bad.json()["fields"]

"""The admission policy against the real engine: what it lets through the engine accepts, and what it
stops the raw engine would have accepted.

Every call goes through hosts.admission.admit, as from the REST API and the gateway: the caller is an
operator, and ownership comes from the engine's owner labels.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import docker
import pytest
import requests
from django.contrib.auth.models import User
from docker.errors import NotFound

from hosts import access, admission
from hosts.access import Caller, caller
from hosts.engine.request import BadReference, EngineRequest
from hosts.models import Grant, Host, Role, Team
from hosts.policy import OWNER_TEAM_LABEL, OWNER_USER_LABEL, Denied, apply_owner_labels
from tests.policy.corpus import (
    BIND_PREFIX,
    ESCALATIONS,
    IMAGE,
    OPT_VOLUME,
    ORDINARY,
    POLICY_MINE,
    POLICY_THEIRS,
    REGISTRY_IMAGE,
    SETTINGS,
    USER_NETWORK,
    Case,
)
from tests.testbed import Testbed

ME = ("opal", "team-a")
THEM = ("mallory", "team-b")


@pytest.fixture
def operator(db: None, testbed: Testbed) -> tuple[Caller, Host]:
    """ME: an operator through their team's grant, on a host whose policy settings are the corpus's."""
    host = Host.objects.create(name="policy", url=testbed.engine1.unix_url, policy=SETTINGS.to_dict())
    team = Team.objects.create(name=ME[1])
    user = User.objects.create_user(ME[0])
    team.members.add(user)
    Grant.objects.create(team=team, host=host, role=Role.OPERATOR)
    return caller(user), host


def post(api: docker.APIClient, case: Case, body: bytes) -> requests.Response:
    """Send the call to the engine as raw as the gateway would forward it."""
    path = case.path if case.path.startswith("/v1.") else "/v1.41" + case.path
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    response: requests.Response = api.post(api.base_url + path, data=body, headers=headers, timeout=30)
    return response


@pytest.fixture(scope="module")
def api(testbed: Testbed) -> Iterator[docker.APIClient]:
    client = docker.APIClient(base_url=testbed.engine1.unix_url, version="1.41", timeout=60)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def world(api: docker.APIClient, testbed: Testbed) -> Iterator[None]:
    """The corpus's fixed names made real: my container, theirs, a volume with options, a network."""
    own_tag = REGISTRY_IMAGE not in testbed.images  # never untag what the testbed itself pushed
    if own_tag:
        api.tag(IMAGE, *REGISTRY_IMAGE.rsplit(":", 1))
    for name, owner in ((POLICY_MINE, ME), (POLICY_THEIRS, THEM)):
        config = apply_owner_labels({"Image": IMAGE, "Cmd": ["sleep", "600"]}, *owner)
        api.create_container(config["Image"], config["Cmd"], name=name, labels=config["Labels"])
    # Harmless options, but options all the same: the policy must refuse to mount this volume.
    api.create_volume(OPT_VOLUME, driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    # Mine: joining a user-defined network needs it to be the caller's (or shared unowned).
    api.create_network(USER_NETWORK, labels=apply_owner_labels({}, *ME)["Labels"])
    try:
        yield
    finally:
        for name in (POLICY_MINE, POLICY_THEIRS):
            with contextlib.suppress(NotFound):
                api.remove_container(name, force=True, v=True)
        with contextlib.suppress(NotFound):
            api.remove_network(USER_NETWORK)
        for volume in api.volumes().get("Volumes") or []:
            if volume["Name"].startswith("policy-"):
                api.remove_volume(volume["Name"], force=True)
        if own_tag:
            with contextlib.suppress(NotFound):
                api.remove_image(REGISTRY_IMAGE)
        shutil.rmtree(BIND_PREFIX, ignore_errors=True)  # with what dockerd created there for Binds


def admit(case: Case, operator: tuple[Caller, Host]) -> bytes:
    """The call through the same admission as every entry point (role, ownership, policy)."""
    who, host = operator
    request = EngineRequest.parse(case.method, case.path, urlencode(case.query, doseq=True))
    admitted = admission.admit(who, host, replace(request, content_type=case.content_type, body=case.raw))
    return admitted.body


# Escalations whose path is not canonical: every entry point refuses them before admission (the policy's
# own handling of them is covered by the unit tests, which call it with the path as sent).
REFUSED_AT_THE_EDGE = frozenset({"dot-segment-path"})
CONTAINER_CREATES = [case for case in ORDINARY if case.is_container_create]
OBJECT_CREATES = [case for case in ORDINARY if case.path in ("/volumes/create", "/networks/create")]


@pytest.mark.parametrize("case", CONTAINER_CREATES, ids=lambda case: case.name)
def test_ordinary_creates_pass_the_policy_and_the_engine_accepts_them(
    case: Case, api: docker.APIClient, world: None, operator: tuple[Caller, Host]
) -> None:
    os.makedirs(os.path.join(BIND_PREFIX, "ro"), exist_ok=True)  # a Mounts bind source must exist
    response = post(api, case, admit(case, operator))
    assert response.status_code == 201, response.text
    container_id = response.json()["Id"]
    try:
        inspected = api.inspect_container(container_id)
        labels = inspected["Config"]["Labels"]
        assert (labels[OWNER_USER_LABEL], labels[OWNER_TEAM_LABEL]) == ME
        host_config = inspected["HostConfig"]
        assert SETTINGS.max_memory is not None
        assert 0 < host_config["Memory"] <= SETTINGS.max_memory
        assert host_config["NanoCpus"] > 0 or host_config["CpuQuota"] > 0
        assert access.owns(operator[0], operator[1], labels)
    finally:
        api.remove_container(container_id, force=True, v=True)


@pytest.mark.parametrize("case", OBJECT_CREATES, ids=lambda case: case.name)
def test_ordinary_volume_and_network_creates_are_accepted_and_owned(
    case: Case, api: docker.APIClient, world: None, operator: tuple[Caller, Host]
) -> None:
    response = post(api, case, admit(case, operator))
    assert response.status_code == 201, response.text
    if case.path == "/volumes/create":
        volume = api.inspect_volume(case.body["Name"])
        assert volume["Labels"][OWNER_USER_LABEL] == ME[0]
        assert not volume.get("Options")
        api.remove_volume(volume["Name"])
    else:
        network = api.inspect_network(response.json()["Id"])
        assert network["Labels"][OWNER_USER_LABEL] == ME[0]
        api.remove_network(network["Id"])


@pytest.mark.parametrize("case", ESCALATIONS, ids=lambda case: case.name)
def test_every_escalation_is_denied_with_facts_from_the_engine(
    case: Case, world: None, operator: tuple[Caller, Host]
) -> None:
    with pytest.raises((Denied, access.AccessDenied, BadReference)) as denied:
        admit(case, operator)
    refusal = denied.value
    if isinstance(refusal, BadReference):
        # Refused at the edge: a path the engine would route elsewhere than it reads never reaches admission.
        assert refusal.field == "path" and case.name in REFUSED_AT_THE_EDGE, refusal.message
    elif isinstance(refusal, access.AccessDenied):
        # Refused before the policy: the object is another team's (so hidden), or the call is admin-only.
        assert refusal.not_found or "admin" in refusal.message, refusal.message
    else:
        assert isinstance(refusal, Denied)
        assert (refusal.rule, refusal.field) == (case.rule, case.field), refusal.message


def _cap_add(inspected: dict[str, Any]) -> list[str]:
    return inspected["HostConfig"]["CapAdd"] or []


# Escalations the raw engine takes (create only, never started), with what it then holds.
RAW_ENGINE_ACCEPTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "privileged-lowercase": lambda c: c["HostConfig"]["Privileged"] is True,
    "privileged-duplicate-keys": lambda c: c["HostConfig"]["Privileged"] is True,
    "privileged-unicode-long-s-key": lambda c: c["HostConfig"]["Privileged"] is True,
    "hostconfig-exact-duplicate-merges": lambda c: c["HostConfig"]["Privileged"] is True,
    "privileged-top-level": lambda c: c["HostConfig"]["Privileged"] is True,
    "binds-top-level-hostconfig-null": lambda c: c["HostConfig"]["Binds"] == ["/:/host"],
    "bind-host-root": lambda c: c["HostConfig"]["Binds"] == ["/:/host"],
    "masked-paths-kelvin-sign-key": lambda c: c["HostConfig"]["MaskedPaths"] == [],
    "cap-add-unicode-long-s": lambda c: _cap_add(c) == ["\u017fys_admin"],
    "percent-encoded-path": lambda c: c["HostConfig"]["Privileged"] is True,
}


@pytest.mark.parametrize("name", sorted(RAW_ENGINE_ACCEPTS))
def test_the_raw_engine_accepts_what_the_policy_stops(
    name: str, api: docker.APIClient, world: None, operator: tuple[Caller, Host]
) -> None:
    case = next(case for case in ESCALATIONS if case.name == name)
    with pytest.raises(Denied):
        admit(case, operator)
    response = post(api, case, case.raw)
    assert response.status_code == 201, response.text
    container_id = response.json()["Id"]
    try:
        assert RAW_ENGINE_ACCEPTS[name](api.inspect_container(container_id))
    finally:
        api.remove_container(container_id, force=True, v=True)

"""Answers that must never be a 500: OPTIONS on the engine-backed routes, and every per-host list when the
host's socket is gone (found by schemathesis over the GET operations)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from hosts.models import Host

pytestmark = pytest.mark.django_db

GONE = "unix:///run/dockerweb-tests/no-engine-here.sock"


@pytest.fixture
def gone(alice: User) -> Host:
    return Host.objects.create(name="gone", url=GONE, created_by=alice)


@pytest.mark.parametrize("suffix", ["containers/x/archive/", "containers/x/", "images/x:1/", "volumes/x/"])
def test_options_on_engine_objects_describe_the_route_not_an_error(
    gone: Host, alice: User, client_for: Callable[[User | None], APIClient], suffix: str
) -> None:
    response = client_for(alice).options(f"/api/v1/hosts/{gone.pk}/{suffix}")
    assert response.status_code == 200 and response["Content-Type"] == "application/json", response.content


@pytest.mark.parametrize("listing", ["images/", "networks/", "volumes/", "events/"])
def test_a_host_whose_socket_is_gone_answers_503_naming_it(
    gone: Host, alice: User, client_for: Callable[[User | None], APIClient], listing: str
) -> None:
    response = client_for(alice).get(f"/api/v1/hosts/{gone.pk}/{listing}")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "host_unreachable" and "gone" in response.json()["detail"]

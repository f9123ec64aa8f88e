"""Who may open which socket: authentication, host and container visibility, exec roles, ownership and
policy, bad parameters and unreachable hosts — each refused with its close code and a message."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from hosts.models import AuditEntry, Host, Role
from tests.containers.test_ws_support import (
    Docker,
    collect,
    communicator,
    connect,
    expect_close,
    owned_by,
    refused,
    run,
    token_for,
    user_with_role,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_and_invisible_callers_are_refused(
    unix_host: Host, alice: User, bob: User, docker1: Docker
) -> None:
    container = docker1.run("sleep 60")
    logs = f"/ws/hosts/{unix_host.pk}/containers/{container.name}/logs/"
    bob_token, alice_token = token_for(bob), token_for(alice)

    async def scenario() -> None:
        code, message = await refused(logs, None)
        assert code == 4401 and "Bearer" in message
        # A host bob may not see answers exactly like a host that does not exist.
        code, message = await refused(logs, bob_token)
        assert (code, message) == (4404, f"No host {unix_host.pk} is visible to you.")
        code, message = await refused(f"/ws/hosts/999999/containers/{container.name}/logs/", bob_token)
        assert (code, message) == (4404, "No host 999999 is visible to you.")
        code, message = await refused(f"/ws/events/?hosts={unix_host.pk}", bob_token)
        assert code == 4404
        code, message = await refused(
            f"/ws/hosts/{unix_host.pk}/containers/nope-{docker1.tag}/stats/", alice_token
        )
        assert code == 4404 and f"nope-{docker1.tag}" in message and unix_host.name in message

    run(scenario)


def test_bad_parameters_and_unreachable_hosts(unix_host: Host, alice: User, docker1: Docker) -> None:
    container = docker1.run("sleep 60")
    gone = Host.objects.create(name="gone", url="unix:///nonexistent/docker.sock")
    token = token_for(alice)
    logs = f"/ws/hosts/{unix_host.pk}/containers/{container.name}/logs/"

    async def scenario() -> None:
        code, message = await refused(logs + "?tail=lots", token)
        assert code == 4400 and "tail" in message
        code, message = await refused(logs + "?filter=(&regex=1", token)
        assert code == 4400 and "regular expression" in message
        code, message = await refused(f"/ws/hosts/{unix_host.pk}/logs/?label=a=b&project=x", token)
        assert code == 4400 and "exactly one" in message
        code, message = await refused(f"/ws/hosts/{gone.pk}/containers/x/logs/", token)
        assert code == 4502 and "socket does not exist" in message
        # A bad client message is answered, and the session goes on.
        ws = await connect(logs, token)
        await ws.send_text_to("not json")
        await ws.send_json_to({"type": "rewind"})
        errors = await collect(ws, lambda m: m["type"] == "error" and "rewind" in m["message"])
        assert "pause" in errors[-1]["message"]
        await ws.disconnect()

    run(scenario)


def test_exec_needs_operator_and_ownership_and_passes_the_policy(unix_host: Host, docker1: Docker) -> None:
    vera = user_with_role("vera", unix_host, Role.VIEWER)
    olga = user_with_role("olga", unix_host, Role.OPERATOR, team="red")
    oscar = user_with_role("oscar", unix_host, Role.OPERATOR, team="blue")
    veras = docker1.run("sleep 60", labels=owned_by("vera"))
    reds = docker1.run("sleep 60", labels=owned_by("carol", "red"))
    tokens = {user.username: token_for(user) for user in (vera, olga, oscar)}

    def exec_path(container: str, query: str = "cmd=sh") -> str:
        return f"/ws/hosts/{unix_host.pk}/containers/{container}/exec/?{query}"

    async def scenario() -> None:
        # A viewer sees her container (logs are fine) but may not exec into it.
        ws = await connect(f"/ws/hosts/{unix_host.pk}/containers/{veras.name}/logs/", tokens["vera"])
        await collect(ws, lambda m: m["type"] == "ready")
        await ws.disconnect()
        code, message = await refused(exec_path(veras.name), tokens["vera"])
        assert code == 4403 and "viewer" in message and "operator" in message
        # Another team's operator does not even see the container.
        code, message = await refused(exec_path(reds.name), tokens["oscar"])
        assert code == 4404 and reds.name in message
        # The owning team's operator may exec, but not a privileged one (the admission policy).
        code, message = await refused(exec_path(reds.name, "cmd=sh&privileged=1"), tokens["olga"])
        assert code == 4403 and "Privileged" in message
        ws = await connect(exec_path(reds.name, "cmd=echo%20fine&tty=0"), tokens["olga"])
        code, messages = await expect_close(ws)
        assert code == 1000 and messages[-1] == {"type": "exit", "code": 0}
        await ws.disconnect()

    run(scenario)
    audit = {(e.username, e.outcome) for e in AuditEntry.objects.filter(action="container.exec")}
    assert audit == {("vera", "denied"), ("oscar", "denied"), ("olga", "denied"), ("olga", "success")}


def test_a_foreign_origin_is_refused_and_scripts_without_origin_use_tokens(
    unix_host: Host, alice: User, docker1: Docker
) -> None:
    container = docker1.run("sleep 60")
    stats = f"/ws/hosts/{unix_host.pk}/containers/{container.name}/stats/"
    token = token_for(alice)

    async def scenario() -> None:
        foreign = communicator(stats, token, origin=(b"origin", b"http://evil.example"))
        connected, _ = await foreign.connect(timeout=10)
        assert not connected, "a page on another site must not open sockets with the user's session"
        script = communicator(stats, token, origin=None)
        connected, _ = await script.connect(timeout=10)
        assert connected
        await script.disconnect()

    run(scenario)

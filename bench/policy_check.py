"""Benchmark: the admission policy's cost per request against a plain container create on the engine.

Figures from one run against a real engine (the testbed's engine1, unix socket):
- a plain `POST /containers/create` round trip, directly to the engine (median);
- `hosts.policy.check_request` on the same body (the pure policy check, median over many runs);
- `hosts.admission.admit` for an operator (role lookup in the database + the policy), median.
Goal (access-control issue): the policy check under 5% of the create round trip.

Run: `.venv/bin/python bench/policy_check.py` (root, with the test packages installed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # Run as a script, Python puts bench/ first on the path, where bench/containers.py and bench/images.py
    # would shadow the apps; the project root belongs there instead.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.harness import API, environment, median, setup_django  # noqa: E402 (after the path fix above)

# What `docker run -d -p 8080:80 -e A=1 --memory 256m busybox sleep 60` sends (CLI 28.x).
BODY = {
    "Hostname": "", "User": "", "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
    "ExposedPorts": {"80/tcp": {}}, "Tty": False, "OpenStdin": False, "StdinOnce": False,
    "Env": ["A=1"], "Cmd": ["sleep", "60"], "Image": "", "Volumes": {}, "WorkingDir": "", "Entrypoint": None,
    "Labels": {},
    "HostConfig": {
        "Binds": None, "NetworkMode": "bridge",
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
        "CapAdd": None, "CapDrop": None,
        "Memory": 268435456, "MaskedPaths": None, "ReadonlyPaths": None, "Privileged": False,
    },
    "NetworkingConfig": {"EndpointsConfig": {}},
}  # fmt: skip


def median_ms(samples: list[float]) -> float:
    return median(samples) * 1000


def main() -> None:
    with environment("policy", show_load=False) as env:  # no Redis: the policy and admission use none
        bed = env.bed
        setup_django()
        import docker
        from django.contrib.auth.models import User

        from hosts import admission, policy
        from hosts.access import caller
        from hosts.engine.request import EngineRequest
        from hosts.models import Grant, Host, Role, Team

        api = docker.APIClient(base_url=bed.engine1.unix_url, version=API)
        body = {**BODY, "Image": bed.images[0]}
        raw = json.dumps(body).encode()
        request = EngineRequest.build("POST", "/containers/create", content_type="application/json", body=raw)
        host = Host.objects.create(name="bench", url=bed.engine1.unix_url)
        team = Team.objects.create(name="red")
        user = User.objects.create_user("dave")
        team.members.add(user)
        Grant.objects.create(team=team, host=host, role=Role.OPERATOR)
        who = caller(user)

        create_times = []
        for index in range(40):
            started = time.perf_counter()
            response = api.post(
                api._url("/containers/create"), params={"name": f"bench-policy-{index}"}, data=raw,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            create_times.append(time.perf_counter() - started)
            api.remove_container(response.json()["Id"], force=True)

        settings = policy.PolicySettings()

        class NoFacts:
            """The engine knows nothing (the benchmark's body names no other object)."""

            def owns_container(self, ref: str) -> bool:
                return False

            def owns_exec(self, exec_id: str) -> bool:
                return False

            def volume_has_driver_opts(self, name: str) -> bool:
                return False

            def container_ownership(self, ref: str) -> None:
                return None

            def container_inspect(self, ref: str) -> None:
                return None

            def volume_ownership(self, name: str) -> None:
                return None

            def create_owned_volume(self, name: str, labels: dict[str, str]) -> Any:
                raise AssertionError("the benchmark's body names no volume")

            def network(self, ref: str) -> None:
                return None

            def tag_owned_by_others(self, reference: str) -> None:
                return None

            def image_owned_by_others(self, reference: str) -> None:
                return None

        check_times = []
        for _ in range(2000):
            started = time.perf_counter()
            policy.check_request(
                "POST", "/v1.41/containers/create", {}, "application/json", raw, settings, NoFacts(),
                owner=("dave", "red"),
            )  # fmt: skip
            check_times.append(time.perf_counter() - started)
        admit_times = []
        for _ in range(300):
            who = caller(user)  # a fresh caller per request, as entry points make one
            started = time.perf_counter()
            admission.admit(who, host, request)
            admit_times.append(time.perf_counter() - started)

        create, check, admit = median_ms(create_times), median_ms(check_times), median_ms(admit_times)
        print(f"plain container create, direct to the engine (median of 40): {create:8.3f} ms")
        print(f"policy check_request on the same body (median of 2000):      {check:8.3f} ms "
              f"= {check / create * 100:.2f}% of the create (goal < 5%)")  # fmt: skip
        print(f"full admission for an operator (roles from the DB + policy):  {admit:8.3f} ms "
              f"= {admit / create * 100:.2f}% of the create")  # fmt: skip


if __name__ == "__main__":
    main()

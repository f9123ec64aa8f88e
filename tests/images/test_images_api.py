"""The images REST API against the real engines: list, inspect, history, tag, remove, prune, export, load,
and registries (CRUD, write-only password, team visibility, catalog paging, search)."""

from __future__ import annotations

import io
import tarfile
import uuid

import docker
import pytest

from hosts.models import Host
from images.models import Registry
from tests.images.conftest import IMAGE, People, post_bytes
from tests.testbed import Testbed

pytestmark = pytest.mark.django_db


def test_images_are_listed_with_tags_sizes_and_the_containers_using_them(
    testbed: Testbed,
    unix_host: Host,
    people: People,
    engine1: docker.DockerClient,
    cleanup_containers: list[str],
) -> None:
    name = f"user-{uuid.uuid4().hex[:8]}"
    cleanup_containers.append(name)
    engine1.containers.create(IMAGE, ["true"], name=name, labels={"dockerweb.owner.user": "dave",
                                                                  "dockerweb.owner.team": "red"})  # fmt: skip
    url = f"/api/v1/hosts/{unix_host.pk}/images/"
    listed = people["dave"].get(url).json()
    busybox = next(item for item in listed if IMAGE in item["repo_tags"])
    assert set(testbed.images) <= set(busybox["repo_tags"]) and busybox["size"] > 0
    assert busybox["created"].endswith("Z") and busybox["dangling"] is False
    assert name in [c["name"] for c in busybox["containers"]]
    # Another team sees that the image is used, not by what.
    erin_view = next(item for item in people["erin"].get(url).json() if item["id"] == busybox["id"])
    assert name not in [c["name"] for c in erin_view["containers"]] and erin_view["containers_hidden"] >= 1
    filtered = people["carol"].get(f"{url}?reference=dwtest/*").json()
    assert [item["id"] for item in filtered] == [busybox["id"]]
    assert people["carol"].get(f"{url}?q=no-such-image-anywhere").json() == []
    across = people["dave"].get("/api/v1/images/?limit=500").json()
    assert busybox["id"] in [item["id"] for item in across["results"]] and across["errors"] == []
    assert people["dave"].get(f"{url}?dangling=maybe").status_code == 400


def test_inspect_history_tag_and_remove_refused_while_used(
    testbed: Testbed,
    unix_host: Host,
    people: People,
    engine1: docker.DockerClient,
    cleanup_containers: list[str],
) -> None:
    base = f"/api/v1/hosts/{unix_host.pk}/images"
    details = people["carol"].get(f"{base}/{testbed.images[1]}/").json()
    assert details["Id"] == engine1.images.get(testbed.images[1]).id
    history = people["carol"].get(f"{base}/{testbed.images[1]}/history/").json()
    assert any("busybox --install" in layer["CreatedBy"] for layer in history)
    assert people["carol"].get(f"{base}/nope:1/").status_code == 404

    repository = f"retag-{uuid.uuid4().hex[:8]}"
    tagged = people["dave"].post(
        f"{base}/{IMAGE}/tag/", {"repository": repository, "tag": "x"}, format="json"
    )
    assert tagged.status_code == 201 and tagged.json()["tagged"] == f"{repository}:x"
    assert people["carol"].post(f"{base}/{IMAGE}/tag/", {"repository": "r"}, format="json").status_code == 403
    bad = people["dave"].post(f"{base}/{IMAGE}/tag/", {"repository": "Bad Name"}, format="json")
    assert bad.status_code == 400 and "repository" in bad.json()["fields"]

    # A container uses the new tag's image: removal is refused and names it, unless forced.
    image = f"{repository}:x"
    name = f"uses-{uuid.uuid4().hex[:8]}"
    cleanup_containers.append(name)
    own_image = engine1.images.build(
        fileobj=io.BytesIO(f"FROM {IMAGE}\nLABEL unique={uuid.uuid4().hex}\n".encode()), tag=image, rm=True
    )[0]
    engine1.containers.create(image, ["true"], name=name, labels={"dockerweb.owner.user": "dave",
                                                                  "dockerweb.owner.team": "red"})  # fmt: skip
    refused = people["dave"].delete(f"{base}/{image}/")
    assert refused.status_code == 409 and refused.json()["code"] == "image_in_use"
    assert refused.json()["containers"][0]["name"] == name and name in refused.json()["detail"]
    assert people["carol"].delete(f"{base}/{image}/").status_code == 403
    engine1.containers.get(name).remove()
    removed = people["dave"].delete(f"{base}/{image}/")
    assert removed.status_code == 200, removed.json()
    assert {"Untagged": image} in removed.json()["removed"]
    with pytest.raises(docker.errors.ImageNotFound):
        engine1.images.get(own_image.id)


def test_export_streams_a_tar_that_load_brings_back(
    testbed: Testbed, unix_host: Host, people: People, engine1: docker.DockerClient
) -> None:
    base = f"/api/v1/hosts/{unix_host.pk}/images"
    tag = f"exported-{uuid.uuid4().hex[:8]}:1"
    engine1.images.get(IMAGE).tag(tag)
    response = people["carol"].get(f"{base}/{tag}/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-tar"
    assert response.streaming and tag.replace(":", "_") in response["Content-Disposition"]
    archive = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "manifest.json" in tar.getnames()
    engine1.images.remove(tag)
    loaded = post_bytes(people["dave"], f"{base}/load/", archive)
    assert loaded.status_code == 201 and loaded.json()["loaded"] == [f"Loaded image: {tag}"]
    engine1.images.remove(tag)
    assert post_bytes(people["carol"], f"{base}/load/", archive).status_code == 403
    broken = post_bytes(people["dave"], f"{base}/load/", b"not a tar")
    assert broken.status_code == 400 and broken.json()["detail"], broken.json()
    assert people["dave"].get(f"{base}/missing-image:1/export/").status_code == 404


def test_prune_is_for_host_admins(unix_host: Host, people: People) -> None:
    url = f"/api/v1/hosts/{unix_host.pk}/images/prune/"
    assert people["dave"].post(url, {}, format="json").status_code == 403
    pruned = people["alice"].post(url, {"dangling": True}, format="json")
    assert pruned.status_code == 200 and "SpaceReclaimed" in pruned.json()


def test_registries_are_managed_by_admins_and_shown_to_their_teams_without_passwords(
    testbed: Testbed, unix_host: Host, people: People, testbed_registry: Registry
) -> None:
    body: dict[str, object] = {"name": "team-red", "url": "https://registry.red.example/", "username": "bot"}
    body.update(password="pw-123456", teams=["red"])
    assert people["dave"].post("/api/v1/registries/", body, format="json").status_code == 403
    created = people["alice"].post("/api/v1/registries/", body, format="json")
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert shown["address"] == "registry.red.example" and shown["url"] == "https://registry.red.example"
    assert shown["has_password"] is True and "password" not in shown
    assert Registry.objects.get(pk=shown["id"]).password == "pw-123456"
    names = {name: [r["name"] for r in people[name].get("/api/v1/registries/").json()["results"]] for name in
             ("dave", "erin", "alice")}  # fmt: skip
    assert names == {"dave": ["team-red", "testbed"], "erin": ["testbed"], "alice": ["team-red", "testbed"]}
    bad = people["alice"].post("/api/v1/registries/", {**body, "name": "x", "url": "ftp://x"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()["fields"]
    unchanged = people["alice"].patch(
        f"/api/v1/registries/{shown['id']}/", {"username": "bot2"}, format="json"
    )
    assert unchanged.status_code == 200 and Registry.objects.get(pk=shown["id"]).password == "pw-123456"
    assert people["dave"].delete(f"/api/v1/registries/{shown['id']}/").status_code == 403
    assert people["alice"].delete(f"/api/v1/registries/{shown['id']}/").status_code == 204


def test_catalog_and_tags_are_paged_with_link_headers_and_searchable(
    testbed: Testbed,
    unix_host: Host,
    people: People,
    testbed_registry: Registry,
    engine1: docker.DockerClient,
    cleanup_images: list[str],
) -> None:
    # A second repository, so that the catalog has more than one page of one.
    repository = f"{testbed.registry}/zz-paging-{uuid.uuid4().hex[:8]}"
    engine1.images.get(IMAGE).tag(repository, "1")
    cleanup_images.append(f"{repository}:1")
    for line in engine1.api.push(repository, tag="1", stream=True, decode=True):
        assert "error" not in line, line
    url = f"/api/v1/registries/{testbed_registry.pk}"
    first = people["carol"].get(f"{url}/catalog/?n=1")
    assert first.status_code == 200 and len(first.json()["repositories"]) == 1
    link = first["Link"]
    assert link.startswith("<http://testserver/api/v1/registries/") and link.endswith('>; rel="next"')
    collected = list(first.json()["repositories"])
    next_url: str | None = first.json()["next"]
    while next_url:
        page = people["carol"].get(next_url).json()
        collected += page["repositories"]
        next_url = page["next"]
    assert "busybox" in collected and collected == sorted(collected)
    # Distribution 2.8 pages the catalog but not tag lists (it ignores n there): one page, no Link.
    tags = people["carol"].get(f"{url}/tags/?repository=busybox&n=1")
    assert tags.json()["tags"] == ["1", "latest"] and tags.json()["next"] is None and "Link" not in tags
    missing = people["carol"].get(f"{url}/tags/?repository=nothing-here")
    assert missing.status_code == 404 and "NAME_UNKNOWN" in missing.json()["detail"]
    assert people["carol"].get(f"{url}/tags/").status_code == 400
    found = people["carol"].get(f"{url}/search/?q=busy").json()
    assert f"{testbed.registry}/busybox" in [item["name"] for item in found]
    # The images search answers `registry/term` from the registry, never from Docker Hub.
    through_host = people["carol"].get(
        f"/api/v1/hosts/{unix_host.pk}/images/search/?term={testbed.registry}/busy"
    )
    assert [item["name"] for item in through_host.json()] == [f"{testbed.registry}/busybox"]
    test = people["carol"].post(f"{url}/test/").json()
    assert test["ok"] is True and "anonymously" in test["detail"]


def test_unknown_push_targets_and_foreign_registries_are_refused(
    testbed: Testbed,
    unix_host: Host,
    people: People,
    testbed_registry: Registry,
) -> None:
    base = f"/api/v1/hosts/{unix_host.pk}/images"
    unknown = people["dave"].post(f"{base}/push/", {"image": "registry.unknown.example/app:1"}, format="json")
    assert unknown.status_code == 400 and "No registry you may use" in unknown.json()["fields"]["image"][0]
    mismatch = people["dave"].post(
        f"{base}/pull/",
        {"image": "registry.other.example/app:1", "registry": testbed_registry.pk},
        format="json",
    )
    assert mismatch.status_code == 400 and "is not in registry" in mismatch.json()["fields"]["image"][0]


def test_the_admin_never_shows_a_registry_password(people: People) -> None:
    from django.test import Client

    registry = Registry.objects.create(
        name="hidden", url="https://r.example", username="u", password="pw-admin-9"
    )
    browser = Client()
    browser.force_login(people.users["alice"])
    page = browser.get(f"/admin/images/registry/{registry.pk}/change/")
    assert page.status_code == 200 and "pw-admin-9" not in page.content.decode()
    saved = browser.post(
        f"/admin/images/registry/{registry.pk}/change/",
        {"name": "hidden", "url": "https://r.example", "server": "", "username": "u2", "password": "",
         "tls_verify": "on", "tls_ca": ""},
    )  # fmt: skip
    assert saved.status_code == 302
    registry.refresh_from_db()
    assert registry.username == "u2" and registry.password == "pw-admin-9", (
        "an empty field keeps the password"
    )

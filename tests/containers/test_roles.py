"""The image runs every role: each answers its gRPC health; the gateway calls through them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import httpx

from guichet_testkit.processes import grpc_serving

# The image's user (deploy/containers/Containerfile).
IMAGE_UID = 10001
Podman = Callable[..., subprocess.CompletedProcess[str]]
SERVICES = ("authentic-data", "identity", "wallet", "etracking", "procedures", "messaging")


def test_the_image_holds_no_build_tool(image: str, run_podman: Podman) -> None:
    found = run_podman(
        "run",
        "--rm",
        "--read-only",
        image,
        "sh",
        "-c",
        "command -v uv pip pip3 gcc cc make apt-get debootstrap || true",
    ).stdout.split()
    # apt-get is Debian's own (the base's); no uv, pip or compiler reached the final stage.
    assert [tool for tool in found if not tool.endswith("/apt-get")] == []


async def test_every_role_of_every_service_runs_and_answers_its_health(
    container_stack: Any,
) -> None:
    names = [role.name for role in container_stack.roles]
    assert names == [f"{service}-{role}" for service in SERVICES for role in ("worker", "grpc")]
    for role in container_stack.roles:
        assert role.container.running, f"{role.name} exited:\n{role.container.log_tail()}"
        assert await grpc_serving(role.health_address), role.name


def test_each_role_runs_as_the_image_user_on_a_read_only_root(
    container_stack: Any, image: str, run_podman: Podman
) -> None:
    containers = [role.container.container for role in container_stack.roles]
    assert container_stack.gateway is not None
    containers.append(container_stack.gateway.container)
    for name in containers:
        inspected = json.loads(run_podman("container", "inspect", name).stdout)[0]
        assert inspected["ImageName"] == image, name
        assert inspected["HostConfig"]["ReadonlyRootfs"] is True, name
        assert run_podman("exec", name, "id", "-u").stdout.strip() == str(IMAGE_UID), name
        refused = run_podman("exec", name, "touch", "/app/written", check=False)
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr, name


async def test_the_gateway_container_sees_every_service_up(container_stack: Any) -> None:
    async with httpx.AsyncClient(base_url=container_stack.gateway_url) as client:
        reply = await client.get("/healthz")
    assert reply.status_code == 200, reply.text
    dependencies = reply.json()["dependencies"]
    assert set(dependencies.values()) == {"up"}, dependencies
    # The services the gateway watches, each a container of this stack, and the servers.
    assert {"authentic-data", "etracking", "identity", "wallet", "procedures"} <= set(dependencies)
    assert {"keycloak", "nats", "minio"} <= set(dependencies)


async def test_a_real_call_through_the_gateway_container(container_stack: Any) -> None:
    # The catalogue's themes: gateway container → procedures' grpc container → its database.
    async with httpx.AsyncClient(base_url=container_stack.gateway_url) as client:
        reply = await client.get("/api/v1/procedures/themes", params={"lang": "en"})
    assert reply.status_code == 200, reply.text
    themes = {theme["code"]: theme for theme in reply.json()}
    assert "housing" in themes, themes
    assert themes["housing"]["procedure_count"] > 0

"""Every role of the project's image run as a container against the `make infra` servers.

Run by `make test-image` (not by `make test`): it needs `make image`. The containers use the
host's network: the `make infra` servers listen on the loopback only, which a container on a
bridge network cannot reach (its 127.0.0.1 is its own). They run as the image's user with a
read-only root filesystem and a tmpfs on /tmp, as in Kubernetes; the certificates and keys they
are given are copies owned by that user, mounted read-only (the originals are root's).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import launcher as launcher_module
import pytest
from launcher import Launcher, Started

from guichet_kit.infra import postgres_url
from guichet_testkit import worker_name
from guichet_testkit.db import recreate_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("GUICHET_IMAGE", "localhost/openguichet/guichet:dev")
# The image's user (deploy/containers/Containerfile), who must own the files mounted for it.
IMAGE_UID = 10001
FILES_IN_CONTAINER = "/etc/guichet/files"
PODMAN_ENV = {"CONTAINERS_CONF": str(REPO_ROOT / "deploy" / "containers" / "containers.conf")}
# How each role's container is confined, as in deploy/k8s (read-only root, /tmp an emptyDir).
CONFINED = (
    "--network=host",
    "--read-only",
    "--tmpfs=/tmp:rw,size=256m,mode=1777",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env={**os.environ, **PODMAN_ENV},
        capture_output=True,
        text=True,
        check=check,
    )


class Files:
    """The host files the services are configured with, copied for the image's user."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, IMAGE_UID, IMAGE_UID)

    def inside(self, value: str) -> str:
        """`value` itself, or, when it names a host file, the path of its copy in the container."""
        path = Path(value)
        if not path.is_absolute() or not path.is_file():
            return value
        name = f"{hashlib.sha256(value.encode()).hexdigest()[:12]}-{path.name}"
        copy = self.directory / name
        if not copy.exists():
            shutil.copyfile(path, copy)
            os.chown(copy, IMAGE_UID, IMAGE_UID)
            copy.chmod(0o400)
        return f"{FILES_IN_CONTAINER}/{name}"


class ContainerProcess(ServiceProcess):
    """A role of the image in its own container, in place of the launcher's local process: the
    launcher's command (`<python> -m guichet_<service> <role>`) and settings, run by podman."""

    files: Files  # set by the session's fixture before any start

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path):
        self.container = f"guichet-test-{name}-{worker_name()}-{os.getpid()}"
        settings = [f"--env={key}={self.files.inside(value)}" for key, value in env.items()]
        command = [
            "podman",
            "run",
            "--rm",
            f"--name={self.container}",
            *CONFINED,
            f"--volume={self.files.directory}:{FILES_IN_CONTAINER}:ro",
            *settings,
            IMAGE,
            "python",
            *args[1:],
        ]
        super().__init__(name, command, PODMAN_ENV, log_dir)

    def stop(self, *args: object, **kwargs: object) -> int | None:
        # podman passes SIGTERM on to the service; a container whose podman was killed goes too.
        code = super().stop(*args, **kwargs)  # type: ignore[arg-type]
        podman("rm", "--force", "--ignore", "--time=2", self.container, check=False)
        return code


@dataclass
class Role:
    name: str
    container: ServiceProcess  # a ContainerProcess
    # The gRPC health port: the service's own (grpc role), the worker's health port (worker).
    health_address: str


@dataclass
class ContainerStack:
    roles: list[Role] = field(default_factory=list)
    gateway_url: str = ""
    gateway: ServiceProcess | None = None  # a ContainerProcess


async def migrated_in_container(infra: dict[str, str], service_dir: str, name: str) -> str:
    """A fresh database migrated by the image's own alembic, as the migration Jobs do."""
    await recreate_database(infra, name)
    url = postgres_url(dict(infra), name)
    result = await asyncio.to_thread(
        podman,
        "run",
        "--rm",
        *CONFINED,
        IMAGE,
        "alembic",
        "-c",
        f"{service_dir}/alembic.ini",
        "-x",
        f"url={url}",
        "upgrade",
        "head",
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrations of {service_dir} in the image failed:\n{result.stderr}")
    return url


@pytest.fixture(scope="session")
def run_podman() -> Callable[..., subprocess.CompletedProcess[str]]:
    """podman with the project's containers.conf."""
    return podman


@pytest.fixture(scope="session")
def image() -> str:
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"no image {IMAGE}: run `make image` first (make test-image does)")
    return IMAGE


@pytest.fixture(scope="session")
async def container_stack(
    image: str, infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ContainerStack]:
    ContainerProcess.files = Files(tmp_path_factory.mktemp("container-files"))
    log_dir = REPO_ROOT / ".data" / "log" / "tests" / "containers"
    started = Launcher(infra, log_dir)
    stack = ContainerStack()
    mp = pytest.MonkeyPatch()
    # The launcher's processes become containers of the image; everything else is the launcher's.
    mp.setattr(launcher_module, "ServiceProcess", ContainerProcess)
    suffix = worker_name()
    databases = {
        service: await migrated_in_container(
            infra, f"services/{service}", f"{service.replace('-', '_')}_image_{suffix}"
        )
        for service in (
            "authentic-data",
            "identity",
            "wallet",
            "etracking",
            "procedures",
            "messaging",
        )
    }

    async def worker_then_grpc(service: str, start: Any, *args: str, **kw: object) -> Started:
        # The worker first: the launcher remembers the address of the last role it started.
        health = f"127.0.0.1:{free_port()}"
        started.extra_env = {"GUICHET_WORKER_HEALTH_ADDRESS": health}
        worker = await start(*args, role="worker", name=f"{service}-worker", **kw)
        started.extra_env = {}
        await wait_until(
            lambda: grpc_serving(health),
            seconds=120,
            what=f"{service}-worker",
            process=worker.process,
        )
        stack.roles.append(Role(f"{service}-worker", worker.process, health))
        grpc: Started = await start(*args, role="grpc", name=f"{service}-grpc", **kw)
        stack.roles.append(Role(f"{service}-grpc", grpc.process, grpc.address))
        return grpc

    # The gateway's database too, migrated by the image (the launcher would do it from here).
    started.gateway_database_url = await migrated_in_container(
        infra, "gateway", f"gateway_image_{suffix}"
    )
    try:
        started.identity_address = f"127.0.0.1:{free_port()}"
        await worker_then_grpc(
            "authentic-data", started.authentic_data, databases["authentic-data"]
        )
        identity_address = started.identity_address
        await worker_then_grpc(
            "identity", started.identity, databases["identity"], address=identity_address
        )
        await worker_then_grpc(
            "wallet", started.wallet, databases["wallet"], f"wimg-{suffix.lower()[:10]}"
        )
        etracking = await worker_then_grpc("etracking", started.etracking, databases["etracking"])
        await worker_then_grpc("procedures", started.procedures, databases["procedures"])
        messaging = await worker_then_grpc("messaging", started.messaging, databases["messaging"])
        started.messaging_address = messaging.address
        gateway = await started.gateway(etracking.address, burst=1000, name="gateway")
        stack.gateway, stack.gateway_url = gateway.process, gateway.address
        yield stack
    finally:
        mp.undo()
        # A role that failed to start half-way is stopped by the test kit's exit hook.
        processes: list[ServiceProcess] = [role.container for role in stack.roles]
        if stack.gateway is not None:
            processes.append(stack.gateway)
        for process in processes:
            process.stop()

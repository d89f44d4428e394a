"""The containers backend of `make infra` (GUICHET_INFRA=containers): the same servers as the local
launcher, started from the images of `make infra-images` as testcontainers containers.

Run by deploy/local/infra/up.sh (which makes the development PKI and secrets, then writes
.data/infra.env exactly as for the local launcher) and down.sh:

    containers.py start   start what is not running, wait until each server answers
    containers.py stop    remove this checkout's containers (their named volumes stay, like .data)

Each server publishes the port the local launcher uses, on 127.0.0.1 only, so .data/infra.env is
the same file on both backends and every test runs unchanged. The containers outlive this process
(Ryuk is off: its image cannot be pulled here), labelled with the checkout so `make down` finds
them. testcontainers talks to whatever DOCKER_HOST names: podman's socket here, Docker elsewhere.
Settings come from the environment up.sh exports (ports, paths, the development secrets' files).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testcontainers.community.minio import MinioContainer
from testcontainers.community.nats import NatsContainer
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient
from testcontainers.core.transferable import Transferable
from testcontainers.core.wait_strategies import HttpWaitStrategy

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / ".data"
SECRETS = DATA / "secrets"
# One checkout's containers and volumes, wherever it was cloned (lib.sh's CHECKOUT_KEY).
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
LABEL = "org.openguichet.checkout"
IMAGE = "localhost/openguichet/infra-{}:dev"


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"containers.py: {name} is not set (run through deploy/local/infra/up.sh)")
    return value


def secret(name: str) -> str:
    return (SECRETS / name).read_text().strip()


def port(name: str) -> int:
    return int(env(name))


def name_of(server: str) -> str:
    return f"guichet-{CHECKOUT}-{server}"


def prepare(container: DockerContainer, server: str, published: dict[int, int]) -> DockerContainer:
    """Name and label the container; publish its ports on the loopback only (dev secrets)."""
    container.with_name(name_of(server))
    container.with_kwargs(labels={LABEL: CHECKOUT, "org.openguichet.server": server})
    for inside, outside in published.items():
        # with_bind_ports takes a port number only; the Docker API also takes (address, port)
        loopback: Any = ("127.0.0.1", outside)
        container.ports[str(inside)] = loopback
    return container


def volume(container: DockerContainer, server: str, path: str) -> None:
    """A named volume per checkout and server: the data outlives `make down`, as .data does."""
    container.with_volume_mapping(f"guichet-{CHECKOUT}-{server}", path, mode="rw")


def as_me(container: DockerContainer) -> None:
    """Run as the invoking user: the files written into .data stay theirs."""
    container.with_kwargs(user=f"{os.getuid()}:{os.getgid()}")


def postgres() -> DockerContainer:
    container = PostgresContainer(
        IMAGE.format("postgres"),
        username="guichet",
        password=secret("pg_password"),
        dbname="postgres",
        driver=None,
    ).with_env("GUICHET_DATABASES", env("GUICHET_DATABASES"))
    volume(container, "pg", "/var/lib/postgresql/data")
    return prepare(container, "postgres", {5432: port("PG_PORT")})


def nats() -> DockerContainer:
    container = NatsContainer(IMAGE.format("nats"))  # the image's own configuration: JetStream on
    volume(container, "nats", "/data")
    return prepare(container, "nats", {4222: port("NATS_PORT"), 8222: port("NATS_MONITOR_PORT")})


def minio() -> DockerContainer:
    container = MinioContainer(
        IMAGE.format("minio"),
        access_key=secret("minio_access_key"),
        secret_key=secret("minio_secret_key"),
    )
    container.with_env("MINIO_ROOT_USER", secret("minio_access_key"))
    container.with_env("MINIO_ROOT_PASSWORD", secret("minio_secret_key"))
    container.with_env("MINIO_KMS_SECRET_KEY", env("MINIO_KMS_SECRET_KEY"))
    volume(container, "minio", "/data")
    return prepare(container, "minio", {9000: port("MINIO_PORT")})


def keycloak(database_host: str) -> DockerContainer:
    pki = DATA / "pki"
    container = DockerContainer(IMAGE.format("keycloak"))
    container.with_envs(
        KC_DB_URL=f"jdbc:postgresql://{database_host}:5432/keycloak",
        KC_DB_USERNAME="guichet",
        KC_DB_PASSWORD=secret("pg_password"),
        KC_BOOTSTRAP_ADMIN_USERNAME="admin",
        KC_BOOTSTRAP_ADMIN_PASSWORD=secret("keycloak_admin_password"),
        JAVA_OPTS_KC_HEAP="-Xms256m -Xmx768m",
        # one issuer for every port, as deploy/local/infra/keycloak.sh says
        KC_HOSTNAME=f"https://localhost:{port('KC_HTTPS_PORT')}",
        KC_HOSTNAME_BACKCHANNEL_DYNAMIC="true",
        KC_HTTPS_CERTIFICATE_FILE="/opt/keycloak/conf/tls/keycloak.crt",
        KC_HTTPS_CERTIFICATE_KEY_FILE="/opt/keycloak/conf/tls/keycloak.key",
        KC_TRUSTSTORE_PATHS="/opt/keycloak/conf/tls/national-ca.crt",
    )
    # copied in before the start (a mount needs the host's key readable by the container's user)
    for source, target in (
        (pki / "services" / "keycloak.crt", "keycloak.crt"),
        (pki / "services" / "keycloak.key", "keycloak.key"),
        (pki / "national" / "ca.crt", "national-ca.crt"),
    ):
        content: Transferable = source.read_bytes()
        container.with_copy_into_container(content, f"/opt/keycloak/conf/tls/{target}")
    container.waiting_for(HttpWaitStrategy(9000, "/health/ready").with_startup_timeout(300))
    return prepare(
        container,
        "keycloak",
        {8080: port("KC_HTTP_PORT"), 8443: port("KC_HTTPS_PORT"), 9000: port("KC_MGMT_PORT")},
    )


def clamav() -> DockerContainer:
    return prepare(DockerContainer(IMAGE.format("clamav")), "clamav", {3310: port("CLAMAV_PORT")})


def sink(script: str, inside: int, folder: str) -> DockerContainer:
    """A development sink (deploy/local/sinks) writing what it receives into .data/<folder>."""
    container = DockerContainer(IMAGE.format("sinks")).with_command(
        [f"/opt/sinks/{script}", "--host", "0.0.0.0", "--port", str(inside), "--dir", "/out"]  # noqa: S104
    )
    (DATA / folder).mkdir(exist_ok=True)
    container.with_volume_mapping(str(DATA / folder), "/out", mode="rw")
    as_me(container)
    return container


def smtp_sink() -> DockerContainer:
    return prepare(sink("smtp_sink.py", 1025, "mail"), "smtp-sink", {1025: port("SMTP_PORT")})


def sms_sink() -> DockerContainer:
    container = sink("sms_sink.py", 8080, "sms").waiting_for(HttpWaitStrategy(8080, "/healthz"))
    return prepare(container, "sms-sink", {8080: port("SMS_PORT")})


def jaeger() -> DockerContainer:
    container = DockerContainer(IMAGE.format("jaeger"))
    container.waiting_for(HttpWaitStrategy(16686, "/api/services"))
    return prepare(
        container, "jaeger", {4317: port("JAEGER_OTLP_PORT"), 16686: port("JAEGER_QUERY_PORT")}
    )


# ---- readiness of the servers testcontainers has no strategy for ---------------------------


def answers(port_number: int, hello: bytes, expect: Callable[[bytes], bool]) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port_number), timeout=3) as connection:
            connection.settimeout(3)
            if hello:
                connection.sendall(hello)
            return expect(connection.recv(512))
    except OSError:
        return False


def wait_for(server: Any, check: Callable[[], bool], seconds: float = 120) -> None:
    """Poll `check` until it holds; give up when the server's container stops or after `seconds`."""
    what = server.labels["org.openguichet.server"]
    deadline = time.monotonic() + seconds
    while not check():
        server.reload()
        if server.status != "running":
            tail = server.logs(tail=30).decode(errors="replace")
            sys.exit(f"containers.py: {what} stopped ({server.status}):\n{tail}")
        if time.monotonic() > deadline:
            sys.exit(f"containers.py: {what} did not answer within {seconds:.0f}s")
        time.sleep(0.3)


def address(container: Any) -> str:
    """The container's address on the containers' network (the default bridge)."""
    container.reload()
    return str(container.attrs["NetworkSettings"]["IPAddress"])


def running(client: DockerClient) -> dict[str, Any]:
    """This checkout's containers that run, by server."""
    found = client.client.containers.list(filters={"label": f"{LABEL}={CHECKOUT}"})
    return {container.labels["org.openguichet.server"]: container for container in found}


def start() -> None:
    client = DockerClient()
    up = running(client)
    for stale in client.client.containers.list(all=True, filters={"label": f"{LABEL}={CHECKOUT}"}):
        if stale.status != "running":  # stopped, e.g. by a reboot: started again from scratch
            stale.remove(force=True)

    def launch(server: str, make: Callable[[], DockerContainer]) -> None:
        if server in up:
            print(f"==> {server}: already running ({up[server].short_id})")
            return
        started = time.monotonic()
        container = make().start()
        up[server] = container.get_wrapped_container()
        print(f"==> {server}: started in {time.monotonic() - started:.0f}s")

    launch("postgres", postgres)
    launch("nats", nats)
    launch("clamav", clamav)
    launch("smtp-sink", smtp_sink)
    launch("sms-sink", sms_sink)
    launch("minio", minio)
    launch("jaeger", jaeger)
    # Keycloak reaches PostgreSQL and the SMTP sink at their addresses on the containers' network
    database_host = address(up["postgres"])
    (DATA / "run" / "smtp-sink.address").write_text(address(up["smtp-sink"]) + "\n")
    launch("keycloak", lambda: keycloak(database_host))

    smtp_banner = b"220"
    wait_for(
        up["smtp-sink"],
        lambda: answers(port("SMTP_PORT"), b"", lambda r: r.startswith(smtp_banner)),
    )
    wait_for(
        up["clamav"],
        lambda: answers(port("CLAMAV_PORT"), b"zPING\0", lambda reply: reply.startswith(b"PONG")),
        seconds=300,  # clamd loads its database before it listens
    )


def stop() -> None:
    client = DockerClient()
    found = client.client.containers.list(all=True, filters={"label": f"{LABEL}={CHECKOUT}"})
    for container in found:
        container.remove(force=True)
    print(f"==> containers: {len(found)} removed" if found else "==> containers: none were running")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    {"start": start, "stop": stop}[parser.parse_args().action]()


if __name__ == "__main__":
    main()

"""Starts the platform's processes for journeys, configured as `make up` would, on test ports."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

REPO_ROOT = Path(__file__).resolve().parents[2]
# Whose purge confirmations the stack's identity waits for: those whose worker the stack runs
# (messaging's confirms from its worker role, which the stack does not run yet).
STACK_PURGE_SERVICES = ("etracking", "authentic-data", "wallet", "procedures")


@dataclass
class Started:
    process: ServiceProcess
    address: str
    admin_address: str = ""


@dataclass
class Launcher:
    infra: dict[str, str]
    log_dir: Path
    # Set once identity runs: etracking and the gateway call it.
    identity_address: str = field(default="127.0.0.1:1")
    # identity's services port (mutual TLS): messaging reads a person's contact there.
    identity_services_address: str = field(default="127.0.0.1:1")
    # Set once authentic data runs: the gateway calls its internal port, identity its mutual TLS
    # port (the registers a declared child or a company's founder is checked against).
    authentic_data_address: str = field(default="127.0.0.1:1")
    authentic_data_mtls_address: str = field(default="127.0.0.1:1")
    # Set once the wallet runs: the gateway calls it, procedures its services port (F25).
    wallet_address: str = field(default="127.0.0.1:1")
    wallet_services_address: str = field(default="127.0.0.1:1")
    # Set once procedures runs: the gateway calls it.
    procedures_address: str = field(default="127.0.0.1:1")
    # Set once messaging runs: the gateway calls it (the notification centre).
    messaging_address: str = field(default="127.0.0.1:1")
    # Added to every process's environment (e.g. quieter logs for benchmarks).
    extra_env: dict[str, str] = field(default_factory=dict)
    # The gateways' database (web sessions), made on the first gateway's start.
    gateway_database_url: str = ""

    @property
    def pki(self) -> Path:
        return Path(self.infra["GUICHET_PKI_DIR"])

    @property
    def _tracing(self) -> dict[str, str]:
        """Every process exports its spans to the Jaeger of `make infra`, when it runs one."""
        endpoint = self.infra.get("GUICHET_OTLP_ENDPOINT")
        return {"GUICHET_OTLP_ENDPOINT": endpoint} if endpoint else {}

    def _keycloak(self, prefix: str) -> dict[str, str]:
        return {
            f"{prefix}_KEYCLOAK_ISSUER": self.infra["GUICHET_KEYCLOAK_ISSUER"],
            f"{prefix}_CA_FILE": self.infra["GUICHET_CA_FILE"],
        }

    async def _start(
        self, name: str, module: str, role: str | None, env: dict[str, str], address: str
    ) -> ServiceProcess:
        args = [sys.executable, "-m", module, *([role] if role else [])]
        process = ServiceProcess(
            name, args, {**env, **self._tracing, **self.extra_env}, self.log_dir
        )
        process.start()
        if role != "worker":
            # A loaded machine may need longer (GUICHET_E2E_START_SECONDS; 60 by default).
            seconds = float(os.environ.get("GUICHET_E2E_START_SECONDS", "60"))
            try:
                await wait_until(
                    lambda: grpc_serving(address), seconds=seconds, what=name, process=process
                )
            except BaseException:
                process.stop()  # a service that never answered must not outlive the failure
                raise
        return process

    async def identity(
        self,
        database_url: str,
        role: str = "all",
        name: str = "identity",
        address: str = "",
        purge_services: tuple[str, ...] = STACK_PURGE_SERVICES,
    ) -> Started:
        """identity; `purge_services` are those whose confirmation completes a deletion (the
        services the stack runs a consumer of deletions for)."""
        address = address or f"127.0.0.1:{free_port()}"
        self.identity_services_address = f"127.0.0.1:{free_port()}"
        services = self.pki / "services"
        env = {
            "IDENTITY_ENVIRONMENT": "test",
            "IDENTITY_DATABASE_URL": database_url,
            "IDENTITY_NATS_URL": self.infra["GUICHET_NATS_URL"],
            "IDENTITY_GRPC_ADDRESS": address,
            "IDENTITY_SERVICES_GRPC_ADDRESS": self.identity_services_address,
            "IDENTITY_KEYCLOAK_URL": self.infra["GUICHET_KEYCLOAK_HTTPS_URL"],
            "IDENTITY_KEYCLOAK_CLIENT_ID": self.infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_ID"],
            "IDENTITY_KEYCLOAK_CLIENT_SECRET": self.infra[
                "GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"
            ],
            "IDENTITY_CA_FILE": self.infra["GUICHET_CA_FILE"],
            "IDENTITY_SMTP_HOST": self.infra["GUICHET_SMTP_HOST"],
            "IDENTITY_SMTP_PORT": self.infra["GUICHET_SMTP_PORT"],
            "IDENTITY_AUTHENTIC_DATA_ADDRESS": self.authentic_data_mtls_address,
            "IDENTITY_TLS_CERTIFICATE": str(services / "identity.crt"),
            "IDENTITY_TLS_PRIVATE_KEY": str(services / "identity.key"),
            "IDENTITY_PLATFORM_CA": str(self.pki / "ca.crt"),
            "IDENTITY_PURGE_SERVICES": json.dumps(list(purge_services)),
        }
        process = await self._start(name, "guichet_identity", role, env, address)
        return Started(process, address, self.identity_services_address)

    async def etracking(
        self, database_url: str, role: str = "all", name: str = "etracking"
    ) -> Started:
        address, admin_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        pki = self.pki
        env = {
            "ETRACKING_ENVIRONMENT": "test",
            "ETRACKING_DATABASE_URL": database_url,
            "ETRACKING_NATS_URL": self.infra["GUICHET_NATS_URL"],
            "ETRACKING_GRPC_ADDRESS": address,
            "ETRACKING_ADMIN_GRPC_ADDRESS": admin_address,
            "ETRACKING_TLS_CERTIFICATE": str(pki / "services" / "etracking.crt"),
            "ETRACKING_TLS_PRIVATE_KEY": str(pki / "services" / "etracking.key"),
            "ETRACKING_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            "ETRACKING_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "ETRACKING_IDENTITY_ADDRESS": self.identity_address,
            **self._keycloak("ETRACKING"),
        }
        process = await self._start(name, "guichet_etracking", role, env, address)
        return Started(process, address, admin_address)

    async def wallet(
        self,
        database_url: str,
        bucket_prefix: str,
        role: str = "all",
        name: str = "wallet",
        **settings: str,
    ) -> Started:
        """The wallet: its gateway port, and its mutual TLS port for platform services
        (`admin_address` of the result); `settings` are more WALLET_* variables (lower case, no
        prefix). The gateways started after it call it."""
        address, services_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        pki, infra = self.pki, self.infra
        env = {
            "WALLET_ENVIRONMENT": "test",
            "WALLET_DATABASE_URL": database_url,
            "WALLET_NATS_URL": infra["GUICHET_NATS_URL"],
            "WALLET_GRPC_ADDRESS": address,
            "WALLET_SERVICES_GRPC_ADDRESS": services_address,
            "WALLET_TLS_CERTIFICATE": str(pki / "services" / "wallet.crt"),
            "WALLET_TLS_PRIVATE_KEY": str(pki / "services" / "wallet.key"),
            "WALLET_SERVICES_CA": str(pki / "ca.crt"),
            "WALLET_MINIO_ENDPOINT": infra["GUICHET_MINIO_ENDPOINT"],
            "WALLET_MINIO_ACCESS_KEY": infra["GUICHET_MINIO_ACCESS_KEY"],
            "WALLET_MINIO_SECRET_KEY": infra["GUICHET_MINIO_SECRET_KEY"],
            "WALLET_BUCKET_PREFIX": bucket_prefix,
            "WALLET_CLAMAV_ADDRESS": infra["GUICHET_CLAMAV_ADDRESS"],
            # Copies made in tests are retained for a day, not a year.
            "WALLET_COPY_RETENTION_DAYS": "1",
            "WALLET_IDENTITY_ADDRESS": self.identity_address,
            # Its own consumer of account deletions: other runs' wallets share the NATS server.
            "WALLET_PURGE_CONSUMER": f"wallet-account-purge-{name}-{worker_name()}",
            **self._keycloak("WALLET"),
            **{f"WALLET_{key.upper()}": value for key, value in settings.items()},
        }
        process = await self._start(name, "guichet_wallet", role, env, address)
        self.wallet_address = address
        self.wallet_services_address = services_address
        return Started(process, address, services_address)

    async def procedures(
        self, database_url: str, role: str = "all", name: str = "procedures", **settings: str
    ) -> Started:
        """Procedures, its catalogue published first as `make up` does: the gateway's port, and
        the administrations' mutual TLS port (`admin_address` of the result); `settings` are more
        PROCEDURES_* variables (lower case, no prefix)."""
        address, admin_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        pki, infra = self.pki, self.infra
        env = {
            "PROCEDURES_ENVIRONMENT": "test",
            "PROCEDURES_DATABASE_URL": database_url,
            "PROCEDURES_NATS_URL": infra["GUICHET_NATS_URL"],
            "PROCEDURES_GRPC_ADDRESS": address,
            "PROCEDURES_ADMIN_GRPC_ADDRESS": admin_address,
            "PROCEDURES_TLS_CERTIFICATE": str(pki / "services" / "procedures.crt"),
            "PROCEDURES_TLS_PRIVATE_KEY": str(pki / "services" / "procedures.key"),
            "PROCEDURES_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            "PROCEDURES_PLATFORM_CA": str(pki / "ca.crt"),
            # Applicants' signatures chain to the national CA (the high-level sign-in's).
            "PROCEDURES_NATIONAL_CA": str(pki / "national" / "ca.crt"),
            "PROCEDURES_SEAL_CERTIFICATE": infra["GUICHET_SEAL_CERTIFICATE"],
            "PROCEDURES_SEAL_PRIVATE_KEY": infra["GUICHET_SEAL_PRIVATE_KEY"],
            "PROCEDURES_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "PROCEDURES_SMTP_HOST": infra["GUICHET_SMTP_HOST"],
            "PROCEDURES_SMTP_PORT": infra["GUICHET_SMTP_PORT"],
            "PROCEDURES_IDENTITY_ADDRESS": self.identity_address,
            # F24: the registers prefill reads, over mutual TLS with procedures' certificate.
            "PROCEDURES_AUTHENTIC_DATA_ADDRESS": self.authentic_data_mtls_address,
            # F25: files through the wallet's file pipeline, over mutual TLS.
            "PROCEDURES_WALLET_ADDRESS": self.wallet_services_address,
            "PROCEDURES_STREAM_POLL_SECONDS": "0.2",
            # Its own consumer of account deletions: other runs share the NATS server.
            "PROCEDURES_PURGE_CONSUMER": f"procedures-account-purge-{name}-{worker_name()}",
            **self._keycloak("PROCEDURES"),
            **{f"PROCEDURES_{key.upper()}": value for key, value in settings.items()},
        }
        publish = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "guichet_procedures",
            "publish",
            env={**os.environ, **env, **self.extra_env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await publish.communicate()
        if publish.returncode != 0:
            raise RuntimeError(f"publishing the catalogue failed:\n{output.decode()}")
        process = await self._start(name, "guichet_procedures", role, env, address)
        self.procedures_address = address
        return Started(process, address, admin_address)

    async def messaging(
        self, database_url: str, role: str = "all", name: str = "messaging", **settings: str
    ) -> Started:
        """Messaging (notifications by e-mail and SMS through the development sinks): its
        internal port, and the administrations' mutual TLS port (`admin_address`); `settings`
        are more MESSAGING_* variables (lower case, no prefix)."""
        address, admin_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        pki, infra = self.pki, self.infra
        env = {
            "MESSAGING_ENVIRONMENT": "test",
            "MESSAGING_DATABASE_URL": database_url,
            "MESSAGING_NATS_URL": infra["GUICHET_NATS_URL"],
            "MESSAGING_GRPC_ADDRESS": address,
            "MESSAGING_ADMIN_GRPC_ADDRESS": admin_address,
            "MESSAGING_TLS_CERTIFICATE": str(pki / "services" / "messaging.crt"),
            "MESSAGING_TLS_PRIVATE_KEY": str(pki / "services" / "messaging.key"),
            "MESSAGING_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            # A person's contact and preferences: identity's services port (set once it runs).
            "MESSAGING_IDENTITY_ADDRESS": self.identity_services_address,
            "MESSAGING_PLATFORM_CA": str(pki / "ca.crt"),
            "MESSAGING_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "MESSAGING_SMTP_HOST": infra["GUICHET_SMTP_HOST"],
            "MESSAGING_SMTP_PORT": infra["GUICHET_SMTP_PORT"],
            "MESSAGING_SMS_URL": infra["GUICHET_SMS_URL"],
            # eDelivery: the wallet's services port (set once it runs) and the platform's seal.
            "MESSAGING_WALLET_ADDRESS": self.wallet_services_address,
            "MESSAGING_SEAL_CERTIFICATE": infra["GUICHET_SEAL_CERTIFICATE"],
            "MESSAGING_SEAL_PRIVATE_KEY": infra["GUICHET_SEAL_PRIVATE_KEY"],
            # A thread per procedures request: procedures' internal port (set once it runs).
            "MESSAGING_PROCEDURES_ADDRESS": self.procedures_address,
            # Durable consumers of this run's own: runs share the NATS server.
            "MESSAGING_CONSUMER_PREFIX": f"messaging-{name}-{worker_name()}",
            **self._keycloak("MESSAGING"),
            **{f"MESSAGING_{key.upper()}": value for key, value in settings.items()},
        }
        process = await self._start(name, "guichet_messaging", role, env, address)
        return Started(process, address, admin_address)

    async def authentic_data(
        self, database_url: str, role: str = "all", name: str = "authentic-data"
    ) -> Started:
        """The registers (internal port for the gateway, mutual TLS port for platform services
        and administrations); identity's address must be known (it may start after)."""
        address, mtls_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        pki = self.pki
        env = {
            "AUTHENTIC_DATA_ENVIRONMENT": "test",
            "AUTHENTIC_DATA_DATABASE_URL": database_url,
            "AUTHENTIC_DATA_NATS_URL": self.infra["GUICHET_NATS_URL"],
            "AUTHENTIC_DATA_GRPC_ADDRESS": address,
            "AUTHENTIC_DATA_MTLS_GRPC_ADDRESS": mtls_address,
            "AUTHENTIC_DATA_TLS_CERTIFICATE": str(pki / "services" / "authentic-data.crt"),
            "AUTHENTIC_DATA_TLS_PRIVATE_KEY": str(pki / "services" / "authentic-data.key"),
            "AUTHENTIC_DATA_PLATFORM_CA": str(pki / "ca.crt"),
            "AUTHENTIC_DATA_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            "AUTHENTIC_DATA_SEAL_CERTIFICATE": self.infra["GUICHET_SEAL_CERTIFICATE"],
            "AUTHENTIC_DATA_SEAL_PRIVATE_KEY": self.infra["GUICHET_SEAL_PRIVATE_KEY"],
            "AUTHENTIC_DATA_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "AUTHENTIC_DATA_IDENTITY_ADDRESS": self.identity_address,
            "AUTHENTIC_DATA_DESK_INTERVAL_SECONDS": "1",
            # Durable consumers of this stack's own: stacks share the NATS server.
            "AUTHENTIC_DATA_PURGE_CONSUMER": f"authentic-data-account-purge-{name}-{worker_name()}",
            "AUTHENTIC_DATA_REPORT_CONSUMER": f"authentic-data-reports-{name}-{worker_name()}",
            **self._keycloak("AUTHENTIC_DATA"),
        }
        process = await self._start(name, "guichet_authentic_data", role, env, address)
        self.authentic_data_address, self.authentic_data_mtls_address = address, mtls_address
        return Started(process, address, mtls_address)

    async def gateway(
        self, etracking_address: str, *, burst: int, name: str = "gateway"
    ) -> Started:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        infra = self.infra
        if not self.gateway_database_url:
            self.gateway_database_url = await migrated_database(
                infra, REPO_ROOT / "gateway", f"gateway_e2e_{worker_name()}"
            )
        env = {
            "GATEWAY_ENVIRONMENT": "test",
            "GATEWAY_PORT": str(port),
            "GATEWAY_PUBLIC_URL": url,
            "GATEWAY_DATABASE_URL": self.gateway_database_url,
            "GATEWAY_CLIENT_ID": infra["GUICHET_KEYCLOAK_GATEWAY_CLIENT_ID"],
            "GATEWAY_CLIENT_SECRET": infra["GUICHET_KEYCLOAK_GATEWAY_CLIENT_SECRET"],
            "GATEWAY_ALTCHA_HMAC_KEY": infra["GUICHET_GATEWAY_ALTCHA_HMAC_KEY"],
            "GATEWAY_SESSION_KEY": infra["GUICHET_GATEWAY_SESSION_KEY"],
            # The proof of work stays real but light: tests solve hundreds of challenges.
            "GATEWAY_ALTCHA_COST": "20",
            "GATEWAY_ETRACKING_ADDRESS": etracking_address,
            "GATEWAY_IDENTITY_ADDRESS": self.identity_address,
            "GATEWAY_WALLET_ADDRESS": self.wallet_address,
            "GATEWAY_PROCEDURES_ADDRESS": self.procedures_address,
            "GATEWAY_MESSAGING_ADDRESS": self.messaging_address,
            "GATEWAY_AUTHENTIC_DATA_ADDRESS": self.authentic_data_address,
            "GATEWAY_NATS_URL": infra["GUICHET_NATS_URL"],
            "GATEWAY_LOOKUP_BURST": str(burst),
            "GATEWAY_ACCOUNT_BURST": str(burst),
            "GATEWAY_CREATION_BURST": str(burst),
            "GATEWAY_CHALLENGE_BURST": str(burst),
            "GATEWAY_HEALTH_URLS": json.dumps(
                {
                    "keycloak": f"{infra['GUICHET_KEYCLOAK_MANAGEMENT_URL']}/health/ready",
                    "nats": f"{infra['GUICHET_NATS_MONITOR_URL']}/healthz?js-enabled-only=true",
                    "minio": f"http://{infra['GUICHET_MINIO_ENDPOINT']}/minio/health/live",
                }
            ),
            **self._keycloak("GATEWAY"),
        }
        args = [sys.executable, "-m", "guichet_gateway"]
        process = ServiceProcess(
            name, args, {**env, **self._tracing, **self.extra_env}, self.log_dir
        )
        process.start()

        async def answers() -> bool:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/openapi.json")).status_code == 200

        await wait_until(answers, seconds=60, what=name, process=process)
        return Started(process, url)

"""Who may call each RPC of identity: the declarations, and the refusals they give before any work.

Servicers are built without a database: a refused call must be refused before it opens one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.authentic_data import AuthenticDataRegisters
from guichet_identity.profile.contact import CONTACT_READERS, ContactServicer
from guichet_identity.profile.grpc import ProfileServicer
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.settings import IdentitySettings
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import ActingContext, LevelOfAssurance, Principal, set_caller
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.servicers import DeclaredServicer, Registry, declared_access

NO_CONTEXT: Any = None
LOW, SUBSTANTIAL, HIGH = LevelOfAssurance.LOW, LevelOfAssurance.SUBSTANTIAL, LevelOfAssurance.HIGH
PRIVATE = {"private"}
OWN_OR_COMPANY = {"private", "company"}
ANY = {"private", "company", "relation"}

# service → RPC → (kind, level, acting contexts): the table the report and the docs give.
EXPECTED: dict[str, dict[str, tuple[str, LevelOfAssurance, set[str]]]] = {
    "AccountService": {
        "Register": ("public", LOW, ANY),
        "RequestPasswordReset": ("public", LOW, ANY),
        "ConfirmEmailChange": ("public", LOW, ANY),
        "ChangePassword": ("citizen", LOW, PRIVATE),
        "RequestEmailChange": ("citizen", LOW, PRIVATE),
        "ListSignIns": ("citizen", LOW, ANY),
        "ExportIdentity": ("citizen", SUBSTANTIAL, PRIVATE),
        "DeleteAccount": ("citizen", SUBSTANTIAL, PRIVATE),
        "GetAccountDeletion": ("citizen", LOW, PRIVATE),
    },
    "ProfileService": {
        "GetProfile": ("citizen", LOW, ANY),
        "UpdateProfile": ("citizen", LOW, PRIVATE),
        "GetPreferences": ("citizen", LOW, ANY),
        "UpdatePreferences": ("citizen", LOW, PRIVATE),
    },
    "RelationService": {
        "GrantMandate": ("citizen", HIGH, PRIVATE),
        "DeclareChild": ("citizen", HIGH, PRIVATE),
        "ListRelations": ("citizen", LOW, ANY),
        "RevokeRelation": ("citizen", LOW, PRIVATE),
        "CheckMandate": ("citizen", LOW, ANY),
        "ListActsOnMyBehalf": ("citizen", LOW, ANY),
        "ListActingContexts": ("citizen", LOW, ANY),
    },
    "SpaceService": {
        "CreateSpace": ("citizen", LOW, OWN_OR_COMPANY),
        "ListSpaces": ("citizen", LOW, ANY),
        "GetSpace": ("citizen", LOW, ANY),
        "UpdateSpace": ("citizen", LOW, OWN_OR_COMPANY),
        "AddCollaborator": ("citizen", LOW, OWN_OR_COMPANY),
        "ChangeCollaboratorRole": ("citizen", LOW, OWN_OR_COMPANY),
        "RemoveCollaborator": ("citizen", LOW, OWN_OR_COMPANY),
    },
    # Platform services by their certificate (messaging only: see test_contact_callers).
    "ContactService": {
        "GetContact": ("platform", LOW, PRIVATE),
    },
}
CITIZEN_RPCS = [
    (service, method)
    for service, methods in EXPECTED.items()
    for method, (kind, _, _) in methods.items()
    if kind == "citizen"
]


@pytest.fixture
async def servicers() -> AsyncIterator[dict[str, DeclaredServicer]]:
    settings = IdentitySettings(
        database_url="unused://",
        nats_url="nats://unused",
        keycloak_url="https://keycloak.invalid",
        keycloak_client_secret=SecretStr("unused"),
        tls_certificate=Path("unused.crt"),
        tls_private_key=Path("unused.key"),
        platform_ca=Path("unused-ca.crt"),
    )
    accounts = AccountServicer(None, settings, lambda: None)  # type: ignore[arg-type]
    # Refused calls never reach the registers: a client of nowhere.
    nowhere = insecure_channel("127.0.0.1:1", timeout=1)
    registers = AuthenticDataRegisters(nowhere)
    yield {
        "AccountService": accounts,
        "ProfileService": ProfileServicer(None),
        "RelationService": RelationServicer(None, registers=registers),  # type: ignore[arg-type]
        "SpaceService": SpaceServicer(None, registers=registers),  # type: ignore[arg-type]
        "ContactService": ContactServicer(None),
    }
    await accounts.aclose()
    await nowhere.close()
    set_caller(None)


def _request(service: str, method: str) -> Any:
    descriptor = pb.DESCRIPTOR.services_by_name[service].methods_by_name[method]
    return getattr(pb, descriptor.input_type.name)()


def _person(level: LevelOfAssurance) -> Principal:
    return Principal("kc-anne", level, "1980010100017", "anne@example.lu", "Anne", "token")


def test_the_table_names_every_rpc_of_identity() -> None:
    assert {service: set(methods) for service, methods in EXPECTED.items()} == {
        service.name: {method.name for method in service.methods}
        for service in pb.DESCRIPTOR.services_by_name.values()
    }


@pytest.mark.parametrize(
    ("service", "method"),
    [(service, method) for service, methods in EXPECTED.items() for method in methods],
)
def test_each_rpc_is_declared_as_the_table_says(
    servicers: dict[str, DeclaredServicer], service: str, method: str
) -> None:
    access = declared_access(servicers[service], method)
    assert access is not None, f"{service}.{method} has no declaration"
    kind, level, contexts = EXPECTED[service][method]
    assert (access.kind, access.level, set(access.contexts)) == (kind, level, contexts)


async def test_the_registry_takes_every_servicer(servicers: dict[str, DeclaredServicer]) -> None:
    declared: set[str] = set()
    registry = Registry(grpc.aio.server(), declared)
    for name, servicer in servicers.items():
        add = getattr(pb_grpc, f"add_{name}Servicer_to_server")
        registry.add(add, servicer, pb.DESCRIPTOR.services_by_name[name])
    assert len(declared) == sum(len(methods) for methods in EXPECTED.values())


def test_contact_callers(servicers: dict[str, DeclaredServicer]) -> None:
    access = declared_access(servicers["ContactService"], "GetContact")
    assert access is not None
    assert set(access.services) == set(CONTACT_READERS) == {"messaging"}


async def test_a_call_without_a_certificate_gets_no_contact(
    servicers: dict[str, DeclaredServicer],
) -> None:
    # A signed-in person is no platform service.
    set_caller(_person(HIGH))

    with pytest.raises(ServiceError) as refused:
        await servicers["ContactService"].GetContact(  # type: ignore[attr-defined]
            pb.GetContactRequest(national_id="1980010100017"), NO_CONTEXT
        )

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "SERVICE_CERTIFICATE_REQUIRED",
    )


@pytest.mark.parametrize(("service", "method"), CITIZEN_RPCS)
async def test_an_anonymous_call_to_a_citizen_rpc_is_unauthenticated(
    servicers: dict[str, DeclaredServicer], service: str, method: str
) -> None:
    set_caller(None)

    with pytest.raises(ServiceError) as refused:
        await getattr(servicers[service], method)(_request(service, method), NO_CONTEXT)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "AUTHENTICATION_REQUIRED",
    )


@pytest.mark.parametrize(
    ("service", "method", "level", "needed"),
    [
        ("AccountService", "ExportIdentity", LOW, "substantial"),
        ("AccountService", "DeleteAccount", LOW, "substantial"),
        ("RelationService", "GrantMandate", LOW, "high"),
        ("RelationService", "GrantMandate", SUBSTANTIAL, "high"),
        ("RelationService", "DeclareChild", SUBSTANTIAL, "high"),
    ],
)
async def test_a_sign_in_below_the_rpcs_level_gets_the_step_up_challenge(
    servicers: dict[str, DeclaredServicer],
    service: str,
    method: str,
    level: LevelOfAssurance,
    needed: str,
) -> None:
    set_caller(_person(level))
    request = _request(service, method)
    if method == "DeleteAccount":
        request.confirm_email = "anne@example.lu"

    with pytest.raises(ServiceError) as refused:
        await getattr(servicers[service], method)(request, NO_CONTEXT)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "INSUFFICIENT_USER_AUTHENTICATION",
    )
    assert refused.value.metadata == {"acr_values": needed}


@pytest.mark.parametrize(
    ("service", "method", "context"),
    [
        (service, method, context)
        for service, methods in EXPECTED.items()
        for method, (kind, _, contexts) in methods.items()
        if kind == "citizen"
        for context in sorted(ANY - contexts)
    ],
)
async def test_a_change_in_ones_own_name_is_refused_while_acting_for_someone_else(
    servicers: dict[str, DeclaredServicer], service: str, method: str, context: str
) -> None:
    set_caller(
        _person(HIGH),
        ActingContext(context, "3b1d7a52-4a55-4c1e-9d1c-0d9d1f3f8f01"),  # type: ignore[arg-type]
    )

    with pytest.raises(ServiceError) as refused:
        await getattr(servicers[service], method)(_request(service, method), NO_CONTEXT)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "ACTING_CONTEXT_NOT_ALLOWED",
    )

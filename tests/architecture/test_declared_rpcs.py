"""Every RPC of every service states who may call it: a method without a declaration would be
refused at start-up, and this test names it before anything starts."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.protobuf.descriptor import ServiceDescriptor

from guichet_kit.servicers import DeclaredServicer, declared_access, undeclared_methods

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = sorted(p.name for p in (ROOT / "services").glob("*/src/guichet_*"))


def contract_services() -> list[ServiceDescriptor]:
    services = []
    contracts = ROOT / "libs/contracts/src"
    for path in sorted(contracts.glob("guichet/*/v1/*_pb2.py")):
        if path.parts[-3] == "events":
            continue
        name = ".".join(path.relative_to(contracts).with_suffix("").parts)
        services.extend(importlib.import_module(name).DESCRIPTOR.services_by_name.values())
    return services


def servicer_classes() -> list[type[DeclaredServicer]]:
    # Each service's wiring (`app`) imports every servicer it registers, wherever they live.
    for name in SERVICE_PACKAGES:
        importlib.import_module(f"{name}.app")
    found: list[type[DeclaredServicer]] = []
    pending = list(DeclaredServicer.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls.__module__.split(".")[0] in SERVICE_PACKAGES:  # not a test's own servicer
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


SERVICES = contract_services()


def test_the_contracts_are_found() -> None:
    names = {service.full_name for service in SERVICES}
    assert "guichet.etracking.v1.TrackingService" in names
    assert "guichet.identity.v1.AccountService" in names


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.full_name)
def test_every_rpc_of_every_service_is_declared(service: ServiceDescriptor) -> None:
    base_name = f"{service.name}Servicer"
    servicers = [
        cls
        for cls in servicer_classes()
        if any(base.__name__ == base_name for base in cls.__mro__[1:])
    ]
    assert servicers, f"no declared servicer implements {service.full_name}"
    for cls in servicers:
        instance = cls.__new__(cls)
        missing = undeclared_methods(instance, service)
        assert not missing, f"{cls.__qualname__}: RPCs without a declaration: {missing}"
        for method in service.methods:
            assert declared_access(instance, method.name) is not None

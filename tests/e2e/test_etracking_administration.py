"""The administration API: mutual TLS, competence, allowed transitions; refusals change nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import httpx
import pytest
from nats.js import JetStreamContext
from stack import Counts, Stack, events_since, stream_position

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import mutual_tls_channel
from guichet_testkit.altcha import solved_challenge

if TYPE_CHECKING:  # the async stub type exists only in the generated .pyi
    AdminStub = pb_grpc.AdministrationTrackingServiceAsyncStub


async def new_tracking(api: httpx.AsyncClient, form: str = "ACD-IR-100") -> str:
    response = await api.post(
        "/api/v1/etracking/trackings",
        json={"paper_form_code": form, "language": "en", "altcha": await solved_challenge(api)},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


async def status_of(api: httpx.AsyncClient, number: str) -> tuple[str, int]:
    body = (await api.get(f"/api/v1/etracking/trackings/{number}")).json()
    return body["status"], len(body["history"])


async def test_another_administration_cannot_touch_a_form_outside_its_competence(
    api: httpx.AsyncClient, ccss: AdminStub, counts: Counts, jetstream: JetStreamContext
) -> None:
    number = await new_tracking(api)
    before, position = await counts.snapshot(), await stream_position(jetstream)

    for call in (
        ccss.ScanTracking(pb.ScanTrackingRequest(number=number)),
        ccss.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number=number, status=pb.TRACKING_STATUS_REJECTED)
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        failure = read_rpc_failure(refused.value)
        assert failure.code == grpc.StatusCode.PERMISSION_DENIED
        assert failure.reason == "NOT_COMPETENT"

    assert await status_of(api, number) == ("awaiting_paper_form", 1)
    assert await counts.snapshot() == before
    changes = await events_since(jetstream, position, number.replace("-", ""))
    assert [subject for subject, _ in changes if "status_changed" in subject] == []


async def test_a_call_without_client_certificate_is_refused(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number = await new_tracking(api)
    # On the mutual TLS port: the handshake fails without a certificate.
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(stack.pki / "ca.crt").read_bytes()
    )
    async with grpc.aio.secure_channel(stack.admin_address, credentials) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationTrackingServiceStub(channel).ScanTracking(
                pb.ScanTrackingRequest(number=number), timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # On the internal port, reachable only inside the platform: no certificate, no identity.
    async with grpc.aio.insecure_channel(stack.etracking_address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationTrackingServiceStub(channel).ScanTracking(
                pb.ScanTrackingRequest(number=number), timeout=10
            )
        failure = read_rpc_failure(refused.value)
        assert failure.code == grpc.StatusCode.UNAUTHENTICATED
        assert failure.reason == "CLIENT_CERTIFICATE_REQUIRED"
    assert await status_of(api, number) == ("awaiting_paper_form", 1)


async def test_a_certificate_from_another_ca_is_refused(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number = await new_tracking(api)
    rogue = stack.pki / "rogue"
    async with mutual_tls_channel(
        stack.admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(rogue / "acd.crt").read_bytes(),
        private_key=(rogue / "acd.key").read_bytes(),
        timeout=10,
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationTrackingServiceStub(channel).ScanTracking(
                pb.ScanTrackingRequest(number=number)
            )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await status_of(api, number) == ("awaiting_paper_form", 1)


async def test_a_platform_service_certificate_is_no_administration(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number = await new_tracking(api)
    # Signed by the platform CA, with clientAuth: valid for service-to-service TLS, yet the
    # administration port trusts only the administrations CA.
    services = stack.pki / "services"
    async with mutual_tls_channel(
        stack.admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(services / "gateway.crt").read_bytes(),
        private_key=(services / "gateway.key").read_bytes(),
        timeout=10,
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationTrackingServiceStub(channel).ScanTracking(
                pb.ScanTrackingRequest(number=number)
            )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await status_of(api, number) == ("awaiting_paper_form", 1)


async def test_a_transition_that_is_not_allowed_changes_nothing(
    api: httpx.AsyncClient, acd: AdminStub, counts: Counts, jetstream: JetStreamContext
) -> None:
    number = await new_tracking(api)
    before, position = await counts.snapshot(), await stream_position(jetstream)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await acd.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number=number, status=pb.TRACKING_STATUS_COMPLETED)
        )
    failure = read_rpc_failure(refused.value)
    assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert failure.reason == "TRANSITION_NOT_ALLOWED"
    assert await counts.snapshot() == before
    changes = await events_since(jetstream, position, number.replace("-", ""))
    assert [subject for subject, _ in changes if "status_changed" in subject] == []


async def test_a_final_status_cannot_be_left(api: httpx.AsyncClient, acd: AdminStub) -> None:
    number = await new_tracking(api)
    await acd.ScanTracking(pb.ScanTrackingRequest(number=number))
    await acd.UpdateTrackingStatus(
        pb.UpdateTrackingStatusRequest(number=number, status=pb.TRACKING_STATUS_REJECTED)
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await acd.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number=number, status=pb.TRACKING_STATUS_IN_PROCESSING)
        )
    assert read_rpc_failure(refused.value).reason == "TRANSITION_NOT_ALLOWED"
    assert await status_of(api, number) == ("rejected", 3)


@pytest.mark.parametrize(
    ("request_fields", "reason", "field"),
    [
        ({"status": pb.TRACKING_STATUS_UNSPECIFIED}, "INVALID_STATUS_UPDATE", "status"),
        ({"status": 42}, "INVALID_STATUS_UPDATE", "status"),
        (
            {"status": pb.TRACKING_STATUS_RECEIVED, "comment": "x" * 501},
            "INVALID_STATUS_UPDATE",
            "comment",
        ),
    ],
)
async def test_a_malformed_status_update_is_refused_with_its_field(
    api: httpx.AsyncClient,
    acd: AdminStub,
    counts: Counts,
    request_fields: dict,
    reason: str,
    field: str,
) -> None:
    number = await new_tracking(api)
    before = await counts.snapshot()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await acd.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number=number, **request_fields)
        )
    failure = read_rpc_failure(refused.value)
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.reason == reason
    assert [error.field for error in failure.field_errors] == [field]
    assert await counts.snapshot() == before


async def test_a_mistyped_number_is_refused_on_the_admin_api(acd: AdminStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await acd.ScanTracking(pb.ScanTrackingRequest(number="ET-7K3M-9QX2-Z"))
    failure = read_rpc_failure(refused.value)
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.reason == "INVALID_TRACKING_NUMBER"
    assert failure.field_errors[0].reason == "check_character"


async def test_an_unknown_number_is_not_found_on_the_admin_api(acd: AdminStub) -> None:
    from guichet_etracking.tracking.number import generate_tracking_number

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await acd.ScanTracking(pb.ScanTrackingRequest(number=generate_tracking_number().display))
    assert read_rpc_failure(refused.value).reason == "TRACKING_NOT_FOUND"

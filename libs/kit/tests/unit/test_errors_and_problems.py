"""A ServiceError survives the trip through gRPC trailers and becomes an RFC 9457 problem."""

import grpc
import pytest

from guichet_kit.domain import Exhausted, FieldError, InvalidInput, NotFound, Unavailable
from guichet_kit.errors import read_rpc_failure, relayed_refusal, service_error
from guichet_kit.i18n import Language
from guichet_kit.problems import problem_from_rpc_error, problem_type


def as_received(error: Exception) -> grpc.aio.AioRpcError:
    """What a caller gets: the status and the trailing metadata the server sent."""
    status = error.to_status()  # type: ignore[attr-defined]
    return grpc.aio.AioRpcError(
        status.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*status.trailing_metadata),
        details=status.details,
    )


def test_reason_and_field_errors_are_read_back_by_the_caller() -> None:
    error = service_error(
        InvalidInput(
            "INVALID_TRACKING_REQUEST",
            "the tracking request is invalid",
            [
                FieldError("email", "invalid", "Not an e-mail address."),
                FieldError("phone", "x", "y"),
            ],
        )
    )
    failure = read_rpc_failure(as_received(error))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.reason == "INVALID_TRACKING_REQUEST"
    assert failure.message == "the tracking request is invalid"
    assert failure.field_errors == [
        FieldError("email", "invalid", "Not an e-mail address."),
        FieldError("phone", "x", "y"),
    ]


def test_another_services_refusal_is_relayed_as_the_callers_own() -> None:
    refused = service_error(
        Exhausted("QUOTA_EXCEEDED", "full", [FieldError("file", "too_large", "Too large.")])
    )
    relayed = relayed_refusal(as_received(refused), Unavailable("FILES_UNAVAILABLE", "later"))
    assert isinstance(relayed, Exhausted)
    assert (relayed.reason, relayed.message) == ("QUOTA_EXCEEDED", "full")
    assert relayed.fields == [FieldError("file", "too_large", "Too large.")]


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INTERNAL],
)
def test_what_is_not_a_refusal_becomes_the_callers_outage(code: grpc.StatusCode) -> None:
    failed = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="x")
    outage = Unavailable("FILES_UNAVAILABLE", "later")
    assert relayed_refusal(failed, outage) is outage


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (service_error(InvalidInput("BAD", "bad")), 422),
        (service_error(NotFound("TRACKING_NOT_FOUND", "none")), 404),
    ],
)
def test_status_codes_map_to_http_statuses(error: Exception, status: int) -> None:
    assert problem_from_rpc_error(as_received(error)).status == status


def test_problem_body_is_localised_and_has_a_stable_type() -> None:
    problem = problem_from_rpc_error(
        as_received(service_error(NotFound("TRACKING_NOT_FOUND", "none")))
    )
    body = problem.body(Language.DE, "/api/v1/x")
    assert body == {
        "type": "urn:openguichet:problem:tracking-not-found",
        "title": "Keine eTracking-Verfolgung mit dieser Nummer",  # the catalogue's, in German
        "status": 404,
        "reason": "TRACKING_NOT_FOUND",
        "instance": "/api/v1/x",
        "detail": "none",
    }
    assert problem_type("TRACKING_NOT_FOUND") == body["type"]


def test_a_reason_the_catalogue_lacks_takes_the_generic_title_of_its_status() -> None:
    problem = problem_from_rpc_error(as_received(service_error(NotFound("SOMETHING_NEW", "none"))))
    assert problem.body(Language.DE, "/x")["title"] == "Nicht gefunden"


def test_a_failure_without_a_reason_is_an_upstream_failure_whose_text_stays_inside() -> None:
    bare = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="down"
    )
    problem = problem_from_rpc_error(bare)
    assert problem.status == 503
    assert problem.reason == "DEPENDENCY_UNAVAILABLE"
    body = problem.body(Language.EN, "/x")
    assert body["title"] == "A service needed for this is temporarily unavailable"
    assert "detail" not in body, "upstream messages of 5xx failures are not shown to users"

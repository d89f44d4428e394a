"""A consumer retries what a dependency's outage caused and dead-letters what the event caused."""

import grpc
import pytest

from guichet_kit.events import is_transient


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata())


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED])
def test_a_service_that_is_down_is_a_transient_failure(code: grpc.StatusCode) -> None:
    assert is_transient(rpc_error(code))


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND])
def test_a_refused_call_is_not_transient(code: grpc.StatusCode) -> None:
    assert not is_transient(rpc_error(code))


def test_an_ordinary_exception_is_not_transient() -> None:
    assert not is_transient(ValueError("bad event"))
    assert is_transient(TimeoutError())

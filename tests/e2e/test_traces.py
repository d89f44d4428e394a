"""One request through the gateway is one trace in Jaeger: the gateway's span, the service's, the
outbox relay's publication of the event it wrote and the spans of the consumers of that event
(trace context in gRPC metadata and in NATS headers), found through Jaeger's query API."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from citizens import Registry

from guichet_testkit.eventually import wait_until

DELETE_ACCOUNT = "guichet.identity.v1.AccountService/DeleteAccount"


@dataclass(frozen=True)
class Span:
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: str


def spans_of(trace: dict[str, Any]) -> list[Span]:
    """The spans of a trace as Jaeger's query API gives them (`/api/traces/<id>`)."""
    services = {key: process["serviceName"] for key, process in trace["processes"].items()}
    spans = []
    for span in trace["spans"]:
        parents = [ref["spanID"] for ref in span["references"] if ref["refType"] == "CHILD_OF"]
        tags = {tag["key"]: tag["value"] for tag in span["tags"]}
        spans.append(
            Span(
                span["spanID"],
                parents[0] if parents else None,
                services[span["processID"]],
                span["operationName"],
                str(tags.get("span.kind", "")),
            )
        )
    return spans


def ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    chain = []
    while span.parent_id is not None and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def is_confirmation(span: Span) -> bool:
    """identity applying etracking's confirmation of its purge."""
    return (
        span.kind == "consumer"
        and span.service == "identity"
        and span.name.startswith("etracking.account.purged")
    )


@pytest.fixture
def jaeger(infra: dict[str, str]) -> str:
    assert infra.get("GUICHET_OTLP_ENDPOINT") and infra.get("GUICHET_JAEGER_URL"), (
        ".data/infra.env names no Jaeger: run `make infra` (it starts Jaeger since traces exist)"
    )
    return infra["GUICHET_JAEGER_URL"]


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


async def test_an_account_deletion_is_one_trace_from_the_gateway_to_the_consumers(
    api: httpx.AsyncClient, registry: Registry, jaeger: str
) -> None:
    anne = await registry.register("Anne")
    await registry.step_up_to_substantial(anne)
    # The caller starts the trace (as a front end or a proxy would): its id is known here.
    trace_id = secrets.token_hex(16)
    caller_span = secrets.token_hex(8)
    deleted = await api.post(
        "/api/v1/me/deletion",
        headers={
            **anne.bearer("substantial"),
            "traceparent": f"00-{trace_id}-{caller_span}-01",
        },
        json={"confirm_email": anne.email},
    )
    assert deleted.status_code == 202, deleted.text

    found: list[Span] = []
    async with httpx.AsyncClient(base_url=jaeger, timeout=10) as client:

        async def whole_trace() -> bool:
            # Each process sends its spans in batches: wait until every hop has arrived.
            response = await client.get(f"/api/traces/{trace_id}")
            if response.status_code != 200:
                return False
            found[:] = [span for trace in response.json()["data"] for span in spans_of(trace)]
            by_id = {span.span_id: span for span in found}
            # The last hop: identity applying etracking's confirmation of its purge, with every
            # span between it and the caller arrived, the gateway's first one included (each
            # process exports its spans in its own batches, the gateway's may come last).
            confirmations = [span for span in found if is_confirmation(span)]
            return bool(confirmations) and all(
                any(span.service == "etracking" and span.kind == "consumer" for span in chain)
                and any(span.service == "gateway" and span.kind == "server" for span in chain)
                for chain in (ancestors(confirmation, by_id) for confirmation in confirmations)
            )

        await wait_until(whole_trace, seconds=120, what=f"trace {trace_id} in Jaeger")

    by_id = {span.span_id: span for span in found}
    # The gateway's span continues the caller's; the service's continues the gateway's.
    gateway = [span for span in found if span.service == "gateway" and span.kind == "server"]
    assert len(gateway) == 1, found
    assert gateway[0].parent_id == caller_span
    deletion = [span for span in found if span.name == DELETE_ACCOUNT]
    assert len(deletion) == 1, found
    assert deletion[0].service == "identity" and deletion[0].kind == "server"
    assert gateway[0] in ancestors(deletion[0], by_id)
    # The event identity wrote with the deletion: published by its relay inside the trace...
    published = [
        span
        for span in found
        if span.service == "identity" and span.kind == "producer" and "deleted" in span.name
    ]
    assert len(published) == 1, found
    assert deletion[0] in ancestors(published[0], by_id)
    # ...and applied by etracking's purge consumer, whose own confirmation identity consumed.
    purge = [span for span in found if span.service == "etracking" and span.kind == "consumer"]
    assert purge and all(published[0] in ancestors(span, by_id) for span in purge), found
    confirmations = [span for span in found if is_confirmation(span)]
    assert confirmations, found
    assert all(
        any(span in ancestors(confirmation, by_id) for span in purge)
        for confirmation in confirmations
    ), found

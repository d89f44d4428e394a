"""GUICHET_STREAM_REPLICAS on the real JetStream. `make infra` runs a single server, which keeps
one copy and refuses more: that refusal shows the count reaches the server (the 3 copies of a
cluster are proven by the cluster test)."""

from __future__ import annotations

import contextlib

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError, ServerError
from pydantic import ValidationError

from guichet_kit.events import ensure_stream
from guichet_testkit import worker_name

STREAM = f"KITREPLICAS_{worker_name().upper()}"
SUBJECTS = [f"kitreplicas{worker_name()}.>"]


async def _delete(jetstream: JetStreamContext) -> None:
    with contextlib.suppress(NotFoundError):
        await jetstream.delete_stream(STREAM)


async def test_a_stream_is_created_with_the_configured_copies(
    jetstream: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _delete(jetstream)
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", "1")
    await ensure_stream(jetstream, STREAM, SUBJECTS)
    info = await jetstream.stream_info(STREAM)
    assert info.config.num_replicas == 1
    await _delete(jetstream)


async def test_the_configured_copies_reach_the_server(
    jetstream: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _delete(jetstream)
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", "3")
    with pytest.raises(ServerError, match="replicas > 1 not supported in non-clustered mode"):
        await ensure_stream(jetstream, STREAM, SUBJECTS)
    with pytest.raises(NotFoundError):
        await jetstream.stream_info(STREAM)


async def test_a_bad_count_creates_nothing(
    jetstream: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _delete(jetstream)
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", "0")
    with pytest.raises(ValidationError, match="stream_replicas"):
        await ensure_stream(jetstream, STREAM, SUBJECTS)
    with pytest.raises(NotFoundError):
        await jetstream.stream_info(STREAM)


async def test_a_bad_count_leaves_an_existing_stream_as_it_was(
    jetstream: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _delete(jetstream)
    await ensure_stream(jetstream, STREAM, SUBJECTS, replicas=1)
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", "9")
    with pytest.raises(ValidationError, match="stream_replicas"):
        await ensure_stream(jetstream, STREAM, [*SUBJECTS, "other.>"])
    info = await jetstream.stream_info(STREAM)
    assert info.config.subjects == SUBJECTS
    assert info.config.num_replicas == 1
    await _delete(jetstream)

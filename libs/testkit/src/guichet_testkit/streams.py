"""Scratch JetStream streams, emptied between tests so one test's events never reach another's."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError


async def purge_streams(js: JetStreamContext, names: Sequence[str]) -> None:
    """Empty each stream that exists; a missing one is already empty."""
    for name in names:
        with contextlib.suppress(NotFoundError):
            await js.purge_stream(name)

"""/api/v1/events: the signed-in person's live badges (F85), as Server-Sent Events.

Each replica follows etracking's status changes with ONE ordered JetStream consumer (deliver
new: a badge is about what happens while the person is here) and fans each change out, through
an in-process hub keyed by subject, to that person's open connections on this replica.

What a badge says: how many of the person's eTrackings have news since they last looked at
"My eTrackings" (a status changed after that moment), which is what a number next to a menu entry
means in a mail or chat client, with the count of their open ones alongside for apps. "Last
looked" is the `seen_since` query parameter (apps keep their own) or the cookie the "My
eTrackings" page sets; without either, counting starts when the stream opens. The gateway keeps
no read state of its own.

The status-changed event names the tracking, not its owner: a connection learns the person's
tracking numbers when it opens (ListMyTrackings, as the person) and the hub indexes them, so a
change reaches every connection of the owning person. A tracking created after the stream opened
is counted from the person's next connection (a page load or the browser's reconnect).

Messages (F60): the same stream carries how many administrations' answers the person has not
read yet ("My messages"). The count is the messaging service's when the stream opens
(ListMyThreads, as the person); each messaging.message.answered.v1 of the person (its owner,
`person:<national id>`) that happened after the counts were read adds one (a status change too:
an event published late by a slow outbox relay is already in the counts). Reading a
conversation lowers it at the next page load, when the stream opens again. Only in the
person's own space: exchanges are private.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import grpc
import orjson
import structlog
from fastapi import APIRouter, Depends, Query, Request
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Gauge
from sse_starlette import EventSourceResponse, ServerSentEvent

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.events import subjects
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet.events.v1 import messaging_pb2 as messaging_events_pb2
from guichet.messaging.v1 import exchanges_pb2 as exchanges_pb
from guichet_gateway.deps import Calls, ServiceStubs, verify_caller
from guichet_kit.auth import Principal, bearer_token
from guichet_kit.following import follow_events
from guichet_kit.i18n import Catalog, Language, pick_language

log = structlog.get_logger(__name__)
_ = Catalog("guichet_gateway")

# Changes waiting for one connection; a client that lets this many pile up is not reading and
# is dropped (its browser reconnects and starts from fresh counts).
QUEUE_SIZE = 32
# A comment line this often keeps proxies from closing an idle stream and finds dead clients.
HEARTBEAT_SECONDS = 15
# A write blocked this long (a client that stopped reading) ends the stream.
SEND_TIMEOUT_SECONDS = 30
# The sign-in is checked when the stream opens; closing it after this long makes the client
# come back with its current token or session (a browser's EventSource reconnects by itself).
MAX_STREAM_SECONDS = 600
# How long the browser waits before reconnecting after the stream ends.
RECONNECT_MILLISECONDS = 3000
FINAL_STATUSES = {
    pb.TRACKING_STATUS_COMPLETED,
    pb.TRACKING_STATUS_REJECTED,
    pb.TRACKING_STATUS_WITHDRAWN,
}
# Where the "My eTrackings" page records when the person last looked (Unix seconds).
SEEN_COOKIE = "etrackings_seen"

LIVE_STREAMS = Gauge("guichet_live_streams", "Open live badge streams on this replica")
LIVE_DROPPED = Counter("guichet_live_dropped_total", "Live streams dropped for not reading")

router = APIRouter(prefix="/api/v1", tags=["live"])


def compact(number: str) -> str:
    """The form a number has in events: upper case, no dashes."""
    return number.replace("-", "").upper()


@dataclass(frozen=True)
class StatusChange:
    number: str
    previous: int
    status: int
    occurred_at: datetime


@dataclass(frozen=True)
class Answered:
    """An administration answered one of the person's conversations."""

    thread_id: str
    occurred_at: datetime


@dataclass(eq=False)
class Listener:
    """One open stream: the changes waiting for it, and whether the hub let it go."""

    subject: str
    changes: asyncio.Queue[StatusChange | Answered] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    # `person:<national id>`, the owner that messaging's events name; empty: not followed.
    person: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class LiveHub:
    """The open streams of this replica by subject, and whose tracking each known number is."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        # number -> subject -> how many open streams of that subject listed it
        self._owners: dict[str, dict[str, int]] = {}
        self._numbers: dict[Listener, frozenset[str]] = {}
        # person:<national id> -> their open streams that count unread answers
        self._persons: dict[str, set[Listener]] = {}

    def open(self, subject: str, numbers: set[str], person: str = "") -> Listener:
        listener = Listener(subject, person=person)
        if person:
            self._persons.setdefault(person, set()).add(listener)
        self._listeners.setdefault(subject, set()).add(listener)
        self._numbers[listener] = frozenset(numbers)
        for number in numbers:
            owners = self._owners.setdefault(number, {})
            owners[subject] = owners.get(subject, 0) + 1
        LIVE_STREAMS.inc()
        return listener

    def close(self, listener: Listener) -> None:
        numbers = self._numbers.pop(listener, None)
        if numbers is None:
            return
        listener.closed.set()
        LIVE_STREAMS.dec()
        if listener.person:
            persons = self._persons.get(listener.person, set())
            persons.discard(listener)
            if not persons:
                self._persons.pop(listener.person, None)
        streams = self._listeners.get(listener.subject, set())
        streams.discard(listener)
        if not streams:
            self._listeners.pop(listener.subject, None)
        for number in numbers:
            owners = self._owners.get(number, {})
            owners[listener.subject] -= 1
            if owners[listener.subject] == 0:
                del owners[listener.subject]
            if not owners:
                self._owners.pop(number, None)

    def publish(self, change: StatusChange) -> None:
        for subject in list(self._owners.get(change.number, ())):
            for listener in list(self._listeners.get(subject, ())):
                self._hand(listener, change)

    def publish_answer(self, person: str, answered: Answered) -> None:
        for listener in list(self._persons.get(person, ())):
            self._hand(listener, answered)

    def _hand(self, listener: Listener, change: StatusChange | Answered) -> None:
        try:
            listener.changes.put_nowait(change)
        except asyncio.QueueFull:
            # Never buffered without bound: the client reconnects to fresh counts.
            LIVE_DROPPED.inc()
            log.info("live.slow_client_dropped", subject=listener.subject)
            self.close(listener)

    def drop_subject(self, subject: str) -> None:
        """An account was deleted: its open streams end now, not at their next reconnect."""
        for listener in list(self._listeners.get(subject, ())):
            self.close(listener)

    def close_all(self) -> None:
        for listener in list(self._numbers):
            self.close(listener)

    @property
    def open_streams(self) -> int:
        return len(self._numbers)


async def follow_status_changes(
    js: JetStreamContext,
    hub: LiveHub,
    stop: asyncio.Event,
    *,
    ready: asyncio.Event | None = None,
) -> None:
    """The replica's one subscription: every new status change, handed to the hub."""

    def hand_over(event: events_pb2.TrackingStatusChanged) -> None:
        hub.publish(
            StatusChange(
                compact(event.number),
                event.previous_status,
                event.status,
                event.occurred_at.ToDatetime(tzinfo=UTC),
            )
        )

    def hand_answer(event: messaging_events_pb2.MessageAnswered) -> None:
        hub.publish_answer(
            event.owner, Answered(event.thread_id, event.occurred_at.ToDatetime(tzinfo=UTC))
        )

    # Messages' answers beside the status changes, on their own subscription: the messaging
    # stream may appear later than etracking's (each follower waits for its stream).
    await asyncio.gather(
        follow_events(
            js,
            stream=subjects.ETRACKING.name,
            subject=subjects.TRACKING_STATUS_CHANGED,
            event_type=events_pb2.TrackingStatusChanged,
            handle=hand_over,
            config=lambda: ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
            stop=stop,
            ready=ready,
        ),
        follow_events(
            js,
            stream=subjects.MESSAGING.name,
            subject=subjects.MESSAGE_ANSWERED,
            event_type=messaging_events_pb2.MessageAnswered,
            handle=hand_answer,
            config=lambda: ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
            stop=stop,
        ),
    )


# --- who is listening -------------------------------------------------------------------------

# Other ways to be signed in than a bearer token, tried in order when the request has none: the
# web client's session cookie registers its reader here (`accept_sign_in`). Each returns the
# person, having set them as the caller of the service calls, or None when not signed in that way.
SignInReader = Callable[[Request], Awaitable[Principal | None]]
_SIGN_IN_READERS: list[SignInReader] = []


def accept_sign_in(reader: SignInReader) -> None:
    if reader not in _SIGN_IN_READERS:
        _SIGN_IN_READERS.append(reader)


async def _listening_person(request: Request) -> Principal:
    if bearer_token(request.headers.get("authorization")) is None:
        for reader in _SIGN_IN_READERS:
            principal = await reader(request)
            if principal is not None:
                return principal
    # A bearer token, or nothing valid: 401 with the challenge, as on every other route.
    principal = await verify_caller(request, required=True)
    assert principal is not None
    return principal


ListeningPerson = Annotated[Principal, Depends(_listening_person)]


# --- the stream -------------------------------------------------------------------------------


@dataclass
class Badges:
    open: int
    changed: set[str]
    # When the counts were read: a change that happened before is in them already (its event
    # can arrive after the stream opened when the outbox relay is slow), so it is not applied
    # twice. A change committed across that instant may be missed until the next connection.
    counted_at: datetime
    # Administrations' answers not read yet; None: not counted (acting for someone else).
    unread_answers: int | None = None
    # What the last changes were, for the announcement.
    new_answers: int = 0
    new_tracking_news: bool = False

    def apply(self, change: StatusChange | Answered) -> None:
        if change.occurred_at <= self.counted_at:
            return
        if isinstance(change, Answered):
            if self.unread_answers is not None:
                self.unread_answers += 1
                self.new_answers += 1
            return
        self.new_tracking_news = True
        self.changed.add(change.number)
        was_open = change.previous not in FINAL_STATUSES
        is_open = change.status not in FINAL_STATUSES
        self.open += int(is_open) - int(was_open)

    def payload(self, language: Language, announce: bool) -> str:
        changed = len(self.changed)
        label = _("{count} with news", count=changed).render(language)
        labels = {"etrackings": label}
        body: dict[str, object] = {
            "etrackings": {"open": self.open, "changed": changed},
            "labels": labels,
        }
        if self.unread_answers is not None:
            # `changed` is what the menu's badge shows (static/js/badges.js reads that name).
            body["messages"] = {"unread": self.unread_answers, "changed": self.unread_answers}
            unread = (
                _("One unread answer")
                if self.unread_answers == 1
                else _("{count} unread answers", count=self.unread_answers)
            )
            labels["messages"] = unread.render(language)
        said = []
        if announce and self.new_tracking_news:
            text = (
                _("One of your eTrackings has news.")
                if changed == 1
                else _("{count} of your eTrackings have news.", count=changed)
            )
            said.append(text.render(language))
        if announce and self.new_answers:
            text = (
                _("An administration answered one of your messages.")
                if self.new_answers == 1
                else _("{count} new answers to your messages.", count=self.new_answers)
            )
            said.append(text.render(language))
        if said:
            body["announcement"] = " ".join(said)
        self.new_answers, self.new_tracking_news = 0, False
        return orjson.dumps(body).decode()


async def _unread_answers(calls: ServiceStubs) -> int | None:
    """The person's unread answers, as messaging counts them; None outside their own space (the
    service refuses it there) or while messaging does not answer: the badge is then left out."""
    try:
        reply = await calls.exchanges.ListMyThreads(exchanges_pb.ListMyThreadsRequest())
    except grpc.aio.AioRpcError as failed:
        log.info("live.messages_not_counted", code=failed.code().name)
        return None
    return sum(thread.unread for thread in reply.threads)


def _seen_since(request: Request, seen_since: datetime | None) -> datetime:
    if seen_since is not None:
        return seen_since if seen_since.tzinfo else seen_since.replace(tzinfo=UTC)
    cookie = request.cookies.get(SEEN_COOKIE, "")
    if cookie.isdigit() and len(cookie) <= 12:
        return datetime.fromtimestamp(int(cookie), UTC)
    return datetime.now(UTC)


def _initial_badges(
    trackings: list[pb.Tracking], seen: datetime, counted_at: datetime
) -> tuple[Badges, set[str]]:
    numbers, changed, still_open = set(), set(), 0
    for tracking in trackings:
        number = compact(tracking.number)
        numbers.add(number)
        still_open += tracking.status not in FINAL_STATUSES
        # The first history line is the creation: news is a change after it.
        if any(c.occurred_at.ToDatetime(tzinfo=UTC) > seen for c in tracking.history[1:]):
            changed.add(number)
    return Badges(still_open, changed, counted_at), numbers


@router.get(
    "/events",
    response_class=EventSourceResponse,
    # Left out of the API document for now: a stream does not end, and the contract fuzzer
    # reads every answer to its end. The module docstring describes it.
    include_in_schema=False,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`badges` events, each a JSON object: "
            '`{"etrackings": {"open": n, "changed": n}, "labels": {...}, "announcement": "..."}`; '
            "the first at once, then one per change; comment lines as heartbeats",
        }
    },
)
async def live_badges(
    request: Request,
    calls: Calls,
    person: ListeningPerson,
    seen_since: Annotated[
        datetime | None,
        Query(description="When the person last looked at their eTrackings; default: now"),
    ] = None,
) -> EventSourceResponse:
    """The signed-in person's badge counts, pushed when one of their eTrackings changes."""
    language = pick_language(
        request.headers.get("accept-language"), request.query_params.get("lang")
    )
    hub: LiveHub = request.app.state.live
    counted_at = datetime.now(UTC)
    # As the person, in their private space: the numbers whose changes concern them.
    reply = await calls.etracking.ListMyTrackings(pb.ListMyTrackingsRequest(language=language))
    seen = _seen_since(request, seen_since)
    badges, numbers = _initial_badges(list(reply.trackings), seen, counted_at)
    badges.unread_answers = await _unread_answers(calls)
    listener = hub.open(
        person.subject, numbers, person.person if badges.unread_answers is not None else ""
    )
    return EventSourceResponse(
        _stream(hub, listener, badges, language),
        ping=HEARTBEAT_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    hub: LiveHub, listener: Listener, badges: Badges, language: Language
) -> AsyncIterator[ServerSentEvent]:
    try:
        yield ServerSentEvent(
            badges.payload(language, announce=False), event="badges", retry=RECONNECT_MILLISECONDS
        )
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + MAX_STREAM_SECONDS
        closed = asyncio.ensure_future(listener.closed.wait())
        try:
            while not listener.closed.is_set():
                remaining = ends_at - loop.time()
                if remaining <= 0:
                    break
                getting = asyncio.ensure_future(listener.changes.get())
                done, _pending = await asyncio.wait(
                    {getting, closed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if getting not in done:
                    getting.cancel()
                    continue
                badges.apply(getting.result())
                # Several changes at once make one update, and one announcement.
                while not listener.changes.empty():
                    badges.apply(listener.changes.get_nowait())
                yield ServerSentEvent(badges.payload(language, announce=True), event="badges")
        finally:
            closed.cancel()
    finally:
        hub.close(listener)

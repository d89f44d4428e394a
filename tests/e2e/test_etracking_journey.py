"""create → print → scan → update → public lookup, through the gateway and the mTLS admin API."""

from __future__ import annotations

import asyncio
import io

import httpx
from nats.js import JetStreamContext
from pypdf import PdfReader
from stack import events_since, stream_position

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_testkit.altcha import solved_challenge


async def create(api: httpx.AsyncClient, **overrides: object) -> dict:
    body = {
        "paper_form_code": "ACD-IR-100",
        "notify_by_email": True,
        "email": "Marie.Muller@example.lu",
        "notify_by_sms": True,
        "phone": "621 123 456",
        "language": "fr",
        "altcha": await solved_challenge(api),
        **overrides,
    }
    response = await api.post("/api/v1/etracking/trackings", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def wait_for_events(js: JetStreamContext, position: int, number: str, count: int) -> list:
    for _ in range(100):
        found = await events_since(js, position, number)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} events for {number}, got {len(found)}")


async def test_paper_forms_are_listed_in_the_callers_language(api: httpx.AsyncClient) -> None:
    german = await api.get("/api/v1/etracking/paper-forms", headers={"Accept-Language": "de"})
    french = await api.get("/api/v1/etracking/paper-forms?lang=fr")
    assert german.status_code == french.status_code == 200
    codes = [form["code"] for form in german.json()]
    assert "ACD-IR-100" in codes
    assert [f["code"] for f in french.json()] == codes
    assert german.json()[0]["title"] != french.json()[0]["title"]


async def test_a_paper_form_is_followed_from_printing_to_completion(
    api: httpx.AsyncClient,
    acd: pb_grpc.AdministrationTrackingServiceAsyncStub,
    jetstream: JetStreamContext,
) -> None:
    position = await stream_position(jetstream)
    created = await create(api)
    number = created["number"]
    assert created["status"] == "awaiting_paper_form"
    assert created["paper_form"]["administration"] == "acd"
    assert "email" not in created and "phone" not in created, "contact data is never shown"

    sheet = await api.get(created["sheet_url"])
    assert sheet.status_code == 200
    assert sheet.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(sheet.content)).pages)
    assert number in text

    scanned = await acd.ScanTracking(pb.ScanTrackingRequest(number=number))
    assert scanned.tracking.status == pb.TRACKING_STATUS_RECEIVED
    assert not scanned.already_received
    rescanned = await acd.ScanTracking(pb.ScanTrackingRequest(number=number.lower()))
    assert rescanned.already_received, "a second scan of the same sheet changes nothing"
    for status in (pb.TRACKING_STATUS_IN_PROCESSING, pb.TRACKING_STATUS_COMPLETED):
        await acd.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number=number, status=status, comment="OK")
        )

    lookup = await api.get(
        f"/api/v1/etracking/trackings/{number}", headers={"Accept-Language": "en"}
    )
    assert lookup.status_code == 200, lookup.text
    public = lookup.json()
    assert public["number"] == number
    assert public["status"] == "completed"
    assert [step["status"] for step in public["history"]] == [
        "awaiting_paper_form",
        "received",
        "in_processing",
        "completed",
    ]
    assert all(step["status_label"] for step in public["history"])
    times = [step["occurred_at"] for step in public["history"]]
    assert times == sorted(times)
    # The contact data, in any form it was given or stored (not "621" alone: a timestamp's
    # digits may hold it).
    for contact in ("email", "621 123 456", "621123456"):
        assert contact not in lookup.text

    events = await wait_for_events(jetstream, position, number.replace("-", ""), 4)
    subjects = [subject for subject, _ in events]
    assert subjects == [
        "etracking.tracking.created.v1",
        *["etracking.tracking.status_changed.v1"] * 3,
    ]
    first = events_pb2.TrackingCreated.FromString(events[0][1])
    assert first.administration == "acd"
    assert first.contact.email == "Marie.Muller@example.lu"
    assert first.contact.phone == "+352621123456"
    assert first.contact.language == "fr"
    last = events_pb2.TrackingStatusChanged.FromString(events[-1][1])
    assert last.previous_status == pb.TRACKING_STATUS_IN_PROCESSING
    assert last.status == pb.TRACKING_STATUS_COMPLETED
    assert last.comment == "OK"
    assert last.contact.phone == "+352621123456"
    assert len({e[1] for e in events}) == 4


async def test_the_sheet_is_printed_in_each_language(api: httpx.AsyncClient) -> None:
    created = await create(api, notify_by_sms=False, phone=None, language="de")
    compact = created["number"].replace("-", "")
    titles = {"fr": "Feuille eTracking", "de": "eTracking-Blatt", "en": "eTracking sheet"}
    for language, title in titles.items():
        sheet = await api.get(f"/api/v1/etracking/trackings/{compact}/sheet?lang={language}")
        assert sheet.status_code == 200
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet.content)).pages)
        assert created["number"] in text
        assert title in text


async def test_tracking_without_any_notification_is_allowed(api: httpx.AsyncClient) -> None:
    created = await create(api, notify_by_email=False, email=None, notify_by_sms=False, phone=None)
    assert created["status"] == "awaiting_paper_form"


async def test_the_callers_correlation_id_reaches_the_published_event(
    api: httpx.AsyncClient, jetstream: JetStreamContext
) -> None:
    position = await stream_position(jetstream)
    correlation_id = "journey-" + "7" * 12
    response = await api.post(
        "/api/v1/etracking/trackings",
        json={
            "paper_form_code": "SNCA-IMM-01",
            "language": "en",
            "altcha": await solved_challenge(api),
        },
        headers={"X-Correlation-Id": correlation_id},
    )
    assert response.headers["x-correlation-id"] == correlation_id
    number = response.json()["number"].replace("-", "")
    await wait_for_events(jetstream, position, number, 1)
    last = (await jetstream.stream_info("ETRACKING")).state.last_seq
    for sequence in range(position + 1, last + 1):
        message = await jetstream.get_msg("ETRACKING", sequence)
        if events_pb2.TrackingCreated.FromString(message.data).number == number:
            assert message.headers is not None
            assert message.headers["Correlation-Id"] == correlation_id
            assert message.headers["Event-Type"] == "guichet.events.v1.TrackingCreated"
            return
    raise AssertionError("event not found")

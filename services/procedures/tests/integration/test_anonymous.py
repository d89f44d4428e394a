"""F21 on the real database and the development SMTP sink: a request filed without an account,
reached only with its follow-up token, its address checked by a mailed code, submitted,
followed, cancelled, and claimed by a signed-in person with a mailed code (wrong codes counted,
then the claim locked). Every refusal says why and changes nothing of the request."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events import subjects
from guichet.events.v1 import procedures_pb2 as events_pb
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.auth import set_caller
from guichet_kit.db import transaction
from guichet_kit.outbox import OutboxMessage
from guichet_procedures.api.anonymous import AnonymousProceduresServicer
from guichet_procedures.api.citizen import ProceduresServicer
from guichet_procedures.publishing import publish_directory
from guichet_procedures.requests import administration, anonymous
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import Request
from guichet_testkit.mail import mail_text, mails_to, newest_mail

from .conftest import (
    ANNE,
    BOB,
    NO_CONTEXT,
    TEST_FORM,
    Clock,
    Wakes,
    outbox,
    refusal,
    stored_request,
    write_catalogue,
)

pytestmark = pytest.mark.asyncio

# A procedure open without login: the test form's first step only.
ANONYMOUS_FORM: dict[str, Any] = {
    **TEST_FORM,
    "code": "test-anonymous",
    "access": {"login": "optional", "level": "low"},
    "steps": [TEST_FORM["steps"][0]],
}
CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(scope="session")
def anonymous_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalogue(tmp_path_factory.mktemp("anonymous"), [ANONYMOUS_FORM])


@pytest.fixture
async def anon(
    sessions: async_sessionmaker[AsyncSession],
    anonymous_catalogue: Path,
    store: CatalogueStore,
    procedures: ProceduresServicer,
    infra: dict[str, str],
    wakes: Wakes,
) -> AnonymousProceduresServicer:
    await publish_directory(sessions, anonymous_catalogue)
    postman = anonymous.Postman(
        infra["GUICHET_SMTP_HOST"],
        int(infra["GUICHET_SMTP_PORT"]),
        "OpenGuichet <noreply@openguichet.localhost>",
        "https://guichet.example",
    )
    return AnonymousProceduresServicer(
        sessions, store, procedures, procedures._rules, postman, 15, wakes
    )


def address() -> str:
    return f"anon-{uuid.uuid4().hex[:12]}@example.org"


async def start(anon: AnonymousProceduresServicer) -> tuple[pb.AnonymousRequest, str]:
    reply = await anon.StartAnonymousDraft(
        pb.StartAnonymousDraftRequest(procedure_code="test-anonymous", language="en"), NO_CONTEXT
    )
    return reply.request, reply.follow_up_token


async def save(anon: AnonymousProceduresServicer, token: str) -> pb.AnonymousRequest:
    reply = await anon.SaveAnonymousStep(
        pb.SaveAnonymousStepRequest(
            follow_up_token=token,
            step_id="about",
            answers_json='{"name": "Anne", "has_children": false}',
            language="en",
        ),
        NO_CONTEXT,
    )
    return reply.request


async def send_code(
    anon: AnonymousProceduresServicer, mail_dir: Path, token: str, email: str
) -> str:
    since = time.time()
    await anon.SendEmailCode(
        pb.SendEmailCodeRequest(follow_up_token=token, email=email, language="en"), NO_CONTEXT
    )
    mail = await newest_mail(mail_dir, email, since=since, subject_contains="code")
    found = CODE.search(str(mail["Subject"]))
    assert found is not None
    return found.group(1)


async def confirm(anon: AnonymousProceduresServicer, token: str, code: str) -> pb.AnonymousRequest:
    reply = await anon.ConfirmEmail(
        pb.ConfirmEmailRequest(follow_up_token=token, code=code, language="en"), NO_CONTEXT
    )
    return reply.request


async def submit(anon: AnonymousProceduresServicer, token: str, key: str) -> pb.AnonymousRequest:
    reply = await anon.SubmitAnonymousRequest(
        pb.SubmitAnonymousRequestRequest(follow_up_token=token, idempotency_key=key, language="en"),
        NO_CONTEXT,
    )
    return reply.request


async def get(anon: AnonymousProceduresServicer, token: str) -> pb.AnonymousRequest:
    reply = await anon.GetAnonymousRequest(
        pb.GetAnonymousRequestRequest(follow_up_token=token, language="en"), NO_CONTEXT
    )
    return reply.request


async def submitted_request(
    anon: AnonymousProceduresServicer, mail_dir: Path
) -> tuple[pb.AnonymousRequest, str, str]:
    _draft, token = await start(anon)
    await save(anon, token)
    email = address()
    await confirm(anon, token, await send_code(anon, mail_dir, token, email))
    return await submit(anon, token, f"key-{uuid.uuid4()}"), token, email


async def test_the_whole_journey_without_an_account(
    anon: AnonymousProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    draft, token = await start(anon)
    assert len(token) == 43 and draft.request.state == pb.REQUEST_STATE_DRAFT
    row = await stored_request(sessions, draft.request.id)
    assert row["owner"] == f"anonymous:{draft.request.id}" and row["created_by"] is None
    async with sessions() as session:
        access = await session.get(anonymous.AnonymousAccess, uuid.UUID(draft.request.id))
        assert access is not None
        # Only the token's hash is kept.
        assert access.token_sha256 == anonymous.token_hash(token) != token

    saved = await save(anon, token)
    assert [s.complete for s in saved.request.steps] == [True]

    # Not before the address is confirmed.
    refused = await refusal(submit(anon, token, "key-early"))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION,
                                              "EMAIL_NOT_CONFIRMED")  # fmt: skip
    assert (await get(anon, token)).request.state == pb.REQUEST_STATE_DRAFT

    email = address()
    code = await send_code(anon, mail_dir, token, email)
    pending = await get(anon, token)
    assert pending.email == email and not pending.email_confirmed
    assert pending.HasField("code_expires_at")
    confirmed = await confirm(anon, token, code)
    assert confirmed.email_confirmed

    # The mails procedures sends leave before its call returns: none can be on its way.
    mailed_before = [str(mail["Subject"]) for mail in mails_to(mail_dir, email)]
    assert len(mailed_before) == 1  # the code
    submitted = await submit(anon, token, "key-1")
    assert submitted.request.state == pb.REQUEST_STATE_SUBMITTED
    assert submitted.request.reference.startswith("PR-")
    # A retry with the same key gets the same request, and no second mail or event.
    again = await submit(anon, token, "key-1")
    assert again.request.reference == submitted.request.reference

    # No mail from here: the acknowledgement is messaging's notification of the event below
    # (procedures mailed it itself until messaging did, so two arrived).
    assert [str(mail["Subject"]) for mail in mails_to(mail_dir, email)] == mailed_before

    # The submitted event names the address, the language and the link, for notifications.
    events = [
        events_pb.RequestSubmitted.FromString(payload)
        for subject, payload in await outbox(sessions)
        if subject == "procedures.request.submitted.v1"
    ]
    assert len(events) == 1
    applicant = events[0].applicant
    assert applicant.owner == f"anonymous:{draft.request.id}" and applicant.filed_by == ""
    assert applicant.email == email and applicant.language == "en"
    assert applicant.follow_up_url == f"https://guichet.example/procedures/follow?token={token}"

    followed = await get(anon, token)
    assert followed.request.status == "received"
    assert [h.kind for h in followed.request.history] == ["submitted"]
    proof = await anon.GetAnonymousProof(
        pb.GetAnonymousProofRequest(follow_up_token=token), NO_CONTEXT
    )
    assert proof.pdf.startswith(b"%PDF") and submitted.request.reference in proof.filename

    cancelled = await anon.CancelAnonymousRequest(
        pb.CancelAnonymousRequestRequest(follow_up_token=token, language="en"), NO_CONTEXT
    )
    assert cancelled.request.request.state == pb.REQUEST_STATE_CANCELLED
    written = [subject for subject, _payload in await outbox(sessions)]
    assert written.count(subjects.REQUEST_CANCELLED) == 1


async def later_events(
    sessions: async_sessionmaker[AsyncSession], store: CatalogueStore, display: str
) -> list[events_pb.RequestApplicant]:
    """The administration moves the request on, then asks a correction: the applicant named by
    the events it writes (status changed, correction asked)."""
    reference = display.replace("-", "")
    applicants = []
    for move in ("status", "correction"):
        async with transaction(sessions) as session:
            version = await session.scalar(
                select(Request.version).where(Request.reference == reference)
            )
            assert version is not None
            now = datetime.now(UTC)
            if move == "status":
                await administration.change_status(
                    session, store, "commune", reference, display, "in_review", version, "", now=now
                )
            else:
                await administration.ask_correction(
                    session,
                    store,
                    "commune",
                    reference,
                    display,
                    ["name"],
                    "Full name",
                    version,
                    now=now,
                )
    for subject, payload in await outbox(sessions):
        if subject == subjects.REQUEST_STATUS_CHANGED:
            applicants.append(events_pb.RequestStatusChanged.FromString(payload).applicant)
        elif subject == subjects.CORRECTION_ASKED:
            applicants.append(events_pb.CorrectionAsked.FromString(payload).applicant)
    return applicants


async def test_later_events_carry_the_checked_address_until_the_request_is_claimed(
    anon: AnonymousProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    store: CatalogueStore,
    signed_in: Callable[..., Any],
    mail_dir: Path,
) -> None:
    submitted, _token, email = await submitted_request(anon, mail_dir)
    request = submitted.request
    # Messaging tells the applicant of a status change or a correction at this address (the
    # follow-up link is not in them: its token is not stored in clear).
    applicants = await later_events(sessions, store, request.reference)
    assert [(a.owner, a.email, a.follow_up_url) for a in applicants] == [
        (f"anonymous:{request.id}", email, ""),
    ] * 2

    # Claimed into a space: the person's own preferences count, the address is not told.
    claimed, _token, email = await submitted_request(anon, mail_dir)
    signed_in(ANNE)
    code = await send_claim_code(anon, mail_dir, claimed.request.reference, email)
    await claim(anon, claimed.request.reference, code)
    set_caller(None)
    await truncate_outbox(sessions)
    applicants = await later_events(sessions, store, claimed.request.reference)
    assert [(a.owner, a.email) for a in applicants] == [(f"person:{ANNE}", "")] * 2


async def truncate_outbox(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await session.execute(delete(OutboxMessage))


async def test_a_procedure_needing_login_is_refused_without_one(
    anon: AnonymousProceduresServicer, counts: Callable[[], Any]
) -> None:
    before = await counts()
    refused = await refusal(
        anon.StartAnonymousDraft(
            pb.StartAnonymousDraftRequest(procedure_code="test-form", language="en"), NO_CONTEXT
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "LOGIN_REQUIRED")
    assert "sign in" in refused.message
    unknown = await refusal(
        anon.StartAnonymousDraft(
            pb.StartAnonymousDraftRequest(procedure_code="no-such", language="en"), NO_CONTEXT
        )
    )
    assert unknown.reason == "PROCEDURE_NOT_FOUND"
    assert await counts() == before


@pytest.mark.parametrize(
    "guess",
    ["", "x" * 200, secrets.token_urlsafe(32), "' OR 1=1 --"],
    ids=["empty", "too-long", "random", "injection"],
)
async def test_a_guessed_token_reaches_nothing(
    anon: AnonymousProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    counts: Callable[[], Any],
    guess: str,
) -> None:
    draft, token = await start(anon)
    before, row = await counts(), await stored_request(sessions, draft.request.id)
    calls = [
        anon.GetAnonymousRequest(pb.GetAnonymousRequestRequest(follow_up_token=guess), NO_CONTEXT),
        anon.SaveAnonymousStep(
            pb.SaveAnonymousStepRequest(
                follow_up_token=guess, step_id="about", answers_json='{"name": "X"}'
            ),
            NO_CONTEXT,
        ),
        anon.SendEmailCode(
            pb.SendEmailCodeRequest(follow_up_token=guess, email=address()), NO_CONTEXT
        ),
        anon.ConfirmEmail(pb.ConfirmEmailRequest(follow_up_token=guess, code="123456"), NO_CONTEXT),
        anon.SubmitAnonymousRequest(
            pb.SubmitAnonymousRequestRequest(follow_up_token=guess, idempotency_key="key-g"),
            NO_CONTEXT,
        ),
        anon.CancelAnonymousRequest(
            pb.CancelAnonymousRequestRequest(follow_up_token=guess), NO_CONTEXT
        ),
        anon.GetAnonymousProof(pb.GetAnonymousProofRequest(follow_up_token=guess), NO_CONTEXT),
    ]
    for call in calls:
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (
            grpc.StatusCode.NOT_FOUND,
            "FOLLOW_UP_NOT_FOUND",
        )
    assert await counts() == before
    assert await stored_request(sessions, draft.request.id) == row
    # The real token still works, and only for its own draft.
    assert (await get(anon, token)).request.id == draft.request.id


async def test_one_token_reaches_only_its_own_draft(anon: AnonymousProceduresServicer) -> None:
    first, first_token = await start(anon)
    second, second_token = await start(anon)
    assert first_token != second_token
    assert (await get(anon, first_token)).request.id == first.request.id
    assert (await get(anon, second_token)).request.id == second.request.id


async def test_a_wrong_or_malformed_code_is_refused_and_counted_then_exhausted(
    anon: AnonymousProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    mail_dir: Path,
) -> None:
    draft, token = await start(anon)
    code = await send_code(anon, mail_dir, token, address())
    row = await stored_request(sessions, draft.request.id)
    malformed = await refusal(confirm(anon, token, "12ab"))
    assert (malformed.reason, malformed.fields) == ("INVALID_CODE", ("code",))
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    for left in range(anonymous.MAX_CODE_ATTEMPTS - 1, -1, -1):
        refused = await refusal(confirm(anon, token, wrong))
        assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "WRONG_CODE")
        assert f"Attempts left: {left}" in refused.message
    # Past the attempts, even the right code is refused: a new code is needed.
    exhausted = await refusal(confirm(anon, token, code))
    assert (exhausted.code, exhausted.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "CODE_ATTEMPTS_EXHAUSTED",
    )
    assert not (await get(anon, token)).email_confirmed
    assert await stored_request(sessions, draft.request.id) == row
    fresh = await send_code(anon, mail_dir, token, address())
    assert (await confirm(anon, token, fresh)).email_confirmed


async def test_an_expired_code_is_refused(
    anon: AnonymousProceduresServicer, clock: Clock, mail_dir: Path
) -> None:
    _draft, token = await start(anon)
    code = await send_code(anon, mail_dir, token, address())
    clock.advance(minutes=16)
    refused = await refusal(confirm(anon, token, code))
    assert (refused.reason, refused.fields) == ("CODE_EXPIRED", ("code",))
    assert not (await get(anon, token)).email_confirmed


async def test_a_new_address_needs_a_new_code(
    anon: AnonymousProceduresServicer, mail_dir: Path
) -> None:
    _draft, token = await start(anon)
    await save(anon, token)
    first = address()
    first_code = await send_code(anon, mail_dir, token, first)
    await confirm(anon, token, first_code)
    second = address()
    await send_code(anon, mail_dir, token, second)
    changed = await get(anon, token)
    assert changed.email == second and not changed.email_confirmed
    # The first address's code does not confirm the second.
    assert (await refusal(confirm(anon, token, first_code))).reason == "WRONG_CODE"
    refused = await refusal(submit(anon, token, "key-x"))
    assert refused.reason == "EMAIL_NOT_CONFIRMED"


async def test_a_bad_address_is_refused(anon: AnonymousProceduresServicer) -> None:
    _draft, token = await start(anon)
    refused = await refusal(
        anon.SendEmailCode(
            pb.SendEmailCodeRequest(follow_up_token=token, email="not-an-address"), NO_CONTEXT
        )
    )
    assert (refused.reason, refused.fields) == ("INVALID_EMAIL", ("email",))
    assert (await get(anon, token)).email == ""


async def send_claim_code(
    anon: AnonymousProceduresServicer, mail_dir: Path, reference: str, email: str
) -> str:
    since = time.time()
    reply = await anon.SendClaimCode(
        pb.SendClaimCodeRequest(reference=reference, language="en"), NO_CONTEXT
    )
    assert reply.masked_email == f"a***@{email.partition('@')[2]}"
    mail = await newest_mail(mail_dir, email, since=since, subject_contains=reference)
    found = CODE.search(mail_text(mail))
    assert found is not None
    return found.group(1)


async def claim(anon: AnonymousProceduresServicer, reference: str, code: str) -> pb.Request:
    reply = await anon.ClaimRequest(
        pb.ClaimRequestRequest(reference=reference, code=code, language="en"), NO_CONTEXT
    )
    return reply.request


async def test_a_claim_moves_the_request_and_the_link_stops_working(
    anon: AnonymousProceduresServicer,
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    mail_dir: Path,
) -> None:
    submitted, token, email = await submitted_request(anon, mail_dir)
    reference = submitted.request.reference
    # Not signed in: no claim.
    set_caller(None)
    unsigned = await refusal(claim(anon, reference, "123456"))
    assert unsigned.code == grpc.StatusCode.UNAUTHENTICATED

    signed_in(ANNE)
    code = await send_claim_code(anon, mail_dir, reference, email)
    row = await stored_request(sessions, submitted.request.id)
    wrong = await refusal(claim(anon, reference, str((int(code) + 1) % 10**6).zfill(6)))
    assert (wrong.code, wrong.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "WRONG_CODE")
    assert await stored_request(sessions, submitted.request.id) == row
    assert (await get(anon, token)).request.id == submitted.request.id

    claimed = await claim(anon, reference, code)
    assert claimed.id == submitted.request.id and claimed.reference == reference
    assert (await stored_request(sessions, claimed.id))["owner"] == f"person:{ANNE}"
    # The link is forgotten; the request is now the person's own.
    gone = await refusal(get(anon, token))
    assert (gone.code, gone.reason) == (grpc.StatusCode.NOT_FOUND, "FOLLOW_UP_NOT_FOUND")
    mine = await procedures.GetRequest(
        pb.GetRequestRequest(request_id=reference, language="en"), NO_CONTEXT
    )
    assert mine.request.id == claimed.id
    # Claimed once: not again, by anyone.
    signed_in(BOB)
    again = await refusal(
        anon.SendClaimCode(pb.SendClaimCodeRequest(reference=reference), NO_CONTEXT)
    )
    assert (again.code, again.reason) == (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")


async def test_many_wrong_claim_codes_lock_the_claim_for_a_while(
    anon: AnonymousProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    clock: Clock,
    mail_dir: Path,
) -> None:
    submitted, token, email = await submitted_request(anon, mail_dir)
    reference = submitted.request.reference
    signed_in(BOB)
    code = await send_claim_code(anon, mail_dir, reference, email)
    row = await stored_request(sessions, submitted.request.id)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    for _attempt in range(anonymous.MAX_CLAIM_FAILURES):
        assert (await refusal(claim(anon, reference, wrong))).reason == "WRONG_CODE"
    # The attempts are counted in the database, across calls.
    async with sessions() as session:
        access = await session.scalar(
            select(anonymous.AnonymousAccess).where(
                anonymous.AnonymousAccess.request_id == uuid.UUID(submitted.request.id)
            )
        )
        assert access is not None and access.claim_locked_until is not None
    limited = await refusal(claim(anon, reference, code))
    assert (limited.code, limited.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "CLAIM_RATE_LIMITED",
    )
    assert "try again in" in limited.message
    assert (await refusal(
        anon.SendClaimCode(pb.SendClaimCodeRequest(reference=reference), NO_CONTEXT)
    )).reason == "CLAIM_RATE_LIMITED"  # fmt: skip
    assert await stored_request(sessions, submitted.request.id) == row
    assert (await get(anon, token)).request.id == submitted.request.id
    # After the lock, with a new code, the owner of the address claims it.
    clock.advance(minutes=16)
    fresh = await send_claim_code(anon, mail_dir, reference, email)
    assert (await claim(anon, reference, fresh)).id == submitted.request.id


async def test_a_claim_needs_a_sent_unexpired_code_and_a_real_reference(
    anon: AnonymousProceduresServicer,
    signed_in: Callable[..., Any],
    clock: Clock,
    mail_dir: Path,
) -> None:
    submitted, token, email = await submitted_request(anon, mail_dir)
    reference = submitted.request.reference
    signed_in(ANNE)
    none_sent = await refusal(claim(anon, reference, "123456"))
    assert none_sent.reason == "NO_CODE_SENT"
    bad = await refusal(claim(anon, "PR-NOPE", "123456"))
    assert (bad.reason, bad.fields) == ("INVALID_REFERENCE", ("reference",))
    code = await send_claim_code(anon, mail_dir, reference, email)
    clock.advance(minutes=16)
    assert (await refusal(claim(anon, reference, code))).reason == "CODE_EXPIRED"
    assert (await get(anon, token)).request.id == submitted.request.id

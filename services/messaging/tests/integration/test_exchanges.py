"""Exchanges between persons and administrations on the real database: a message to the
competent administration of a taxonomy reason, read and answered by it, the answer unread then
read for the person; every bad input refused with nothing stored; another person's thread not
found; another administration's thread refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events import subjects
from guichet.events.v1 import messaging_pb2 as events
from guichet_kit.db import transaction
from guichet_kit.domain import Conflict, Forbidden, InvalidInput, NotFound
from guichet_kit.outbox import OutboxMessage
from guichet_messaging.exchanges import service
from guichet_messaging.exchanges.models import (
    ExchangeAttachment,
    ExchangeMessage,
    ExchangeThread,
)
from guichet_messaging.exchanges.taxonomy import Taxonomy

ANNE, BOB = "1980010112345", "1975060600123"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TAXONOMY = Taxonomy.load()


def draft(**changes: object) -> service.Draft:
    fields: dict[str, object] = {
        "theme": "taxes",
        "subject": "income-tax",
        "reason": "tax-assessment",
        "title": "My 2025 assessment",
        "body": "Could you tell me when my 2025 assessment will be sent?",
    }
    fields.update(changes)
    return service.Draft(**fields)  # type: ignore[arg-type]


async def _send(sessions: async_sessionmaker[AsyncSession], **changes: object) -> uuid.UUID:
    async with transaction(sessions) as session:
        sent = await service.send(session, TAXONOMY, owner=ANNE, draft=draft(**changes), now=NOW)
        return sent.thread.id


async def _count(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """Threads and messages; each refusal also leaves no event behind."""
    async with sessions() as session:
        threads = await session.scalar(select(func.count()).select_from(ExchangeThread))
        messages = await session.scalar(select(func.count()).select_from(ExchangeMessage))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
        assert outbox == messages, "one event per message"
        return threads or 0, messages or 0


async def _events(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage))).all())


async def test_the_competent_administration_reads_and_answers_and_the_person_sees_it_unread(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    thread_id = await _send(sessions)

    async with transaction(sessions) as session:
        [view] = await service.threads_for(session, "acd")
        assert view.thread.id == thread_id and view.unread == 1
        assert await service.threads_for(session, "ccss") == []
        conversation = await service.read_as_administration(session, "acd", thread_id, now=NOW)
        assert [m.body for m, _ in conversation.messages] == [draft().body]
        await service.answer(session, "acd", thread_id, "It was sent on 20 November.", now=NOW)

    async with transaction(sessions) as session:
        [view] = await service.threads_for(session, "acd")
        assert view.unread == 0  # the administration read the person's message
        [mine] = await service.threads_of(session, ANNE)
        assert mine.unread == 1 and mine.thread.administration == "acd"
        conversation = await service.read(session, ANNE, thread_id, now=NOW)
        assert [m.side for m, _ in conversation.messages] == ["person", "administration"]
    async with transaction(sessions) as session:
        [mine] = await service.threads_of(session, ANNE)
        assert mine.unread == 0
        await service.mark_unread(session, ANNE, thread_id)
    async with transaction(sessions) as session:
        [mine] = await service.threads_of(session, ANNE)
        assert mine.unread == 1
        await service.mark_read(session, ANNE, thread_id, now=NOW)
    async with transaction(sessions) as session:
        [mine] = await service.threads_of(session, ANNE)
        assert mine.unread == 0

    # One event per message, for notifications: the administration told, then the person.
    sent, answered = sorted(
        await _events(sessions), key=lambda row: row.subject != subjects.MESSAGE_SENT
    )
    assert (sent.subject, answered.subject) == (subjects.MESSAGE_SENT, subjects.MESSAGE_ANSWERED)
    told = events.MessageSent.FromString(sent.payload)
    assert (told.owner, told.administration, told.thread_id) == (
        f"person:{ANNE}",
        "acd",
        str(thread_id),
    )
    answer = events.MessageAnswered.FromString(answered.payload)
    assert (answer.owner, answer.thread_id) == (f"person:{ANNE}", str(thread_id))


async def test_a_hidden_thread_is_listed_apart_until_shown_or_answered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    thread_id = await _send(sessions)
    async with transaction(sessions) as session:
        await service.set_hidden(session, ANNE, thread_id, hidden=True)
    async with transaction(sessions) as session:
        assert await service.threads_of(session, ANNE) == []
        [hidden] = await service.threads_of(session, ANNE, hidden=True)
        assert hidden.thread.id == thread_id
        await service.answer(session, "acd", thread_id, "An answer shows it again.", now=NOW)
    async with transaction(sessions) as session:
        [shown] = await service.threads_of(session, ANNE)
        assert shown.thread.id == thread_id


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"body": "x" * 9}, ["body"]),
        ({"body": "x" * 751}, ["body"]),
        ({"title": "  "}, ["title"]),
        ({"reason": "no-such-reason"}, ["reason"]),
        ({"theme": "housing"}, ["reason"]),
        ({"title": "", "body": "short", "subject": "vat"}, ["reason", "title", "body"]),
    ],
)
async def test_a_bad_message_is_refused_with_each_field_and_nothing_stored(
    sessions: async_sessionmaker[AsyncSession], changes: dict[str, object], fields: list[str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await _send(sessions, **changes)
    assert refused.value.reason == "VALIDATION_FAILED"
    assert [error.field for error in refused.value.fields] == fields
    assert await _count(sessions) == (0, 0)


async def test_the_limits_themselves_are_accepted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _send(sessions, body="x" * 10)
    await _send(sessions, body="x" * 750)
    assert await _count(sessions) == (2, 2)


async def _upload(
    sessions: async_sessionmaker[AsyncSession], owner: str = ANNE, name: str = "payslip.pdf"
) -> str:
    """A file as the wallet's pipeline took it (its copy id is the wallet's business here)."""
    file = service.FileRef(str(uuid.uuid4()), name, "application/pdf", 1234, "ab" * 32)
    async with transaction(sessions) as session:
        attachment = await service.record_upload(session, owner, file, now=NOW)
        return str(attachment.id)


async def _waiting(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ExchangeAttachment)
            .where(ExchangeAttachment.message.is_(None))
        )
        return count or 0


async def test_a_document_needs_its_file_and_goes_to_the_reasons_administration(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    document = draft(theme="social", subject="affiliation", reason="contributions", body="")
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput) as refused:
            await service.send(
                session, TAXONOMY, owner=ANNE, draft=document, now=NOW, document=True
            )
    assert [error.field for error in refused.value.fields] == ["attachment_ids"]
    assert await _count(sessions) == (0, 0)
    payslip = await _upload(sessions)
    with_file = draft(
        theme="social",
        subject="affiliation",
        reason="contributions",
        body="",
        attachment_ids=(payslip,),
    )
    async with transaction(sessions) as session:
        sent = await service.send(
            session, TAXONOMY, owner=ANNE, draft=with_file, now=NOW, document=True
        )
        thread = sent.thread
        assert (thread.administration, thread.kind) == ("ccss", "document")
        # Acknowledged with a reference of the kit's scheme.
        assert service.DocumentReference.parse(thread.reference or "").display == thread.reference
    async with transaction(sessions) as session:
        conversation = await service.read_as_administration(session, "ccss", thread.id, now=NOW)
        [(_, [attachment])] = conversation.messages
        assert (attachment.file_name, attachment.size) == ("payslip.pdf", 1234)
        [listed] = await service.threads_for(session, "ccss", kind="document")
        assert listed.thread.id == thread.id
        assert await service.threads_for(session, "ccss", kind="message") == []
        found = await service.file_for_administration(
            session, "ccss", thread.id, str(attachment.id)
        )
        assert found.id == attachment.id
        with pytest.raises(Forbidden):
            await service.file_for_administration(session, "acd", thread.id, str(attachment.id))
    told = events.MessageSent.FromString((await _events(sessions))[0].payload)
    assert (told.kind, told.reference, told.first) == ("document", thread.reference, True)


async def test_a_message_takes_only_the_persons_own_files_not_sent_yet(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bobs = await _upload(sessions, BOB)
    mine = [await _upload(sessions, name=f"scan-{n}.pdf") for n in range(4)]
    for ids, reason in (
        ((bobs,), "UNKNOWN_FILE"),
        ((mine[0], "not-an-id"), "UNKNOWN_FILE"),
        ((str(uuid.uuid4()),), "UNKNOWN_FILE"),
        ((mine[0], mine[0]), "UNKNOWN_FILE"),
        (tuple(mine), "TOO_MANY"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await _send(sessions, attachment_ids=ids)
        [error] = refused.value.fields
        assert (error.field, error.reason) == ("attachment_ids", reason), ids
    assert await _count(sessions) == (0, 0)
    assert await _waiting(sessions) == 5

    thread_id = await _send(sessions, attachment_ids=(mine[0], mine[1]))
    async with transaction(sessions) as session:
        conversation = await service.read(session, ANNE, thread_id, now=NOW)
        [(_, files)] = conversation.messages
        assert sorted(f.file_name for f in files) == ["scan-0.pdf", "scan-1.pdf"]
        # Sent once: neither another message nor a removal takes it.
        with pytest.raises(InvalidInput):
            await service.reply(
                session, ANNE, thread_id, "Again the same file.", (mine[0],), now=NOW
            )
        with pytest.raises(Conflict):
            await service.remove_upload(session, ANNE, mine[0])
        # The person reads their file, another does not.
        assert (await service.file_of_person(session, ANNE, mine[0])).file_name == "scan-0.pdf"
        with pytest.raises(NotFound):
            await service.file_of_person(session, BOB, mine[0])
        with pytest.raises(NotFound):
            await service.remove_upload(session, BOB, mine[2])
        await service.remove_upload(session, ANNE, mine[2])
    assert await _waiting(sessions) == 2  # Bob's and mine[3]


async def test_a_file_waits_a_day_at_most_and_ten_at_most_wait(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old = await _upload(sessions)
    later = NOW + service.UPLOAD_KEPT_FOR + timedelta(seconds=1)
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.send(
                session,
                TAXONOMY,
                owner=ANNE,
                draft=draft(attachment_ids=(old,)),
                now=later,
            )
    for _ in range(service.MAX_WAITING_UPLOADS - 1):
        await _upload(sessions)
    with pytest.raises(Conflict) as refused:
        await _upload(sessions)
    assert refused.value.reason == "TOO_MANY_UPLOADS"
    assert await _waiting(sessions) == service.MAX_WAITING_UPLOADS


async def test_the_person_replies_in_their_thread_and_it_shows_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    thread_id = await _send(sessions)
    async with transaction(sessions) as session:
        await service.set_hidden(session, ANNE, thread_id, hidden=True)
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.reply(session, ANNE, thread_id, "x" * 9, (), now=NOW)
        with pytest.raises(NotFound):
            await service.reply(session, BOB, thread_id, "Not my thread at all.", (), now=NOW)
    assert await _count(sessions) == (1, 1)
    file = await _upload(sessions)
    async with transaction(sessions) as session:
        await service.reply(session, ANNE, thread_id, "Here is my payslip.", (file,), now=NOW)
    async with transaction(sessions) as session:
        [shown] = await service.threads_of(session, ANNE)
        conversation = await service.read_as_administration(session, "acd", thread_id, now=NOW)
        assert [len(files) for _, files in conversation.messages] == [0, 1]
    assert shown.thread.id == thread_id
    reply = events.MessageSent.FromString(
        sorted(await _events(sessions), key=lambda row: row.created_at)[-1].payload
    )
    assert (reply.thread_id, reply.first) == (str(thread_id), False)


REQUEST = service.RequestFacts("PR-7K3M-9QX2-P", "Dog licence", "dog-licence", "commune")


async def test_a_request_has_one_thread_per_person_to_its_administration(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.write_about_request(session, ANNE, REQUEST, "short", (), now=NOW)
    assert await _count(sessions) == (0, 0)
    async with transaction(sessions) as session:
        first, _, _ = await service.write_about_request(
            session, ANNE, REQUEST, "When will my dog's tag arrive?", (), now=NOW
        )
    async with transaction(sessions) as session:
        again, _, _ = await service.write_about_request(
            session, ANNE, REQUEST, "Still waiting for the dog's tag.", (), now=NOW
        )
    assert again.id == first.id
    assert (first.kind, first.administration, first.request_reference) == (
        "request",
        "commune",
        "PR-7K3M-9QX2-P",
    )
    assert await _count(sessions) == (1, 2)
    async with sessions() as session:
        [view] = await service.threads_of(session, ANNE, request_reference="PR-7K3M-9QX2-P")
        assert view.thread.id == first.id
        assert await service.threads_of(session, BOB, request_reference="PR-7K3M-9QX2-P") == []
    told = [events.MessageSent.FromString(row.payload) for row in await _events(sessions)]
    assert sorted(t.first for t in told) == [False, True]
    assert {t.request_reference for t in told} == {"PR-7K3M-9QX2-P"}


async def test_another_persons_thread_is_not_found_and_unchanged(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    thread_id = await _send(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(NotFound):
            await service.read(session, BOB, thread_id, now=NOW)
        with pytest.raises(NotFound):
            await service.set_hidden(session, BOB, thread_id, hidden=True)
        with pytest.raises(NotFound):
            await service.read(session, ANNE, uuid.uuid4(), now=NOW)
    async with transaction(sessions) as session:
        assert await service.threads_of(session, BOB) == []
        [mine] = await service.threads_of(session, ANNE)
        assert not mine.thread.hidden


async def test_an_administration_may_not_read_or_answer_outside_its_competence(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    thread_id = await _send(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(Forbidden) as refused:
            await service.answer(session, "ccss", thread_id, "Not ours to answer.", now=NOW)
        assert refused.value.reason == "OUTSIDE_COMPETENCE"
        with pytest.raises(Forbidden):
            await service.read_as_administration(session, "ccss", thread_id, now=NOW)
    assert await _count(sessions) == (1, 1)
    async with sessions() as session:
        [view] = await service.threads_for(session, "acd")
        assert view.unread == 1  # still unread by the competent one


async def test_an_answer_of_9_characters_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    thread_id = await _send(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.answer(session, "acd", thread_id, "x" * 9, now=NOW)
    assert await _count(sessions) == (1, 1)

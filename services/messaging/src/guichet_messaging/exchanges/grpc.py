"""Exchanges over gRPC: the person's ExchangeService (the gateway, with the person's token) and
the administrations' AdministrationMessagingService (mutual TLS, named by their certificate)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet.messaging.v1 import exchanges_pb2_grpc as pb_grpc
from guichet_kit.domain import NotFound
from guichet_kit.i18n import Catalog, current_language
from guichet_kit.servicers import Call, Db, DeclaredServicer, administration, citizen, rpc
from guichet_messaging.exchanges import service
from guichet_messaging.exchanges.models import (
    ExchangeAttachment as Attachment,
)
from guichet_messaging.exchanges.models import (
    ExchangeMessage as Message,
)
from guichet_messaging.exchanges.models import (
    ExchangeThread as Thread,
)
from guichet_messaging.exchanges.models import (
    Side,
)
from guichet_messaging.exchanges.taxonomy import Taxonomy

_ = Catalog("guichet_messaging")

SIDES = {Side.PERSON.value: pb.SIDE_PERSON, Side.ADMINISTRATION.value: pb.SIDE_ADMINISTRATION}


def _thread_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        # Not an id this service gives: no such thread, as for an unknown one.
        raise NotFound("NO_SUCH_THREAD", _("There is no such conversation.")) from None


class _Protos:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy

    def thread(self, thread: Thread, unread: int) -> pb.Thread:
        reason = self.taxonomy.reason(thread.theme, thread.subject, thread.reason)
        reply = pb.Thread(
            id=str(thread.id),
            administration=thread.administration,
            kind=thread.kind,
            theme=thread.theme,
            subject=thread.subject,
            reason=thread.reason,
            # A reason since removed from the taxonomy still shows its key.
            reason_title=reason.title(current_language()) if reason else thread.reason,
            title=thread.title,
            hidden=thread.hidden,
            unread=unread,
        )
        reply.created_at.FromDatetime(thread.created_at)
        reply.last_message_at.FromDatetime(thread.last_message_at)
        return reply

    @staticmethod
    def message(message: Message, attachments: list[Attachment]) -> pb.Message:
        reply = pb.Message(
            id=str(message.id),
            side=SIDES[message.side],
            body=message.body,
            attachments=[
                pb.Attachment(
                    file_id=a.file_id,
                    file_name=a.file_name,
                    content_type=a.content_type,
                    size=a.size,
                )
                for a in attachments
            ],
        )
        reply.sent_at.FromDatetime(message.sent_at)
        if message.read_at is not None:
            reply.read_at.FromDatetime(message.read_at)
        return reply

    def conversation(
        self, conversation: service.Conversation, reader: Side
    ) -> tuple[pb.Thread, list[pb.Message]]:
        other = Side.ADMINISTRATION if reader is Side.PERSON else Side.PERSON
        unread = sum(
            1 for m, _files in conversation.messages if m.side == other.value and not m.read_at
        )
        return (
            self.thread(conversation.thread, unread),
            [self.message(m, files) for m, files in conversation.messages],
        )


def _now() -> datetime:
    return datetime.now(UTC)


class ExchangeServicer(DeclaredServicer, pb_grpc.ExchangeServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None] = lambda: None,
        taxonomy: Taxonomy | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(sessions, events_written)
        self.taxonomy = taxonomy or Taxonomy.load()
        self.protos = _Protos(self.taxonomy)
        self.clock = clock

    @rpc(citizen(), db=Db.NONE)
    async def ListTopics(self, request: pb.ListTopicsRequest, call: Call) -> pb.ListTopicsResponse:
        language = current_language()
        return pb.ListTopicsResponse(
            themes=[
                pb.Theme(
                    key=theme.key,
                    title=theme.title(language),
                    subjects=[
                        pb.Subject(
                            key=subject.key,
                            title=subject.title(language),
                            reasons=[
                                pb.Reason(
                                    key=reason.key,
                                    title=reason.title(language),
                                    administration=reason.administration,
                                    procedure=reason.procedure or "",
                                )
                                for reason in subject.reasons.values()
                            ],
                        )
                        for subject in theme.subjects.values()
                    ],
                )
                for theme in self.taxonomy.themes.values()
            ]
        )

    @rpc(citizen(), db=Db.WRITE)
    async def SendMessage(
        self, request: pb.SendMessageRequest, call: Call
    ) -> pb.SendMessageResponse:
        draft = service.Draft(
            theme=request.theme,
            subject=request.subject,
            reason=request.reason,
            title=request.title,
            body=request.body,
        )
        thread = await service.send(
            call.session,
            self.taxonomy,
            owner=call.person.national_id,
            draft=draft,
            now=self.clock(),
        )
        return pb.SendMessageResponse(thread=self.protos.thread(thread, 0))

    @rpc(citizen(), db=Db.READ)
    async def ListMyThreads(
        self, request: pb.ListMyThreadsRequest, call: Call
    ) -> pb.ListMyThreadsResponse:
        views = await service.threads_of(
            call.session, call.person.national_id, hidden=request.hidden
        )
        return pb.ListMyThreadsResponse(
            threads=[self.protos.thread(view.thread, view.unread) for view in views]
        )

    @rpc(citizen(), db=Db.WRITE)
    async def GetMyThread(
        self, request: pb.GetMyThreadRequest, call: Call
    ) -> pb.GetMyThreadResponse:
        conversation = await service.read(
            call.session, call.person.national_id, _thread_id(request.thread_id), now=self.clock()
        )
        thread, messages = self.protos.conversation(conversation, Side.PERSON)
        return pb.GetMyThreadResponse(thread=thread, messages=messages)

    @rpc(citizen(), db=Db.WRITE)
    async def MarkMyThread(
        self, request: pb.MarkMyThreadRequest, call: Call
    ) -> pb.MarkMyThreadResponse:
        thread_id = _thread_id(request.thread_id)
        if request.read:
            await service.mark_read(
                call.session, call.person.national_id, thread_id, now=self.clock()
            )
        else:
            await service.mark_unread(call.session, call.person.national_id, thread_id)
        return pb.MarkMyThreadResponse()

    @rpc(citizen(), db=Db.WRITE)
    async def HideMyThread(
        self, request: pb.HideMyThreadRequest, call: Call
    ) -> pb.HideMyThreadResponse:
        await service.set_hidden(
            call.session,
            call.person.national_id,
            _thread_id(request.thread_id),
            hidden=request.hidden,
        )
        return pb.HideMyThreadResponse()


class AdministrationMessagingServicer(
    DeclaredServicer, pb_grpc.AdministrationMessagingServiceServicer
):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None] = lambda: None,
        taxonomy: Taxonomy | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(sessions, events_written)
        self.protos = _Protos(taxonomy or Taxonomy.load())
        self.clock = clock

    @rpc(administration(), db=Db.READ)
    async def ListThreads(
        self, request: pb.ListThreadsRequest, call: Call
    ) -> pb.ListThreadsResponse:
        views = await service.threads_for(call.session, call.administration or "")
        return pb.ListThreadsResponse(
            threads=[self.protos.thread(view.thread, view.unread) for view in views]
        )

    @rpc(administration(), db=Db.WRITE)
    async def GetThread(self, request: pb.GetThreadRequest, call: Call) -> pb.GetThreadResponse:
        conversation = await service.read_as_administration(
            call.session,
            call.administration or "",
            _thread_id(request.thread_id),
            now=self.clock(),
        )
        thread, messages = self.protos.conversation(conversation, Side.ADMINISTRATION)
        return pb.GetThreadResponse(thread=thread, messages=messages)

    @rpc(administration(), db=Db.WRITE)
    async def AnswerThread(
        self, request: pb.AnswerThreadRequest, call: Call
    ) -> pb.AnswerThreadResponse:
        message = await service.answer(
            call.session,
            call.administration or "",
            _thread_id(request.thread_id),
            request.body,
            now=self.clock(),
        )
        return pb.AnswerThreadResponse(message=self.protos.message(message, []))

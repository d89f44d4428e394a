"""Exchanges over gRPC: the person's ExchangeService (the gateway, with the person's token) and
the administrations' AdministrationMessagingService (mutual TLS, named by their certificate)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet.messaging.v1 import exchanges_pb2_grpc as pb_grpc
from guichet_kit.db import transaction
from guichet_kit.domain import InvalidInput, NotFound
from guichet_kit.i18n import Catalog, current_language
from guichet_kit.servicers import (
    Call,
    Db,
    DeclaredServicer,
    administration,
    citizen,
    rpc,
    rpc_stream,
)
from guichet_messaging.exchanges import service
from guichet_messaging.exchanges.files import MessageFiles, files_unavailable
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
from guichet_messaging.exchanges.requests import (
    ProcedureRequests,
    no_such_request,
    parse_request_reference,
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
            reference=thread.reference or "",
            request_reference=thread.request_reference or "",
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
            attachments=[attachment_to_proto(a) for a in attachments],
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


def attachment_to_proto(attachment: Attachment) -> pb.Attachment:
    return pb.Attachment(
        id=str(attachment.id),
        file_id=attachment.file_id,
        file_name=attachment.file_name,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def _chunks(
    messages: AsyncIterator[pb.UploadMessageFileRequest],
) -> AsyncIterator[bytes]:
    async for message in messages:
        if message.WhichOneof("part") != "chunk":
            raise InvalidInput(
                "UPLOAD_HEADER_REPEATED", _("A file has one header, before its bytes.")
            )
        yield message.chunk


def _header_missing() -> InvalidInput:
    return InvalidInput(
        "UPLOAD_HEADER_MISSING", _("A file starts with its header (name, type, size).")
    )


class ExchangeServicer(DeclaredServicer, pb_grpc.ExchangeServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None] = lambda: None,
        taxonomy: Taxonomy | None = None,
        clock: Callable[[], datetime] = _now,
        files: MessageFiles | None = None,
        requests: ProcedureRequests | None = None,
    ) -> None:
        super().__init__(sessions, events_written)
        # For the RPCs that open their own transactions (not while another service answers).
        self.db = sessions
        self.taxonomy = taxonomy or Taxonomy.load()
        self.protos = _Protos(self.taxonomy)
        self.clock = clock
        # Without the wallet (no platform CA) files cannot be taken; without procedures, no
        # thread per request.
        self.files = files
        self.requests = requests

    def _files(self) -> MessageFiles:
        if self.files is None:
            raise files_unavailable()
        return self.files

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
            attachment_ids=tuple(request.attachment_ids),
        )
        sent = await service.send(
            call.session,
            self.taxonomy,
            owner=call.person.national_id,
            draft=draft,
            now=self.clock(),
        )
        return pb.SendMessageResponse(thread=self.protos.thread(sent.thread, 0))

    @rpc(citizen(), db=Db.WRITE)
    async def SendDocument(
        self, request: pb.SendDocumentRequest, call: Call
    ) -> pb.SendDocumentResponse:
        draft = service.Draft(
            theme=request.theme,
            subject=request.subject,
            reason=request.reason,
            title=request.title,
            body=request.body,
            attachment_ids=tuple(request.attachment_ids),
        )
        sent = await service.send(
            call.session,
            self.taxonomy,
            owner=call.person.national_id,
            draft=draft,
            now=self.clock(),
            document=True,
        )
        [(message, files)] = sent.messages
        return pb.SendDocumentResponse(
            thread=self.protos.thread(sent.thread, 0), message=self.protos.message(message, files)
        )

    @rpc(citizen(), db=Db.WRITE)
    async def ReplyToMyThread(
        self, request: pb.ReplyToMyThreadRequest, call: Call
    ) -> pb.ReplyToMyThreadResponse:
        message, files = await service.reply(
            call.session,
            call.person.national_id,
            _thread_id(request.thread_id),
            request.body,
            tuple(request.attachment_ids),
            now=self.clock(),
        )
        return pb.ReplyToMyThreadResponse(message=self.protos.message(message, files))

    @rpc(citizen(), db=Db.NONE)
    async def WriteAboutRequest(
        self, request: pb.WriteAboutRequestRequest, call: Call
    ) -> pb.WriteAboutRequestResponse:
        reference = parse_request_reference(request.request_reference)
        if self.requests is None:
            raise no_such_request()
        # Procedures is asked before the transaction: no row is locked while it answers.
        facts = await self.requests.find(reference)
        async with transaction(self.db) as session:
            thread, message, files = await service.write_about_request(
                session,
                call.person.national_id,
                facts,
                request.body,
                tuple(request.attachment_ids),
                now=self.clock(),
            )
            return pb.WriteAboutRequestResponse(
                thread=self.protos.thread(thread, 0), message=self.protos.message(message, files)
            )

    @rpc(citizen(), db=Db.NONE)
    async def UploadMessageFile(
        self, request: AsyncIterator[pb.UploadMessageFileRequest], call: Call
    ) -> pb.UploadMessageFileResponse:
        messages = aiter(request)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise _header_missing()
        header = first.header
        owner = call.person.national_id
        async with self.db() as session:
            # Said before any byte is taken; checked again when the row is written.
            await service.check_upload_room(session, owner, now=self.clock())
        # The wallet refuses a bad file (nothing kept); only a file it took gets a row.
        copy = await self._files().ingest(
            owner,
            header.file_name,
            header.declared_content_type,
            header.declared_size,
            _chunks(messages),
        )
        async with transaction(self.db) as session:
            attachment = await service.record_upload(session, owner, copy, now=self.clock())
            return pb.UploadMessageFileResponse(attachment=attachment_to_proto(attachment))

    @rpc(citizen(), db=Db.WRITE)
    async def RemoveMessageFile(
        self, request: pb.RemoveMessageFileRequest, call: Call
    ) -> pb.RemoveMessageFileResponse:
        await service.remove_upload(call.session, call.person.national_id, request.attachment_id)
        return pb.RemoveMessageFileResponse()

    @rpc_stream(citizen(), db=Db.NONE)
    async def DownloadMessageFile(
        self, request: pb.DownloadMessageFileRequest, call: Call
    ) -> AsyncIterator[pb.DownloadMessageFileResponse]:
        async with self.db() as session:
            attachment = await service.file_of_person(
                session, call.person.national_id, request.attachment_id
            )
        chunks = aiter(self._files().read(attachment.file_id))
        # The wallet's refusal or outage comes before the header: the caller gets it as such.
        first = await anext(chunks, b"")
        yield pb.DownloadMessageFileResponse(header=attachment_to_proto(attachment))
        if first:
            yield pb.DownloadMessageFileResponse(chunk=first)
        async for chunk in chunks:
            yield pb.DownloadMessageFileResponse(chunk=chunk)

    @rpc(citizen(), db=Db.READ)
    async def ListMyThreads(
        self, request: pb.ListMyThreadsRequest, call: Call
    ) -> pb.ListMyThreadsResponse:
        reference = (
            parse_request_reference(request.request_reference) if request.request_reference else ""
        )
        views = await service.threads_of(
            call.session,
            call.person.national_id,
            hidden=request.hidden,
            request_reference=reference,
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
        files: MessageFiles | None = None,
    ) -> None:
        super().__init__(sessions, events_written)
        self.db = sessions
        self.protos = _Protos(taxonomy or Taxonomy.load())
        self.clock = clock
        self.files = files

    @rpc(administration(), db=Db.READ)
    async def ListThreads(
        self, request: pb.ListThreadsRequest, call: Call
    ) -> pb.ListThreadsResponse:
        views = await service.threads_for(
            call.session, call.administration or "", kind=request.kind
        )
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

    @rpc_stream(administration(), db=Db.NONE)
    async def ReadFile(
        self, request: pb.ReadFileRequest, call: Call
    ) -> AsyncIterator[pb.ReadFileResponse]:
        async with self.db() as session:
            attachment = await service.file_for_administration(
                session,
                call.administration or "",
                _thread_id(request.thread_id),
                request.attachment_id,
            )
        if self.files is None:
            raise files_unavailable()
        chunks = aiter(self.files.read(attachment.file_id))
        first = await anext(chunks, b"")
        yield pb.ReadFileResponse(header=attachment_to_proto(attachment))
        if first:
            yield pb.ReadFileResponse(chunk=first)
        async for chunk in chunks:
            yield pb.ReadFileResponse(chunk=chunk)

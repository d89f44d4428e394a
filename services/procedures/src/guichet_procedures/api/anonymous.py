"""AnonymousProceduresService (F21): requests filed without an account, reached with their
follow-up token, and their claim by a signed-in person. The rules are in
`requests/anonymous.py`; this servicer reads the messages and writes the replies.

The token is the only proof of who may act: its RPCs are public and every one needs the token
(an unknown, guessed or forgotten token is FOLLOW_UP_NOT_FOUND, nothing else is told).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.i18n import Language
from guichet_kit.servicers import Call, Db, DeclaredServicer, citizen, public, rpc
from guichet_procedures.api import wire
from guichet_procedures.api.citizen import (
    ProceduresServicer,
    RequestRules,
    _idempotency_key,
    _language,
    parse_answers,
)
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests import anonymous, service
from guichet_procedures.requests.catalogue_store import CatalogueStore


class AnonymousProceduresServicer(DeclaredServicer, pb_grpc.AnonymousProceduresServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: CatalogueStore,
        replies: ProceduresServicer,
        rules: RequestRules,
        postman: anonymous.Postman,
        code_minutes: int,
        events_written: Callable[[], None],
    ) -> None:
        super().__init__(sessions, events_written)
        self._store = store
        # A request is shown as ProceduresService shows it to its owner.
        self._replies = replies
        self._rules = rules
        self._postman = postman
        self._code_minutes = code_minutes

    async def _reply(
        self,
        session: AsyncSession,
        found: anonymous.Found,
        definition: Definition,
        language: Language,
    ) -> pb.AnonymousRequest:
        access = found.access
        reply = pb.AnonymousRequest(
            request=await self._replies._reply(session, found.request, definition, language),
            email=access.email or "",
            email_confirmed=access.email_confirmed,
        )
        if access.code_expires_at is not None and access.code_sha256 is not None:
            reply.code_expires_at.FromDatetime(access.code_expires_at)
        return reply

    async def _read(
        self, session: AsyncSession, token: str, language: Language
    ) -> pb.AnonymousRequest:
        found = await anonymous.reach(session, token)
        definition = await service.pinned(self._store, session, found.request)
        return await self._reply(session, found, definition, language)

    @rpc(public())
    async def StartAnonymousDraft(
        self, request: pb.StartAnonymousDraftRequest, call: Call
    ) -> pb.StartAnonymousDraftResponse:
        language = _language(request.language)
        found, definition, token = await anonymous.start(
            call.session,
            self._store,
            request.procedure_code,
            language.value,
            now=self._rules.clock(),
            draft_days=self._rules.draft_days,
        )
        return pb.StartAnonymousDraftResponse(
            request=await self._reply(call.session, found, definition, language),
            follow_up_token=token,
        )

    @rpc(public(), db=Db.READ)
    async def GetAnonymousRequest(
        self, request: pb.GetAnonymousRequestRequest, call: Call
    ) -> pb.GetAnonymousRequestResponse:
        language = _language(request.language)
        return pb.GetAnonymousRequestResponse(
            request=await self._read(call.session, request.follow_up_token, language)
        )

    @rpc(public())
    async def SaveAnonymousStep(
        self, request: pb.SaveAnonymousStepRequest, call: Call
    ) -> pb.SaveAnonymousStepResponse:
        language = _language(request.language)
        answers = parse_answers(request.answers_json)
        found, definition = await anonymous.save_step(
            call.session,
            self._store,
            request.follow_up_token,
            request.step_id,
            answers,
            now=self._rules.clock(),
            draft_days=self._rules.draft_days,
        )
        return pb.SaveAnonymousStepResponse(
            request=await self._reply(call.session, found, definition, language)
        )

    @rpc(public())
    async def SendEmailCode(
        self, request: pb.SendEmailCodeRequest, call: Call
    ) -> pb.SendEmailCodeResponse:
        language = _language(request.language)
        found = await anonymous.send_email_code(
            call.session,
            self._store,
            self._postman,
            request.follow_up_token,
            request.email,
            language,
            now=self._rules.clock(),
            code_minutes=self._code_minutes,
        )
        definition = await service.pinned(self._store, call.session, found.request)
        return pb.SendEmailCodeResponse(
            request=await self._reply(call.session, found, definition, language)
        )

    # The rules hold the transaction: a wrong code is counted although the call is refused.
    @rpc(public(), db=Db.NONE)
    async def ConfirmEmail(
        self, request: pb.ConfirmEmailRequest, call: Call
    ) -> pb.ConfirmEmailResponse:
        language = _language(request.language)
        sessions = self._sessions()
        await anonymous.confirm_email(
            sessions, request.follow_up_token, request.code, now=self._rules.clock()
        )
        async with sessions() as session:
            return pb.ConfirmEmailResponse(
                request=await self._read(session, request.follow_up_token, language)
            )

    @rpc(public())
    async def SubmitAnonymousRequest(
        self, request: pb.SubmitAnonymousRequestRequest, call: Call
    ) -> pb.SubmitAnonymousRequestResponse:
        language = _language(request.language)
        key = _idempotency_key(request.idempotency_key)
        found, definition = await anonymous.submit(
            call.session,
            self._store,
            self._postman,
            request.follow_up_token,
            key,
            self._rules.make_proof,
            now=self._rules.clock(),
        )
        return pb.SubmitAnonymousRequestResponse(
            request=await self._reply(call.session, found, definition, language)
        )

    @rpc(public())
    async def CancelAnonymousRequest(
        self, request: pb.CancelAnonymousRequestRequest, call: Call
    ) -> pb.CancelAnonymousRequestResponse:
        language = _language(request.language)
        found, definition = await anonymous.cancel(
            call.session, self._store, request.follow_up_token, now=self._rules.clock()
        )
        return pb.CancelAnonymousRequestResponse(
            request=await self._reply(call.session, found, definition, language)
        )

    @rpc(public(), db=Db.READ)
    async def GetAnonymousProof(
        self, request: pb.GetAnonymousProofRequest, call: Call
    ) -> pb.GetAnonymousProofResponse:
        found, proof = await anonymous.proof_of(call.session, request.follow_up_token)
        reference = wire.display_reference(found.reference)
        return pb.GetAnonymousProofResponse(pdf=proof.pdf, filename=f"proof-{reference}.pdf")

    # ---- the claim, signed in ----

    @rpc(citizen())
    async def SendClaimCode(
        self, request: pb.SendClaimCodeRequest, call: Call
    ) -> pb.SendClaimCodeResponse:
        _language(request.language)
        masked, expires_at = await anonymous.send_claim_code(
            call.session,
            self._postman,
            request.reference,
            now=self._rules.clock(),
            code_minutes=self._code_minutes,
        )
        reply = pb.SendClaimCodeResponse(masked_email=masked)
        reply.code_expires_at.FromDatetime(expires_at)
        return reply

    @rpc(citizen(), db=Db.NONE)
    async def ClaimRequest(
        self, request: pb.ClaimRequestRequest, call: Call
    ) -> pb.ClaimRequestResponse:
        language = _language(request.language)
        principal = call.person
        sessions = self._sessions()
        request_id = await anonymous.claim(
            sessions, principal, request.reference, request.code, now=self._rules.clock()
        )
        async with sessions() as session:
            claimed = await anonymous.claim_reached(session, request_id, principal.person)
            definition = await service.pinned(self._store, session, claimed)
            return pb.ClaimRequestResponse(
                request=await self._replies._reply(session, claimed, definition, language)
            )

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        if self.sessions is None:  # pragma: no cover - always given
            raise RuntimeError("AnonymousProceduresServicer has no database sessions")
        return self.sessions

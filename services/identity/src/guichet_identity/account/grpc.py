"""AccountService: validate requests, call the account rules and the deletion protocol, reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.account import deletion, service
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.account.mail_texts import email_change_mail
from guichet_identity.profile.fields import parse_name
from guichet_identity.settings import IdentitySettings
from guichet_kit.auth import LevelOfAssurance
from guichet_kit.domain import FieldErrors, InvalidInput, Unavailable
from guichet_kit.i18n import Catalog
from guichet_kit.mail import send_mail
from guichet_kit.servicers import (
    ANY_CONTEXT,
    Call,
    Db,
    DeclaredServicer,
    citizen,
    public,
    rpc,
)
from guichet_kit.values import (
    check,
    parse_email,
    parse_language_code,
    parse_national_id,
    parse_uuid,
)

log = structlog.get_logger(__name__)
_ = Catalog("guichet_identity")

MAX_PASSWORD_LENGTH = 256
MAX_TOKEN_LENGTH = 200


def _login_email(text: str) -> str:
    # Keycloak keeps logins in lower case; the profile's copy must compare equal.
    return parse_email(text).lower()


def _password(errors: FieldErrors, field: str, text: str) -> str:
    # Presence and a sane bound only: the policy itself is Keycloak's.
    if not text:
        errors.add(field, "required", _("Give a password."))
    elif len(text) > MAX_PASSWORD_LENGTH:
        errors.add(field, "too_long", _("At most {limit} characters.", limit=MAX_PASSWORD_LENGTH))
    return text


def _registration(request: pb.RegisterRequest) -> service.Registration:
    errors = FieldErrors()
    national_id = check(errors, "national_id", parse_national_id, request.national_id)
    email = check(errors, "email", _login_email, request.email)
    password = _password(errors, "password", request.password)
    first_name = check(errors, "first_name", parse_name, request.first_name)
    last_name = check(errors, "last_name", parse_name, request.last_name)
    language = check(errors, "language", parse_language_code, request.language or "fr")
    if errors or not (national_id and email and first_name and last_name and language):
        raise InvalidInput("INVALID_REGISTRATION", _("The registration has errors."), errors.errors)
    return service.Registration(
        national_id=national_id.value,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        language=language.value,
    )


def _email_request(field: str, text: str) -> str:
    errors = FieldErrors()
    email = check(errors, field, _login_email, text)
    if errors or email is None:
        raise InvalidInput("INVALID_EMAIL", _("The e-mail address is not valid."), errors.errors)
    return email


class AccountServicer(DeclaredServicer, pb_grpc.AccountServiceServicer):
    """Holds a Keycloak admin client: call `aclose()` when the server stops."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        events_written: Callable[[], None],
        *,
        accounts: KeycloakAccounts | None = None,
    ) -> None:
        super().__init__(sessions, events_written)
        # The protocols that hold their own transactions (registration, e-mail confirmation,
        # deletion) use these.
        self._sessions = sessions
        self._settings = settings
        self._accounts = accounts or KeycloakAccounts.from_settings(settings)
        # Work finished after the answer (password-reset mails); awaited on shutdown.
        self._background: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._accounts.aclose()

    # Keycloak and the database in turn: the rules hold the transactions and the compensation.
    @rpc(public(), db=Db.NONE)
    async def Register(self, request: pb.RegisterRequest, call: Call) -> pb.RegisterResponse:
        registration = _registration(request)
        subject = await service.register(self._sessions, self._accounts, registration)
        return pb.RegisterResponse(subject=subject)

    @rpc(public(), db=Db.NONE)
    async def RequestPasswordReset(
        self, request: pb.RequestPasswordResetRequest, call: Call
    ) -> pb.RequestPasswordResetResponse:
        email = _email_request("email", request.email)
        # Answered before Keycloak is asked, so the time taken tells nothing either.
        task = asyncio.create_task(service.request_password_reset(self._accounts, email))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return pb.RequestPasswordResetResponse()

    @rpc(citizen(), db=Db.NONE)
    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, call: Call
    ) -> pb.ChangePasswordResponse:
        errors = FieldErrors()
        current = _password(errors, "current_password", request.current_password)
        new = _password(errors, "new_password", request.new_password)
        errors.raise_if_any("INVALID_PASSWORD_CHANGE", _("The password change has errors."))
        await service.change_password(self._accounts, call.person.subject, current, new)
        return pb.ChangePasswordResponse()

    @rpc(citizen())
    async def RequestEmailChange(
        self, request: pb.RequestEmailChangeRequest, call: Call
    ) -> pb.RequestEmailChangeResponse:
        new_email = _email_request("new_email", request.new_email)
        hours = self._settings.email_change_valid_hours
        change = await service.request_email_change(
            call.session, self._accounts, call.person.subject, new_email, timedelta(hours=hours)
        )
        link = (
            f"{self._settings.public_base_url.rstrip('/')}/account/confirm-email"
            f"?token={change.token}"
        )
        subject, text = email_change_mail(change.language, new_email, link, hours)
        # Sent before the commit: a request whose mail never left is rolled back.
        try:
            await send_mail(
                self._settings.smtp_host,
                self._settings.smtp_port,
                self._settings.mail_from,
                new_email,
                subject,
                text,
            )
        except OSError as error:
            log.error("account.email_change_mail_failed", error=repr(error))
            raise Unavailable(
                "MAIL_UNAVAILABLE", _("The e-mail could not be sent; try again shortly.")
            ) from error
        reply = pb.RequestEmailChangeResponse()
        reply.expires_at.FromDatetime(change.request.expires_at)
        return reply

    # The token from the mail is the proof: the link works without signing in. The rules hold
    # the transaction: Keycloak is changed inside it and put back if the commit fails.
    @rpc(public(), db=Db.NONE)
    async def ConfirmEmailChange(
        self, request: pb.ConfirmEmailChangeRequest, call: Call
    ) -> pb.ConfirmEmailChangeResponse:
        token = request.token.strip()
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise service.email_change_token_invalid()
        change = await service.confirm_email_change(self._sessions, self._accounts, token)
        return pb.ConfirmEmailChangeResponse(email=change.new_email)

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.NONE)
    async def ListSignIns(
        self, request: pb.ListSignInsRequest, call: Call
    ) -> pb.ListSignInsResponse:
        reply = pb.ListSignInsResponse()
        for event in await service.sign_ins(self._accounts, call.person.subject, request.limit):
            sign_in = reply.sign_ins.add(
                type=event.type,
                ip_address=event.ip_address,
                client=event.client,
                error=event.error,
            )
            sign_in.occurred_at.FromDatetime(event.occurred_at)
        return reply

    @rpc(citizen(LevelOfAssurance.SUBSTANTIAL), db=Db.READ)
    async def ExportIdentity(
        self, request: pb.ExportIdentityRequest, call: Call
    ) -> pb.ExportIdentityResponse:
        document = await service.export_identity(call.session, self._accounts, call.person.subject)
        return pb.ExportIdentityResponse(
            document=json.dumps(document, ensure_ascii=False, default=str, indent=2).encode()
        )

    # The deletion protocol holds its own transaction and its compensation.
    @rpc(citizen(LevelOfAssurance.SUBSTANTIAL), db=Db.NONE)
    async def DeleteAccount(
        self, request: pb.DeleteAccountRequest, call: Call
    ) -> pb.DeleteAccountResponse:
        done = await deletion.delete_account(
            self._sessions,
            self._accounts,
            call.person.subject,
            request.confirm_email,
            list(self._settings.purge_services),
            token_national_id=call.person.national_id,
        )
        return pb.DeleteAccountResponse(deletion_id=str(done.id))

    # The person whose account it was, with the token they deleted it with, but only until the
    # deletion event reaches the process: from then on every service (identity too) refuses that
    # token with TOKEN_REVOKED. DeleteAccount's answer is the person's confirmation; following
    # the purge is the operators' (the `account_deletions` table).
    @rpc(citizen(), db=Db.READ)
    async def GetAccountDeletion(
        self, request: pb.GetAccountDeletionRequest, call: Call
    ) -> pb.GetAccountDeletionResponse:
        errors = FieldErrors()
        deletion_id = check(errors, "deletion_id", parse_uuid, request.deletion_id[:64])
        if errors or deletion_id is None:
            raise InvalidInput(
                "INVALID_DELETION_ID", _("This deletion id is not valid."), errors.errors
            )
        found = await deletion.deletion_of(call.session, deletion_id, call.person.subject)
        reply = pb.GetAccountDeletionResponse(
            deletion_id=str(found.id),
            awaiting=found.awaiting,
            confirmed=found.confirmed_services,
            complete=found.completed_at is not None,
        )
        reply.requested_at.FromDatetime(found.requested_at)
        return reply

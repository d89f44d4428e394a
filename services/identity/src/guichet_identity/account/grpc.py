"""AccountService: translate and validate requests, call the account rules, translate answers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.account import service
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.account.mail_texts import email_change_mail
from guichet_identity.national_id import InvalidNationalId, validate_national_id
from guichet_identity.profile.fields import check_email, check_language, check_name
from guichet_identity.settings import IdentitySettings
from guichet_kit.auth import LevelOfAssurance, authenticated, require_level
from guichet_kit.db import transaction
from guichet_kit.errors import FieldError, ServiceError, invalid_argument, not_found
from guichet_kit.mail import send_mail

log = structlog.get_logger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_SIGN_INS = 20
MAX_SIGN_INS = 100
# Sign-ins in an export: Keycloak keeps events only for the realm's retention anyway.
EXPORT_SIGN_INS = 1000
MAX_PASSWORD_LENGTH = 256


def _email(field: str, text: str, errors: list[FieldError]) -> str:
    if not text.strip():
        errors.append(FieldError(field, "required", "Give an e-mail address."))
        return ""
    # Keycloak keeps logins in lower case; the profile's copy must compare equal.
    return check_email(field, text, errors).lower()


def _password(field: str, text: str, errors: list[FieldError]) -> str:
    # Presence and a sane bound only: the policy itself is Keycloak's.
    if not text:
        errors.append(FieldError(field, "required", "Give a password."))
    elif len(text) > MAX_PASSWORD_LENGTH:
        errors.append(FieldError(field, "too_long", f"At most {MAX_PASSWORD_LENGTH} characters."))
    return text


def _registration(request: pb.RegisterRequest) -> service.Registration:
    errors: list[FieldError] = []
    national_id = ""
    try:
        national_id = validate_national_id(request.national_id).value
    except InvalidNationalId as error:
        errors.append(FieldError("national_id", error.reason, str(error)))
    email = _email("email", request.email, errors)
    password = _password("password", request.password, errors)
    first_name = check_name("first_name", request.first_name, errors)
    last_name = check_name("last_name", request.last_name, errors)
    language = check_language("language", request.language or "fr", errors)
    if errors:
        raise invalid_argument("INVALID_REGISTRATION", "the registration is invalid", errors)
    return service.Registration(
        national_id=national_id,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        language=language.value,
    )


def _deletion_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as error:
        raise invalid_argument(
            "INVALID_DELETION_ID",
            "a deletion id is a UUID",
            [FieldError("deletion_id", "invalid", "Give the id DeleteAccount returned.")],
        ) from error


class AccountServicer(pb_grpc.AccountServiceServicer):
    """Holds a Keycloak admin client: call `aclose()` when the server stops."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        events_written: Callable[[], None],
        *,
        accounts: KeycloakAccounts | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._events_written = events_written
        self._accounts = accounts or KeycloakAccounts.from_settings(settings)
        # Work finished after the answer (password-reset mails); awaited on shutdown.
        self._background: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._accounts.aclose()

    async def Register(self, request: pb.RegisterRequest, context: Context) -> pb.RegisterResponse:
        registration = _registration(request)
        async with transaction(self._sessions) as session:
            # Before Keycloak is touched; the unique constraint still guards a race.
            await service.check_national_id_free(session, registration.national_id)
        async with (
            service.new_login(self._accounts, registration) as subject,
            transaction(self._sessions) as session,
        ):
            await service.create_person(session, subject, registration)
        try:
            await self._accounts.send_verification_email(subject)
        except ServiceError as error:
            # The account stands; Keycloak's login page offers to send the mail again.
            log.error("account.verification_mail_not_sent", subject=subject, error=str(error))
        return pb.RegisterResponse(subject=subject)

    async def RequestPasswordReset(
        self, request: pb.RequestPasswordResetRequest, context: Context
    ) -> pb.RequestPasswordResetResponse:
        errors: list[FieldError] = []
        email = _email("email", request.email, errors)
        if errors:
            raise invalid_argument("INVALID_EMAIL", "the e-mail address is invalid", errors)
        # Answered before Keycloak is asked, so the time taken tells nothing either.
        task = asyncio.create_task(service.request_password_reset(self._accounts, email))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return pb.RequestPasswordResetResponse()

    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: Context
    ) -> pb.ChangePasswordResponse:
        caller = authenticated()
        errors: list[FieldError] = []
        current = _password("current_password", request.current_password, errors)
        new = _password("new_password", request.new_password, errors)
        if errors:
            raise invalid_argument(
                "INVALID_PASSWORD_CHANGE", "the password change is invalid", errors
            )
        await service.change_password(self._accounts, caller.subject, current, new)
        return pb.ChangePasswordResponse()

    async def RequestEmailChange(
        self, request: pb.RequestEmailChangeRequest, context: Context
    ) -> pb.RequestEmailChangeResponse:
        caller = authenticated()
        errors: list[FieldError] = []
        new_email = _email("new_email", request.new_email, errors)
        if errors:
            raise invalid_argument("INVALID_EMAIL", "the e-mail address is invalid", errors)
        hours = self._settings.email_change_valid_hours
        async with transaction(self._sessions) as session:
            change = await service.request_email_change(
                session, self._accounts, caller.subject, new_email, timedelta(hours=hours)
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
                raise ServiceError(
                    grpc.StatusCode.UNAVAILABLE, "MAIL_UNAVAILABLE", "the mail could not be sent"
                ) from error
            reply = pb.RequestEmailChangeResponse()
            reply.expires_at.FromDatetime(change.request.expires_at)
        return reply

    async def ConfirmEmailChange(
        self, request: pb.ConfirmEmailChangeRequest, context: Context
    ) -> pb.ConfirmEmailChangeResponse:
        invalid = invalid_argument(
            "EMAIL_CHANGE_TOKEN_INVALID",
            "this confirmation link is unknown, expired or already used",
            [FieldError("token", "invalid", "Ask for the e-mail change again.")],
        )
        token = request.token.strip()
        if not token or len(token) > 200:
            raise invalid
        async with transaction(self._sessions) as session:
            try:
                change = await service.confirm_email_change(session, self._accounts, token)
            except service.EmailChangeTokenInvalid as error:
                raise invalid from error
        return pb.ConfirmEmailChangeResponse(email=change.new_email)

    async def ListSignIns(
        self, request: pb.ListSignInsRequest, context: Context
    ) -> pb.ListSignInsResponse:
        caller = authenticated()
        limit = DEFAULT_SIGN_INS if request.limit <= 0 else min(request.limit, MAX_SIGN_INS)
        reply = pb.ListSignInsResponse()
        for event in await service.sign_ins(self._accounts, caller.subject, limit):
            sign_in = reply.sign_ins.add(
                type=event.type,
                ip_address=event.ip_address,
                client=event.client,
                error=event.error,
            )
            sign_in.occurred_at.FromDatetime(event.occurred_at)
        return reply

    async def ExportIdentity(
        self, request: pb.ExportIdentityRequest, context: Context
    ) -> pb.ExportIdentityResponse:
        caller = authenticated()
        require_level(caller, LevelOfAssurance.SUBSTANTIAL)
        async with transaction(self._sessions) as session:
            document = await service.export_identity(
                session, self._accounts, caller.subject, EXPORT_SIGN_INS
            )
        return pb.ExportIdentityResponse(
            document=json.dumps(document, ensure_ascii=False, default=str, indent=2).encode()
        )

    async def DeleteAccount(
        self, request: pb.DeleteAccountRequest, context: Context
    ) -> pb.DeleteAccountResponse:
        caller = authenticated()
        require_level(caller, LevelOfAssurance.SUBSTANTIAL)
        user = await service.login_of(self._accounts, caller.subject)
        service.check_deletion_confirmation(user, request.confirm_email)
        # No sign-in from here on, even if removing the login after the commit fails.
        await self._accounts.set_enabled(user.id, False)
        try:
            async with transaction(self._sessions) as session:
                deletion = await service.delete_account(
                    session,
                    user,
                    user.national_id or caller.national_id,
                    list(self._settings.purge_services),
                )
        except BaseException:
            await self._accounts.set_enabled(user.id, True)
            raise
        self._events_written()
        # The person is erased and the event out; a (disabled) login left behind is logged.
        await service.delete_login(self._accounts, deletion)
        return pb.DeleteAccountResponse(deletion_id=str(deletion.id))

    async def GetAccountDeletion(
        self, request: pb.GetAccountDeletionRequest, context: Context
    ) -> pb.GetAccountDeletionResponse:
        deletion_id = _deletion_id(request.deletion_id)
        async with transaction(self._sessions) as session:
            try:
                deletion = await service.find_deletion(session, deletion_id)
            except service.DeletionNotFound as error:
                raise not_found(
                    "DELETION_NOT_FOUND", f"no account deletion {deletion_id}"
                ) from error
        reply = pb.GetAccountDeletionResponse(
            deletion_id=str(deletion.id),
            awaiting=deletion.awaiting,
            confirmed=deletion.confirmed_services,
            complete=deletion.completed_at is not None,
        )
        reply.requested_at.FromDatetime(deletion.requested_at)
        return reply

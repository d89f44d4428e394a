"""/api/v1/accounts and /api/v1/me account actions: register, passwords, e-mail, export, delete."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from guichet.etracking.v1 import etracking_pb2 as etracking
from guichet.identity.v1 import identity_pb2 as pb
from guichet.messaging.v1 import messaging_pb2 as messaging
from guichet.procedures.v1 import procedures_pb2 as procedures
from guichet_gateway.altcha import ChallengesDep, PayloadField, require_solved
from guichet_gateway.deps import Calls, CurrentUser, rate_limit
from guichet_gateway.fields import (
    EmailText,
    EmailToken,
    FirstName,
    LastName,
    NationalIdText,
    Password,
)
from guichet_gateway.openapi import needs_level, refusals
from guichet_gateway.ratelimit import ACCOUNT_REQUESTS
from guichet_gateway.wire import as_dict, timestamp
from guichet_kit.auth import PRIVATE, LevelOfAssurance, set_caller
from guichet_kit.i18n import Language

router = APIRouter(prefix="/api/v1", tags=["account"])


# The bounds the identity service applies to what it reads (sign-ins it keeps and returns).
# The wire's bound (an int32), not a rule: how many sign-ins to give back is identity's decision.
MAX_INT32 = 2**31 - 1


class RegistrationIn(BaseModel):
    national_id: NationalIdText
    email: EmailText
    password: Password = Field(description="The sign-in service's password rules apply.")
    first_name: FirstName
    last_name: LastName
    language: Language = Language.FR
    altcha: PayloadField


class RegistrationOut(BaseModel):
    subject: str
    next_step: str = "Open the link in the e-mail we sent to confirm your address, then sign in."


class EmailIn(BaseModel):
    email: EmailText


class PasswordResetIn(EmailIn):
    altcha: PayloadField


class EmailOut(BaseModel):
    email: str


class PasswordChangeIn(BaseModel):
    current_password: Password
    new_password: Password


class EmailChangeIn(BaseModel):
    new_email: EmailText


class EmailChangeOut(BaseModel):
    expires_at: datetime | None


class TokenIn(BaseModel):
    token: EmailToken


class SignInOut(BaseModel):
    occurred_at: datetime | None
    type: str
    ip_address: str
    client: str
    error: str


class DeletionIn(BaseModel):
    confirm_email: EmailText = Field(description="The account's e-mail address, as confirmation")


class DeletionOut(BaseModel):
    deletion_id: str
    awaiting: list[str] = []
    confirmed: list[str] = []
    complete: bool = False


@router.post(
    "/accounts",
    status_code=201,
    response_model=RegistrationOut,
    dependencies=[rate_limit(ACCOUNT_REQUESTS)],
    responses=refusals(
        {
            409: "An account exists for this national identification number or e-mail "
            "address (NATIONAL_ID_TAKEN, EMAIL_TAKEN).",
            422: "INVALID_REGISTRATION (wrong check digits, e-mail, empty names…) or "
            "PASSWORD_POLICY; ANTI_ROBOT_CHECK_FAILED (`altcha` missing, forged, expired or "
            "used).",
        }
    ),
)
async def register(
    body: RegistrationIn, calls: Calls, challenges: ChallengesDep
) -> RegistrationOut:
    """F1: create an account; a verification e-mail is sent before the first sign-in."""
    await require_solved(challenges, body.altcha)
    reply = await calls.accounts.Register(
        pb.RegisterRequest(**body.model_dump(mode="json", exclude={"altcha"}))
    )
    return RegistrationOut(subject=reply.subject)


@router.post(
    "/accounts/password-reset",
    status_code=202,
    response_class=Response,
    responses={
        202: {"description": "Accepted: a link is e-mailed if the address is known"},
        **refusals({422: "ANTI_ROBOT_CHECK_FAILED (`altcha` missing, forged, expired or used)."}),
    },
    dependencies=[rate_limit(ACCOUNT_REQUESTS)],
)
async def request_password_reset(
    body: PasswordResetIn, calls: Calls, challenges: ChallengesDep
) -> Response:
    """F5: e-mail a reset link; the answer is the same whether the address is known or not."""
    await require_solved(challenges, body.altcha)
    await calls.accounts.RequestPasswordReset(pb.RequestPasswordResetRequest(email=body.email))
    return Response(status_code=202)


@router.post(
    "/accounts/email-confirmation",
    response_model=EmailOut,
    dependencies=[rate_limit(ACCOUNT_REQUESTS)],
    responses=refusals(
        {
            409: "The new address was taken meanwhile (EMAIL_TAKEN).",
            422: "The link is not valid or has expired (EMAIL_CHANGE_TOKEN_INVALID).",
        }
    ),
)
async def confirm_email_change(body: TokenIn, calls: Calls) -> EmailOut:
    """F6: the link in the confirmation mail; from now on the new address signs in."""
    reply = await calls.accounts.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=body.token))
    return EmailOut(email=reply.email)


@router.post(
    "/me/password",
    status_code=204,
    response_class=Response,
    responses=refusals({404: "No such account.", 422: "CURRENT_PASSWORD_WRONG, PASSWORD_POLICY."}),
)
async def change_password(body: PasswordChangeIn, calls: Calls, user: CurrentUser) -> Response:
    """F4: change the password, giving the current one."""
    await calls.accounts.ChangePassword(pb.ChangePasswordRequest(**body.model_dump(mode="json")))
    return Response(status_code=204)


@router.post(
    "/me/email",
    status_code=202,
    response_model=EmailChangeOut,
    dependencies=[rate_limit(ACCOUNT_REQUESTS)],
    responses=refusals(
        {404: "No such account.", 409: "The address is taken (EMAIL_TAKEN) or already yours."}
    ),
)
async def request_email_change(
    body: EmailChangeIn, calls: Calls, user: CurrentUser
) -> EmailChangeOut:
    """F6: a confirmation link goes to the new address; nothing changes until it is opened."""
    reply = await calls.accounts.RequestEmailChange(
        pb.RequestEmailChangeRequest(new_email=body.new_email)
    )
    return EmailChangeOut(expires_at=timestamp(reply.expires_at))


@router.get(
    "/me/sign-ins",
    response_model=list[SignInOut],
    responses=refusals({404: "No such account."}),
)
async def list_sign_ins(
    calls: Calls,
    user: CurrentUser,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_INT32,
            description="How many, newest first; identity gives at most its own maximum "
            "(100) and a default number when none is asked",
        ),
    ] = None,
) -> list[SignInOut]:
    """F12: recent sign-ins and failed attempts on the account."""
    reply = await calls.accounts.ListSignIns(pb.ListSignInsRequest(limit=limit or 0))
    return [
        SignInOut(
            occurred_at=timestamp(s.occurred_at),
            type=s.type,
            ip_address=s.ip_address,
            client=s.client,
            error=s.error,
        )
        for s in reply.sign_ins
    ]


@router.get(
    "/me/export",
    response_class=Response,
    openapi_extra=needs_level(LevelOfAssurance.SUBSTANTIAL),
    responses={
        200: {
            "description": "Everything the platform holds about the caller",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **refusals({404: "No such account."}),
    },
)
async def export_my_data(calls: Calls, user: CurrentUser) -> Response:
    """F13: everything the platform holds about the caller, as one JSON document."""
    # One's own data: whatever acting context the client sent, the export is the caller's.
    set_caller(user, PRIVATE)
    identity, trackings, requests, exchanges = await asyncio.gather(
        calls.accounts.ExportIdentity(pb.ExportIdentityRequest()),
        calls.etracking.ListMyTrackings(etracking.ListMyTrackingsRequest()),
        calls.procedures.ExportRequests(procedures.ExportRequestsRequest()),
        calls.messaging.ExportMessaging(messaging.ExportMessagingRequest()),
    )
    document: dict[str, Any] = {
        "identity": json.loads(identity.document.decode() or "{}"),
        "etracking": [as_dict(t) for t in trackings.trackings],
        "procedures": json.loads(requests.document.decode() or "{}"),
        # Notifications, threads with administrations, eDocuments and their receipts.
        "messaging": json.loads(exchanges.document.decode() or "{}"),
    }
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="openguichet-export.json"'},
    )


@router.post(
    "/me/deletion",
    status_code=202,
    response_model=DeletionOut,
    openapi_extra=needs_level(LevelOfAssurance.SUBSTANTIAL),
    responses=refusals(
        {404: "No such account.", 422: "The confirmation does not match (CONFIRMATION_MISMATCH)."}
    ),
)
async def delete_account(body: DeletionIn, calls: Calls, user: CurrentUser) -> DeletionOut:
    """F8: delete the account for good; every service purges its data and confirms."""
    reply = await calls.accounts.DeleteAccount(
        pb.DeleteAccountRequest(confirm_email=body.confirm_email)
    )
    return DeletionOut(deletion_id=reply.deletion_id)

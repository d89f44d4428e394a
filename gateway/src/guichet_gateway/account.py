"""/api/v1/accounts and /api/v1/me account actions: register, passwords, e-mail, export, delete."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from guichet.etracking.v1 import etracking_pb2 as etracking
from guichet.identity.v1 import identity_pb2 as pb
from guichet_gateway.deps import (
    Calls,
    CurrentUser,
    limit_account_requests,
    require_level,
)
from guichet_gateway.wire import as_dict, timestamp
from guichet_kit.auth import PRIVATE, LevelOfAssurance, set_caller

router = APIRouter(prefix="/api/v1", tags=["account"])


class RegistrationIn(BaseModel):
    national_id: str = Field(max_length=32, examples=["1985061200139"])
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    language: Literal["fr", "de", "en"] = "fr"


class RegistrationOut(BaseModel):
    subject: str
    next_step: str = "Open the link in the e-mail we sent to confirm your address, then sign in."


class EmailIn(BaseModel):
    email: str = Field(max_length=320)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class EmailChangeIn(BaseModel):
    new_email: str = Field(max_length=320)


class EmailChangeOut(BaseModel):
    expires_at: datetime | None


class TokenIn(BaseModel):
    token: str = Field(max_length=200)


class SignInOut(BaseModel):
    occurred_at: datetime | None
    type: str
    ip_address: str
    client: str
    error: str


class DeletionIn(BaseModel):
    confirm_email: str = Field(max_length=320)


class DeletionOut(BaseModel):
    deletion_id: str
    awaiting: list[str] = []
    confirmed: list[str] = []
    complete: bool = False


@router.post(
    "/accounts",
    status_code=201,
    response_model=RegistrationOut,
    dependencies=[limit_account_requests],
)
async def register(body: RegistrationIn, calls: Calls) -> RegistrationOut:
    """F1: create an account; a verification e-mail is sent before the first sign-in."""
    reply = await calls.accounts.Register(pb.RegisterRequest(**body.model_dump()))
    return RegistrationOut(subject=reply.subject)


@router.post("/accounts/password-reset", status_code=202, dependencies=[limit_account_requests])
async def request_password_reset(body: EmailIn, calls: Calls) -> Response:
    """F5: e-mail a reset link; the answer is the same whether the address is known or not."""
    await calls.accounts.RequestPasswordReset(pb.RequestPasswordResetRequest(email=body.email))
    return Response(status_code=202)


@router.post("/accounts/email-confirmation", response_model=EmailIn)
async def confirm_email_change(body: TokenIn, calls: Calls) -> EmailIn:
    """F6: the link in the confirmation mail; from now on the new address signs in."""
    reply = await calls.accounts.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=body.token))
    return EmailIn(email=reply.email)


@router.post("/me/password", status_code=204)
async def change_password(body: PasswordChangeIn, calls: Calls, user: CurrentUser) -> Response:
    """F4: change the password, giving the current one."""
    await calls.accounts.ChangePassword(pb.ChangePasswordRequest(**body.model_dump()))
    return Response(status_code=204)


@router.post(
    "/me/email",
    status_code=202,
    response_model=EmailChangeOut,
    dependencies=[limit_account_requests],
)
async def request_email_change(
    body: EmailChangeIn, calls: Calls, user: CurrentUser
) -> EmailChangeOut:
    """F6: a confirmation link goes to the new address; nothing changes until it is opened."""
    reply = await calls.accounts.RequestEmailChange(
        pb.RequestEmailChangeRequest(new_email=body.new_email)
    )
    return EmailChangeOut(expires_at=timestamp(reply.expires_at))


@router.get("/me/sign-ins", response_model=list[SignInOut])
async def list_sign_ins(calls: Calls, user: CurrentUser, limit: int = 50) -> list[SignInOut]:
    """F12: recent sign-ins and failed attempts on the account."""
    reply = await calls.accounts.ListSignIns(pb.ListSignInsRequest(limit=min(max(limit, 1), 200)))
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


@router.get("/me/export", dependencies=[require_level(LevelOfAssurance.SUBSTANTIAL)])
async def export_my_data(calls: Calls, user: CurrentUser) -> Response:
    """F13: everything the platform holds about the caller, as one JSON document."""
    # One's own data: whatever acting context the client sent, the export is the caller's.
    set_caller(user, PRIVATE)
    identity, trackings = await asyncio.gather(
        calls.accounts.ExportIdentity(pb.ExportIdentityRequest()),
        calls.etracking.ListMyTrackings(etracking.ListMyTrackingsRequest()),
    )
    document: dict[str, Any] = {
        "identity": json.loads(identity.document.decode() or "{}"),
        "etracking": [as_dict(t) for t in trackings.trackings],
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
    dependencies=[require_level(LevelOfAssurance.SUBSTANTIAL)],
)
async def delete_account(body: DeletionIn, calls: Calls, user: CurrentUser) -> DeletionOut:
    """F8: delete the account for good; every service purges its data and confirms."""
    reply = await calls.accounts.DeleteAccount(
        pb.DeleteAccountRequest(confirm_email=body.confirm_email)
    )
    return DeletionOut(deletion_id=reply.deletion_id)

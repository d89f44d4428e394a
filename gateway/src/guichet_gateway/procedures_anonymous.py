"""/api/v1/procedures/…/anonymous-drafts and /api/v1/procedures/followed/request: procedures
open without login, filled and submitted without an account (F21); and the claim of such a
request into the signed-in person's space (/api/v1/me/requests/claim…).

The draft's follow-up token (given once, when it starts) is its only key: it travels in the
`Follow-Up-Token` header, never in a URL, so it stays out of access logs, histories and Referer
headers. An unknown token is 404 (FOLLOW_UP_NOT_FOUND), nothing else is told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_gateway.altcha import PAYLOAD_DESCRIPTION, ChallengesDep, PayloadField, require_solved
from guichet_gateway.deps import Calls, CurrentUser, LanguageDep, rate_limit
from guichet_gateway.fields import OptionalEmailText
from guichet_gateway.openapi import refusals
from guichet_gateway.procedures import (
    _IDEMPOTENCY_KEY_PARAMETER,
    _PDF_CONTENT,
    ANSWER_REFUSALS,
    CATALOGUE,
    MY_REQUESTS,
    PDF,
    REFERENCE_EXAMPLE,
    REFERENCE_PATTERN,
    Answers,
    CodePath,
    IdempotencyKey,
    RequestOut,
    StepIdPath,
    answers_json,
    request_out,
    request_url,
)
from guichet_gateway.ratelimit import ANONYMOUS_CREATIONS
from guichet_gateway.wallet import content_disposition
from guichet_gateway.wire import timestamp

router = APIRouter(tags=["procedures without an account"])

# Two segments: GET …/{code} of the catalogue must not take it for a procedure code.
FOLLOWED = f"{CATALOGUE}/followed/request"
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}$"  # noqa: S105 (a pattern, not a secret)
FollowUpToken = Annotated[
    str,
    Header(
        alias="Follow-Up-Token",
        pattern=TOKEN_PATTERN,
        max_length=43,
        description="The draft's follow-up token, as given when it started (and in the "
        "acknowledgement mail's link)",
        examples=["Xq3v0cJ1bWm6pQe9T2yZr8aLkU4sN7dHfG5jC0vB1xE"],
    ),
]
Reference = Annotated[
    str,
    Field(pattern=rf"^{REFERENCE_PATTERN}$", max_length=20, examples=[REFERENCE_EXAMPLE]),
]
Code = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{6}$",
        max_length=6,
        description="The 6 digits of the code sent by e-mail",
        examples=["042917"],
    ),
]

_UNKNOWN_FOLLOW_UP = (
    "No draft or request has this follow-up token (FOLLOW_UP_NOT_FOUND): mistyped, guessed, or "
    "of a request claimed into a personal space since."
)
_BAD_HEADER = "A Follow-Up-Token header missing or not a token (VALIDATION_FAILED)."


class AnonymousRequestOut(RequestOut):
    email: str = Field(description="The address given for this request (empty until one is)")
    email_confirmed: bool = Field(description="Its code was typed: the request can be submitted")
    code_expires_at: datetime | None = Field(description="When the code sent last expires")


class StartedOut(AnonymousRequestOut):
    follow_up_token: str = Field(
        description="Shown once: the only key to this draft. Keep it; it is not stored in clear "
        "and cannot be sent again."
    )


class StartAnonymousIn(BaseModel):
    altcha: PayloadField = Field(description=PAYLOAD_DESCRIPTION)


class EmailIn(BaseModel):
    email: OptionalEmailText = Field(description="Where the code, then the acknowledgement, go")


class CodeIn(BaseModel):
    code: Code


class ClaimCodeIn(BaseModel):
    reference: Reference


class ClaimCodeOut(BaseModel):
    masked_email: str = Field(description="Where the code went, partly hidden")
    code_expires_at: datetime | None


class ClaimIn(BaseModel):
    reference: Reference
    code: Code


def anonymous_out(reply: pb.AnonymousRequest) -> AnonymousRequestOut:
    base = request_out(reply.request)
    return AnonymousRequestOut(
        **base.model_dump(),
        email=reply.email,
        email_confirmed=reply.email_confirmed,
        code_expires_at=timestamp(reply.code_expires_at),
    )


@router.post(
    f"{CATALOGUE}/{{code}}/anonymous-drafts",
    status_code=201,
    response_model=StartedOut,
    dependencies=[rate_limit(ANONYMOUS_CREATIONS)],
    responses={
        201: {
            "description": "The draft and its follow-up token; `Location` is where it is "
            "followed (with the token in the Follow-Up-Token header)",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        **refusals(
            {
                403: "The procedure needs a signed-in person (LOGIN_REQUIRED): start it at "
                "POST …/drafts signed in.",
                404: "No published procedure has this code (PROCEDURE_NOT_FOUND).",
                409: "A paper procedure (PAPER_PROCEDURE), closed or its quota reached.",
                422: "ANTI_ROBOT_CHECK_FAILED (`altcha` missing, forged, expired or used).",
            }
        ),
    },
)
async def start_anonymous_draft(
    code: CodePath,
    body: StartAnonymousIn,
    calls: Calls,
    language: LanguageDep,
    challenges: ChallengesDep,
    response: Response,
) -> StartedOut:
    """F21: start a procedure open without login (`login_required` false in the catalogue),
    without an account: a draft reached only with the follow-up token answered here. A solved
    anti-robot challenge is needed (GET /api/v1/altcha/challenge)."""
    await require_solved(challenges, body.altcha)
    reply = await calls.procedures_anonymous.StartAnonymousDraft(
        pb.StartAnonymousDraftRequest(procedure_code=code, language=language)
    )
    response.headers["Location"] = FOLLOWED
    return StartedOut(
        **anonymous_out(reply.request).model_dump(), follow_up_token=reply.follow_up_token
    )


_READ_REFUSALS = refusals({404: _UNKNOWN_FOLLOW_UP, 422: _BAD_HEADER})


@router.get(FOLLOWED, response_model=AnonymousRequestOut, responses=_READ_REFUSALS)
async def get_followed_request(
    token: FollowUpToken, calls: Calls, language: LanguageDep
) -> AnonymousRequestOut:
    """The draft or request of this follow-up token: its steps, answers, status and history."""
    reply = await calls.procedures_anonymous.GetAnonymousRequest(
        pb.GetAnonymousRequestRequest(follow_up_token=token, language=language)
    )
    return anonymous_out(reply.request)


@router.put(
    f"{FOLLOWED}/steps/{{step_id}}",
    response_model=AnonymousRequestOut,
    responses=ANSWER_REFUSALS | refusals({404: _UNKNOWN_FOLLOW_UP, 422: _BAD_HEADER}),
)
async def save_followed_step(
    step_id: StepIdPath,
    answers: Answers,
    token: FollowUpToken,
    calls: Calls,
    language: LanguageDep,
) -> AnonymousRequestOut:
    """Save one step of the draft, checked as for a signed-in person's draft."""
    reply = await calls.procedures_anonymous.SaveAnonymousStep(
        pb.SaveAnonymousStepRequest(
            follow_up_token=token,
            step_id=step_id,
            answers_json=answers_json(answers),
            language=language,
        )
    )
    return anonymous_out(reply.request)


@router.put(
    f"{FOLLOWED}/email",
    response_model=AnonymousRequestOut,
    responses=refusals(
        {
            404: _UNKNOWN_FOLLOW_UP,
            409: "Submitted already: the address cannot change (NOT_A_DRAFT).",
            422: f"Not an e-mail address (INVALID_EMAIL). {_BAD_HEADER}",
            429: "Too many codes sent for this draft (TOO_MANY_CODES).",
            503: "The mail could not be sent (MAIL_UNAVAILABLE): nothing changed, try again.",
        }
    ),
)
async def give_followed_email(
    body: EmailIn, token: FollowUpToken, calls: Calls, language: LanguageDep
) -> AnonymousRequestOut:
    """Give (or change) the address: a 6-digit code is mailed to it, valid for some minutes
    (`code_expires_at`). A new address needs its own code."""
    reply = await calls.procedures_anonymous.SendEmailCode(
        pb.SendEmailCodeRequest(follow_up_token=token, email=body.email or "", language=language)
    )
    return anonymous_out(reply.request)


@router.post(
    f"{FOLLOWED}/email-confirmation",
    response_model=AnonymousRequestOut,
    responses=refusals(
        {
            404: _UNKNOWN_FOLLOW_UP,
            409: "No code is waiting (NO_CODE_SENT), or not a draft (NOT_A_DRAFT).",
            422: "Not the code sent (WRONG_CODE, with the attempts left), expired "
            f"(CODE_EXPIRED) or not 6 digits (INVALID_CODE). {_BAD_HEADER}",
            429: "Too many wrong codes (CODE_ATTEMPTS_EXHAUSTED): ask for a new one.",
        }
    ),
)
async def confirm_followed_email(
    body: CodeIn, token: FollowUpToken, calls: Calls, language: LanguageDep
) -> AnonymousRequestOut:
    """Type the code mailed to the address: the address is confirmed."""
    reply = await calls.procedures_anonymous.ConfirmEmail(
        pb.ConfirmEmailRequest(follow_up_token=token, code=body.code, language=language)
    )
    return anonymous_out(reply.request)


@router.post(
    f"{FOLLOWED}/submission",
    response_model=AnonymousRequestOut,
    openapi_extra={"parameters": [_IDEMPOTENCY_KEY_PARAMETER]},
    responses=refusals(
        {
            400: "No Idempotency-Key header.",
            404: _UNKNOWN_FOLLOW_UP,
            409: "The address is not confirmed (EMAIL_NOT_CONFIRMED), the draft is not complete "
            "(REQUEST_INCOMPLETE), its answers end the procedure (NOT_ELIGIBLE), or it was "
            "submitted with another key (ALREADY_SUBMITTED).",
            422: f"A malformed Idempotency-Key, or answers no longer valid. {_BAD_HEADER}",
        }
    ),
)
async def submit_followed_request(
    key: IdempotencyKey, token: FollowUpToken, calls: Calls, language: LanguageDep
) -> AnonymousRequestOut:
    """Submit the complete draft once its address is confirmed: as a signed-in submission (its
    reference, its sealed proof, the administration told). The acknowledgement with the
    follow-up link is mailed to the address by the notifications, just after."""
    reply = await calls.procedures_anonymous.SubmitAnonymousRequest(
        pb.SubmitAnonymousRequestRequest(
            follow_up_token=token, idempotency_key=key, language=language
        )
    )
    return anonymous_out(reply.request)


@router.post(
    f"{FOLLOWED}/cancellation",
    response_model=AnonymousRequestOut,
    responses=refusals(
        {
            404: _UNKNOWN_FOLLOW_UP,
            409: "Its status does not allow cancelling it (NOT_CANCELLABLE).",
            422: _BAD_HEADER,
        }
    ),
)
async def cancel_followed_request(
    token: FollowUpToken, calls: Calls, language: LanguageDep
) -> AnonymousRequestOut:
    """Cancel the draft, or the request where its status allows it."""
    reply = await calls.procedures_anonymous.CancelAnonymousRequest(
        pb.CancelAnonymousRequestRequest(follow_up_token=token, language=language)
    )
    return anonymous_out(reply.request)


@router.get(
    f"{FOLLOWED}/proof",
    response_class=Response,
    responses={
        200: {
            "description": "The sealed proof of deposit (PDF)",
            "content": _PDF_CONTENT,
            "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}},
        },
        **refusals(
            {
                404: f"{_UNKNOWN_FOLLOW_UP} Or a draft, which has no proof (PROOF_NOT_FOUND).",
                422: _BAD_HEADER,
            }
        ),
    },
)
async def download_followed_proof(token: FollowUpToken, calls: Calls) -> Response:
    """The proof of deposit of the submitted request."""
    reply = await calls.procedures_anonymous.GetAnonymousProof(
        pb.GetAnonymousProofRequest(follow_up_token=token)
    )
    return Response(
        reply.pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": content_disposition(reply.filename or "proof.pdf"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# ---- the claim, signed in ----

_UNCLAIMABLE = (
    "No request filed without an account has this reference, or it was claimed already "
    "(REQUEST_NOT_FOUND)."
)


@router.post(
    f"{MY_REQUESTS}/claim-codes",
    response_model=ClaimCodeOut,
    responses=refusals(
        {
            404: _UNCLAIMABLE,
            422: "Not a reference (VALIDATION_FAILED, INVALID_REFERENCE).",
            429: "Claims of this request are locked for a while after wrong codes "
            "(CLAIM_RATE_LIMITED), or too many codes were sent (TOO_MANY_CODES).",
            503: "The mail could not be sent (MAIL_UNAVAILABLE).",
        }
    ),
)
async def send_claim_code(
    body: ClaimCodeIn, calls: Calls, user: CurrentUser, language: LanguageDep
) -> ClaimCodeOut:
    """F21: to add a request filed without an account to your space, first have a code sent to
    the address it was filed with."""
    reply = await calls.procedures_anonymous.SendClaimCode(
        pb.SendClaimCodeRequest(reference=body.reference, language=language)
    )
    return ClaimCodeOut(
        masked_email=reply.masked_email, code_expires_at=timestamp(reply.code_expires_at)
    )


@router.post(
    f"{MY_REQUESTS}/claims",
    status_code=201,
    response_model=RequestOut,
    responses={
        201: {
            "description": "The request, now in your space; `Location` is it",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        **refusals(
            {
                404: _UNCLAIMABLE,
                409: "No code was sent (NO_CODE_SENT).",
                422: "Not the code sent (WRONG_CODE, with the attempts left), expired "
                "(CODE_EXPIRED), or a malformed reference or code.",
                429: "Too many wrong codes: claims of this request are locked for a while "
                "(CLAIM_RATE_LIMITED).",
            }
        ),
    },
)
async def claim_request(
    body: ClaimIn, calls: Calls, user: CurrentUser, language: LanguageDep, response: Response
) -> RequestOut:
    """F21: add a request filed without an account to your own space, with its reference and
    the code sent to its address. Its follow-up link stops working."""
    reply = await calls.procedures_anonymous.ClaimRequest(
        pb.ClaimRequestRequest(reference=body.reference, code=body.code, language=language)
    )
    response.headers["Location"] = request_url(reply.request.id)
    return request_out(reply.request)

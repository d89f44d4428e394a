"""F21: requests filed without an account, for procedures whose definition says
`access: {login: optional}`.

A draft started without login belongs to `anonymous:<request id>` and is reached only with its
follow-up token: 32 random bytes given once at the start, of which only the SHA-256 is kept.
Before submission the applicant gives an address and confirms it with a short code mailed to it
(hashed, expiring, a few attempts; a new address needs a new code). The submission is the
signed-in one (`service.submit`: same checks, quota, proof, event) for that owner. Its submitted
event carries the checked address and the follow-up link: messaging's notification of that event
is the acknowledgement (sent once, after the commit); later events of the request carry the
address too (`address_for_events`), so messaging can tell of a status change.

Later a signed-in person claims the submitted request into their space with its reference and a
code mailed to the address used: wrong codes are counted in the database and, past a few, the
claim is locked for a while; a claimed request forgets its token (the link stops working).

Wrong codes must be remembered although the call is refused: those calls (`confirm_email`,
`claim`) hold their own transaction, commit the count, then raise.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.auth import LevelOfAssurance, Principal
from guichet_kit.db import transaction
from guichet_kit.domain import (
    Conflict,
    Exhausted,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
)
from guichet_kit.i18n import Catalog, Language
from guichet_kit.mail import send_mail
from guichet_kit.values import InvalidValue, parse_email
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests import repository, service
from guichet_procedures.requests.catalogue_store import CatalogueStore

# The model lives with the others (administration's events read its address); named here too.
from guichet_procedures.requests.models import (
    ANONYMOUS_PREFIX,
    DRAFT,
    AnonymousAccess,
    Proof,
    Request,
)
from guichet_procedures.requests.references import InvalidRequestReference, parse_reference
from guichet_procedures.requests.service import Acting, ProofMaker

_ = Catalog("guichet_procedures")
log = structlog.get_logger("procedures.anonymous")

OWNER_PREFIX = ANONYMOUS_PREFIX
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters: anything much longer is not a token.
MAX_TOKEN_LENGTH = 64
CODE_DIGITS = 6
# Wrong codes a pending e-mail code takes before it is void (ask for a new one).
MAX_CODE_ATTEMPTS = 5
# E-mail codes one draft may send: enough for a typo or two, not for flooding a mailbox.
MAX_CODES_SENT = 5
# Wrong claim codes before the claim is locked for CLAIM_LOCK; claim codes one request may send.
MAX_CLAIM_FAILURES = 5
CLAIM_LOCK = timedelta(minutes=15)
MAX_CLAIM_CODES_SENT = 10
# Where the follow-up link leads (the web client's page, served by the gateway).
FOLLOW_PATH = "/procedures/follow"
# The address is the applicant's only name on a request filed without an account.
MAX_NAME = 200


@dataclass(frozen=True)
class Found:
    """A request reached by its token, with how it is reached."""

    request: Request
    access: AnonymousAccess


# ---- refusals ----


class FollowUpNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "FOLLOW_UP_NOT_FOUND",
            _(
                "This follow-up link is not valid: check that it is complete. A request added "
                "to a personal space is followed there."
            ),
        )


def _login_required(code: str) -> Forbidden:
    return Forbidden(
        "LOGIN_REQUIRED",
        _("Procedure {code} needs a signed-in person: sign in to start it.", code=code),
    )


def _wrong_code(field: str, left: int) -> InvalidInput:
    message = _("This code is not the one sent. Attempts left: {left}.", left=left)
    return InvalidInput(
        "WRONG_CODE", message, [FieldError(field, "wrong", message)], {"attempts_left": str(left)}
    )


def _code_expired(field: str) -> InvalidInput:
    message = _("This code has expired: ask for a new one.")
    return InvalidInput("CODE_EXPIRED", message, [FieldError(field, "expired", message)])


def _invalid_code(field: str) -> InvalidInput:
    message = _("Type the {digits} digits of the code sent by e-mail.", digits=CODE_DIGITS)
    return InvalidInput("INVALID_CODE", message, [FieldError(field, "format", message)])


def mail_unavailable() -> Unavailable:
    return Unavailable("MAIL_UNAVAILABLE", _("The e-mail could not be sent; try again shortly."))


# ---- tokens and codes ----


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(request_id: uuid.UUID, purpose: str, code: str) -> str:
    # Bound to the request and the purpose: an e-mail code is never a claim code.
    return hashlib.sha256(f"{request_id}:{purpose}:{code}".encode()).hexdigest()


def _same(stored: str | None, given: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, given)


def _code(text: str, field: str = "code") -> str:
    code = text.strip().replace(" ", "")
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        raise _invalid_code(field)
    return code


def owner_of(request_id: uuid.UUID) -> str:
    return f"{OWNER_PREFIX}{request_id}"


def is_anonymous(owner: str | None) -> bool:
    return owner is not None and owner.startswith(OWNER_PREFIX)


def follow_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}{FOLLOW_PATH}?token={token}"


def mask(email: str) -> str:
    """a***@example.org: enough for the person to recognise their address, not to learn one."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _applicant(request: Request, access: AnonymousAccess) -> Acting:
    """Who acts on a request without an account: nobody signed in, at the lowest level, named
    by the checked address (the name on the proof and for the administration)."""
    email = access.email if access.email_confirmed else None
    principal = Principal(
        subject="",
        level=LevelOfAssurance.LOW,
        national_id="",
        email=email or "",
        name=(email or "")[:MAX_NAME],
        token="",
    )
    return Acting(principal, owner_of(request.id), "private")


# ---- mail ----


@dataclass(frozen=True)
class Postman:
    """The mails this module sends itself, over the platform's SMTP relay."""

    smtp_host: str
    smtp_port: int
    sender: str
    public_base_url: str

    async def send(self, to: str, subject: str, text: str) -> None:
        try:
            await send_mail(self.smtp_host, self.smtp_port, self.sender, to, subject, text)
        except OSError as error:
            log.error("anonymous.mail_failed", error=repr(error))
            raise mail_unavailable() from error


def _code_mail(language: Language, code: str, minutes: int, title: str) -> tuple[str, str]:
    subject = _("Your confirmation code: {code}", code=code).render(language)
    text = _(
        "Your confirmation code for the request “{title}” is {code}.\n\n"
        "Type it on the form to confirm your e-mail address. It is valid for {minutes} "
        "minutes.\n\nIf you did not ask for it, ignore this message.",
        title=title,
        code=code,
        minutes=minutes,
    ).render(language)
    return subject, text


def _claim_mail(language: Language, code: str, minutes: int, reference: str) -> tuple[str, str]:
    subject = _("Code to add request {reference} to your space", reference=reference).render(
        language
    )
    text = _(
        "Someone signed in asks to add your request {reference} to their personal space. "
        "If it is you, type this code: {code}. It is valid for {minutes} minutes.\n\n"
        "If it is not you, do not give this code to anyone: your request stays as it is.",
        reference=reference,
        code=code,
        minutes=minutes,
    ).render(language)
    return subject, text


# ---- reaching a request by its token ----


async def reach(session: AsyncSession, token: str, *, for_update: bool = False) -> Found:
    """The request whose token this is; FOLLOW_UP_NOT_FOUND for any other text, and for a
    token of a claimed request (it was forgotten)."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise FollowUpNotFound()
    hashed = token_hash(token)
    access = await session.scalar(
        select(AnonymousAccess).where(AnonymousAccess.token_sha256 == hashed)
    )
    if access is None:
        raise FollowUpNotFound()
    # The request's row first, then its access row: the order a claim takes them in too.
    request = await repository.request_of(
        session, owner_of(access.request_id), request_id=access.request_id, for_update=for_update
    )
    if for_update and request is not None:
        await session.refresh(access, with_for_update=True)
    if request is None or access.token_sha256 != hashed:  # claimed in the meantime
        raise FollowUpNotFound()
    return Found(request, access)


# ---- drafts ----


async def start(
    session: AsyncSession,
    store: CatalogueStore,
    code: str,
    language: str,
    *,
    now: datetime,
    draft_days: int,
) -> tuple[Found, Definition, str]:
    """A draft of a procedure open without login, and its token (returned once)."""
    found = await store.current(session, code)
    if found is None:
        raise service.ProcedureNotFound(code)
    _procedure, definition = found
    if definition.access.login != "optional":
        raise _login_required(code)
    request_id = uuid.uuid4()
    placeholder = Acting(_applicant_nobody(), owner_of(request_id), "private")
    request, definition = await service.start_draft(
        session, store, placeholder, code, language, now=now, draft_days=draft_days
    )
    # start_draft names its own id: the owner follows it; nobody signed in started it.
    request.owner = owner_of(request.id)
    request.created_by = None
    token = new_token()
    access = AnonymousAccess(request_id=request.id, token_sha256=token_hash(token))
    session.add(access)
    await session.flush()
    return Found(request, access), definition, token


def _applicant_nobody() -> Principal:
    return Principal(
        subject="", level=LevelOfAssurance.LOW, national_id="", email="", name="", token=""
    )


async def save_step(
    session: AsyncSession,
    store: CatalogueStore,
    token: str,
    step_id: str,
    answers: dict[str, object],
    *,
    now: datetime,
    draft_days: int,
) -> tuple[Found, Definition]:
    found = await reach(session, token, for_update=True)
    request, definition = await service.save_step(
        session,
        store,
        _applicant(found.request, found.access),
        found.request.id,
        step_id,
        answers,
        now=now,
        draft_days=draft_days,
    )
    return Found(request, found.access), definition


# ---- the address, checked by a code ----


async def send_email_code(
    session: AsyncSession,
    store: CatalogueStore,
    postman: Postman,
    token: str,
    email_text: str,
    language: Language,
    *,
    now: datetime,
    code_minutes: int,
) -> Found:
    """A new code to this address (any earlier code is void, the address unconfirmed until
    the new code is typed). The mail leaves before the commit: if it cannot, nothing changes."""
    try:
        email = parse_email(email_text)
    except InvalidValue as error:
        raise InvalidInput(
            "INVALID_EMAIL", error.message, [FieldError("email", error.reason, error.message)]
        ) from error
    found = await reach(session, token, for_update=True)
    if found.request.state != DRAFT:
        raise Conflict(
            "NOT_A_DRAFT", _("The address of a submitted request cannot be changed any more.")
        )
    access = found.access
    if access.codes_sent >= MAX_CODES_SENT:
        raise Exhausted(
            "TOO_MANY_CODES",
            _("Too many codes were sent for this draft: start it again later."),
        )
    code = new_code()
    access.email = email
    access.email_confirmed_at = None
    access.code_sha256 = code_hash(found.request.id, "email", code)
    access.code_expires_at = now + timedelta(minutes=code_minutes)
    access.code_attempts = 0
    access.codes_sent += 1
    await session.flush()
    title = found.request.title.get(language.value) or found.request.title.get("en", "")
    subject, text = _code_mail(language, code, code_minutes, title)
    await postman.send(email, subject, text)
    return found


async def confirm_email(
    sessions: async_sessionmaker[AsyncSession], token: str, code_text: str, *, now: datetime
) -> uuid.UUID:
    """The code typed: the address is confirmed, or the wrong attempt is counted (committed)
    and refused. Returns the request's id (read again by the caller)."""
    code = _code(code_text)
    refusal: Exception | None = None
    async with transaction(sessions) as session:
        found = await reach(session, token, for_update=True)
        access = found.access
        if found.request.state != DRAFT:
            raise Conflict(
                "NOT_A_DRAFT", _("The address of a submitted request cannot be changed any more.")
            )
        if access.code_sha256 is None or access.code_expires_at is None:
            raise Conflict(
                "NO_CODE_SENT", _("No code is waiting: give your e-mail address to get one.")
            )
        if access.code_attempts >= MAX_CODE_ATTEMPTS:
            raise Exhausted(
                "CODE_ATTEMPTS_EXHAUSTED",
                _("Too many wrong codes: ask for a new code."),
            )
        if access.code_expires_at <= now:
            raise _code_expired("code")
        if _same(access.code_sha256, code_hash(found.request.id, "email", code)):
            access.email_confirmed_at = now
            access.code_sha256 = None
            access.code_expires_at = None
            access.code_attempts = 0
        else:
            access.code_attempts += 1
            refusal = _wrong_code("code", MAX_CODE_ATTEMPTS - access.code_attempts)
    if refusal is not None:
        raise refusal
    return found.request.id


# ---- submission, cancellation, proof ----


async def submit(
    session: AsyncSession,
    store: CatalogueStore,
    postman: Postman,
    token: str,
    idempotency_key: str,
    make_proof: ProofMaker,
    *,
    now: datetime,
) -> tuple[Found, Definition]:
    """As a signed-in submission, once the address is confirmed. The submitted event carries the
    address and the follow-up link: messaging mails the acknowledgement from it, after the
    commit (nothing is mailed from here, so nothing is mailed twice)."""
    found = await reach(session, token, for_update=True)
    access = found.access
    if found.request.state == DRAFT and not access.email_confirmed:
        raise Conflict(
            "EMAIL_NOT_CONFIRMED",
            _("Confirm your e-mail address with the code sent to it before submitting."),
        )
    first_time = found.request.state == DRAFT
    link = follow_url(postman.public_base_url, token)
    request, definition = await service.submit(
        session,
        store,
        _applicant(found.request, access),
        found.request.id,
        idempotency_key,
        make_proof,
        now=now,
        email=access.email or "",
        follow_up_url=link,
    )
    if first_time and access.email is not None:
        request.applicant_name = access.email[:MAX_NAME]
        await session.flush()
    return Found(request, access), definition


def _display(reference: str | None) -> str:
    if not reference:
        return ""
    return parse_reference(reference).display


async def cancel(
    session: AsyncSession, store: CatalogueStore, token: str, *, now: datetime
) -> tuple[Found, Definition]:
    found = await reach(session, token, for_update=True)
    request, definition = await service.cancel(
        session, store, _applicant(found.request, found.access), found.request.id, now=now
    )
    return Found(request, found.access), definition


async def proof_of(session: AsyncSession, token: str) -> tuple[Request, Proof]:
    found = await reach(session, token)
    return await service.proof_of(session, found.request.owner or "", found.request.id)


# ---- the claim by a signed-in person ----


def _reference(text: str) -> str:
    try:
        return parse_reference(text).canonical
    except InvalidRequestReference as error:
        raise InvalidInput(
            "INVALID_REFERENCE",
            _("Give the reference of the request (PR-XXXX-XXXX-C) from its acknowledgement."),
            [FieldError("reference", error.reason, error.message)],
        ) from error


def _not_claimable() -> NotFound:
    return NotFound(
        "REQUEST_NOT_FOUND",
        _("No request filed without an account has this reference, or it was already claimed."),
    )


def _locked(access: AnonymousAccess, now: datetime) -> Exhausted | None:
    if access.claim_locked_until is None or access.claim_locked_until <= now:
        return None
    minutes = max(1, int((access.claim_locked_until - now).total_seconds() // 60) + 1)
    return Exhausted(
        "CLAIM_RATE_LIMITED",
        _(
            "Too many wrong codes for this request: try again in {minutes} minutes.",
            minutes=minutes,
        ),
        metadata={"retry_after": str(int((access.claim_locked_until - now).total_seconds()))},
    )


async def _claimable(session: AsyncSession, reference: str) -> Found:
    request = await session.scalar(
        select(Request)
        .where(Request.reference == reference, Request.owner.startswith(OWNER_PREFIX))
        .with_for_update()
    )
    access = (
        await session.get(AnonymousAccess, request.id, with_for_update=True)
        if request is not None
        else None
    )
    if request is None or access is None or access.token_sha256 is None:
        raise _not_claimable()
    if not access.email_confirmed:
        raise _not_claimable()
    return Found(request, access)


async def send_claim_code(
    session: AsyncSession,
    postman: Postman,
    reference_text: str,
    *,
    now: datetime,
    code_minutes: int,
) -> tuple[str, datetime]:
    """A claim code to the address the request was filed with: (masked address, expiry)."""
    reference = _reference(reference_text)
    found = await _claimable(session, reference)
    access = found.access
    locked = _locked(access, now)
    if locked is not None:
        raise locked
    if access.claim_codes_sent >= MAX_CLAIM_CODES_SENT:
        raise Exhausted(
            "TOO_MANY_CODES", _("Too many codes were sent for this request: contact support.")
        )
    code = new_code()
    access.claim_code_sha256 = code_hash(found.request.id, "claim", code)
    access.claim_code_expires_at = now + timedelta(minutes=code_minutes)
    access.claim_codes_sent += 1
    await session.flush()
    email = access.email or ""
    subject, text = _claim_mail(
        Language(found.request.language), code, code_minutes, _display(reference)
    )
    await postman.send(email, subject, text)
    return mask(email), access.claim_code_expires_at


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    reference_text: str,
    code_text: str,
    *,
    now: datetime,
) -> uuid.UUID:
    """The request moves to the caller's space: its owner becomes them and its token is
    forgotten. A wrong code is counted (committed); past MAX_CLAIM_FAILURES the claim is locked
    for CLAIM_LOCK. Returns the request's id."""
    reference = _reference(reference_text)
    code = _code(code_text)
    refusal: Exception | None = None
    async with transaction(sessions) as session:
        found = await _claimable(session, reference)
        access = found.access
        locked = _locked(access, now)
        if locked is not None:
            raise locked
        if access.claim_code_sha256 is None or access.claim_code_expires_at is None:
            raise Conflict(
                "NO_CODE_SENT", _("No code is waiting: ask for a code to be sent first.")
            )
        if access.claim_code_expires_at <= now:
            raise _code_expired("code")
        if _same(access.claim_code_sha256, code_hash(found.request.id, "claim", code)):
            request = found.request
            request.owner = principal.person
            request.version += 1
            request.updated_at = now
            access.token_sha256 = None
            access.claim_code_sha256 = None
            access.claim_code_expires_at = None
            access.claim_failures = 0
            access.claimed_at = now
            access.claimed_by = principal.person
        else:
            access.claim_failures += 1
            left = MAX_CLAIM_FAILURES - access.claim_failures
            if left <= 0:
                # Locked: the code is void too, a new one is needed after the lock.
                access.claim_failures = 0
                access.claim_locked_until = now + CLAIM_LOCK
                access.claim_code_sha256 = None
                access.claim_code_expires_at = None
            refusal = _wrong_code("code", max(left, 0))
    if refusal is not None:
        raise refusal
    return found.request.id


async def claim_reached(session: AsyncSession, request_id: uuid.UUID, owner: str) -> Request:
    request = await repository.request_of(session, owner, request_id=request_id)
    if request is None:  # pragma: no cover - claimed in this call
        raise _not_claimable()
    return request


async def access_of(session: AsyncSession, request_id: uuid.UUID) -> AnonymousAccess:
    access = await session.get(AnonymousAccess, request_id)
    if access is None:  # pragma: no cover - written with the request
        raise FollowUpNotFound()
    return access

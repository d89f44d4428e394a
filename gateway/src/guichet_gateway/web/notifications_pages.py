"""The notification centre's page ("My notifications", F65): what the platform sent the signed-in
person by e-mail and SMS, newest first, with where each delivery stands. The same messaging call
as the API (notifications.py), a page at a time: "older notifications" follows the page token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from guichet_gateway.deps import Calls
from guichet_gateway.notifications import MAX_PAGE_TOKEN, NotificationOut, list_notifications
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.session import SignedIn
from guichet_kit.i18n import LUXEMBOURG, N_, Catalog, Language

_ = Catalog("guichet_gateway")
router = APIRouter(include_in_schema=False)

SECTION = "notifications"
STEP = 20
CHANNELS = {"email": N_("E-mail"), "sms": N_("SMS")}
STATUSES = {
    "pending": N_("Being sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Could not be delivered"),
}
# USWDS tag colours per status (text stays the meaning; colour is extra).
TAGS = {"pending": "bg-base", "delivered": "bg-green", "failed": "bg-secondary-dark"}


@dataclass(frozen=True)
class Shown:
    id: str
    when_iso: str
    when: str
    channel: str
    recipient: str
    title: str
    reference: str
    status: str
    tag: str


def _when(value: datetime | None, language: Language) -> tuple[str, str]:
    if value is None:
        return "", ""
    local = value.astimezone(LUXEMBOURG)
    return local.isoformat(), format_datetime(local, format="medium", locale=language.value)


def _shown(notification: NotificationOut, language: Language) -> Shown:
    iso, text = _when(notification.created_at, language)
    return Shown(
        id=notification.id,
        when_iso=iso,
        when=text,
        channel=_(CHANNELS[notification.channel]).render(language),
        recipient=notification.recipient,
        title=notification.title,
        reference=notification.reference,
        status=_(STATUSES[notification.status]).render(language),
        tag=TAGS[notification.status],
    )


@router.get("/my/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    language = page_language(request)
    # A token too long is none this list gave: the first page instead of an error.
    token = request.query_params.get("page", "")[: MAX_PAGE_TOKEN + 1]
    listed = await list_notifications(calls, STEP, token if len(token) <= MAX_PAGE_TOKEN else "")
    return page(
        request,
        "notifications/list.html",
        section=SECTION,
        notifications=[_shown(n, language) for n in listed.notifications],
        next_page=listed.next_page_token,
        later_page=bool(token),
    )

"""The dashboard page (F80) of a signed-in person: what `GET /api/v1/dashboard` answers, shown.

The page reads the same `read_dashboard` as the API (same calls, same deadlines): a section whose
service is down or late is a "temporarily unavailable" alert and the rest of the page is shown.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from guichet_gateway.dashboard import read_dashboard, section_deadline
from guichet_gateway.deps import Calls
from guichet_gateway.web.news import news_for
from guichet_gateway.web.pages import page, page_language
from guichet_gateway.web.procedures_pages import STATES
from guichet_gateway.web.session import SignedIn
from guichet_kit.i18n import format_moment, render

router = APIRouter(include_in_schema=False)
STATE_WORDS = dict(STATES.values())


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, calls: Calls, session: SignedIn) -> HTMLResponse:
    language = page_language(request)
    board = await read_dashboard(calls, session.principal, language, section_deadline(request))
    trackings = [
        {
            "number": t.number,
            "form_title": t.paper_form.title,
            "status": t.status_label,
            "when": format_moment(t.updated_at, language),
            "iso": t.updated_at.isoformat(),
            "href": "/etracking/lookup?" + urlencode({"number": t.number, "lang": language.value}),
        }
        for t in board.etrackings.items
    ]
    requests = [
        {
            "title": r.title,
            "reference": r.reference,
            # A draft or a cancelled request has no status of its procedure: its state says it.
            "status": r.status_text or render(STATE_WORDS[r.state], language),
            "when": format_moment(r.updated_at, language) if r.updated_at else "",
            "iso": r.updated_at.isoformat() if r.updated_at else "",
            "href": f"/my/requests/{r.id}?" + urlencode({"lang": language.value}),
        }
        for r in board.requests.items
    ]
    mandates = [
        {
            "name": m.subject_name or m.subject_national_id,
            "until": format_moment(m.expires_at, language) if m.expires_at else None,
            "iso": m.expires_at.isoformat() if m.expires_at else None,
        }
        for m in board.mandates.items
    ]
    return page(
        request,
        "dashboard.html",
        section="dashboard",
        board=board,
        trackings=trackings,
        requests=requests,
        mandates=mandates,
        # The news as the home page shows them, private ones included (the same items as the API).
        news=news_for(language, signed_in=True),
    )

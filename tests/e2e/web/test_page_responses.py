"""The pages as HTTP answers: headers, language, what a person typed sent back escaped, and the
API document left as it was."""

from __future__ import annotations

import httpx


async def test_a_page_carries_its_security_headers_and_language(api: httpx.AsyncClient) -> None:
    response = await api.get("/", headers={"Accept-Language": "de-LU,de;q=0.9,fr;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert '<html lang="de">' in response.text
    chosen = await api.get("/?lang=en", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in chosen.text, "?lang= wins over Accept-Language"


async def test_what_was_typed_comes_back_escaped(api: httpx.AsyncClient) -> None:
    typed = '"><script>alert(1)</script>'
    response = await api.get("/etracking/lookup", params={"number": typed, "lang": "en"})
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
    assert 'href="#number"' in response.text


async def test_an_empty_number_is_refused_with_its_message(api: httpx.AsyncClient) -> None:
    response = await api.get("/etracking/lookup", params={"number": "  ", "lang": "fr"})
    assert response.status_code == 422
    assert "Saisissez le numéro eTracking." in response.text


async def test_the_pages_stay_out_of_the_api_document(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert all(path.startswith("/api/") or path == "/healthz" for path in paths), list(paths)
    assert (await api.get("/static/vendor/uswds/css/uswds.min.css")).status_code == 200


async def test_the_project_stylesheet_is_served_as_css(api: httpx.AsyncClient) -> None:
    # base.html links it; a missing file would leave long German headings overflowing at 320 px.
    response = await api.get("/static/css/guichet.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "overflow-wrap: anywhere" in response.text

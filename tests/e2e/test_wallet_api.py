"""The wallet's API through the gateway, on the real services: a piece added with its file,
listed, read with every version, downloaded as stored (type, size, name, digest, no sniffing,
no caching), a file replaced (both versions kept), renamed and its dates changed, a file added
and deleted, the piece deleted with every object; acting for someone with a wallet:write
mandate; the dashboard's documents section; the OpenAPI document of the uploads."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from urllib.parse import quote

import httpx
from citizens import Citizen, Registry

# The fixtures and samples of the bad-input module (pytest finds imported fixtures).
from test_wallet_bad_input import (
    PDF,
    WalletProbe,
    grant,
    lea,
    pdf,
    png,
    probe,
    problem_of,
    registry,
    wallet_api,
)

__all__ = ["lea", "probe", "registry", "wallet_api"]


def digest_header(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


async def test_a_piece_goes_through_its_whole_life(probe: WalletProbe, lea: Citizen) -> None:
    api, headers = probe.api, lea.bearer()
    before = await probe.snapshot(lea)
    first = pdf(filler=5000)
    name = "carte d\u2019identit\u00e9 L\u00e9a.pdf"
    created = await api.post(
        "/api/v1/wallet/pieces",
        headers=headers,
        data={"type": "identity_card", "title": "Carte d'identité", "expires_on": "2031-05-31"},
        files={"file": (name, first, PDF)},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    piece_id, file_id = body["piece"]["piece_id"], body["file_id"]
    assert created.headers["location"] == f"/api/v1/wallet/pieces/{piece_id}"
    assert body["version"]["number"] == 1
    assert body["version"]["sha256"] == hashlib.sha256(first).hexdigest()
    assert body["piece"]["expires_on"] == "2031-05-31"

    listed = (await api.get("/api/v1/wallet/pieces", headers=headers)).json()
    assert (listed["total"], listed["max_pieces"]) == (len(before.pieces) + 1, 10)
    assert piece_id in {p["piece_id"] for p in listed["items"]}

    # Downloaded as stored: its type, size and name, its digest, never sniffed nor cached.
    downloaded = await api.get(f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}", headers=headers)
    assert downloaded.status_code == 200
    assert downloaded.content == first
    assert downloaded.headers["content-type"] == PDF
    assert downloaded.headers["content-length"] == str(len(first))
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    assert downloaded.headers["cache-control"] == "no-store"
    assert downloaded.headers["repr-digest"] == digest_header(first)
    assert downloaded.headers["content-disposition"] == (
        f"attachment; filename=\"carte didentite Lea.pdf\"; filename*=UTF-8''{quote(name, safe='')}"
    )

    # A new version: both are kept, the newest first.
    second = png()
    replaced = await api.put(
        f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}",
        headers=headers,
        files={"file": ("recto.png", second, "image/png")},
    )
    assert replaced.status_code == 200, replaced.text
    piece = (await api.get(f"/api/v1/wallet/pieces/{piece_id}", headers=headers)).json()
    (only,) = piece["files"]
    assert [v["number"] for v in only["versions"]] == [2, 1]
    assert only["current"]["content_type"] == "image/png"
    earlier = only["versions"][1]
    old = await api.get(earlier["download_url"], headers=headers)
    assert old.content == first and old.headers["content-type"] == PDF
    current = await api.get(only["current"]["download_url"], headers=headers)
    assert current.content == second and current.headers["content-type"] == "image/png"

    # Renamed: what is left out stays, a date set to null goes.
    renamed = await api.patch(
        f"/api/v1/wallet/pieces/{piece_id}",
        headers=headers,
        json={"title": "Carte de Léa", "issued_on": "2021-05-31"},
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["title"], renamed.json()["expires_on"]) == ("Carte de Léa", "2031-05-31")
    cleared = await api.patch(
        f"/api/v1/wallet/pieces/{piece_id}", headers=headers, json={"expires_on": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["expires_on"] is None
    assert cleared.json()["issued_on"] == "2021-05-31"
    assert cleared.json()["title"] == "Carte de Léa"
    wrong = await api.patch(
        f"/api/v1/wallet/pieces/{piece_id}", headers=headers, json={"issued_on": "2999-01-01"}
    )
    problem = problem_of(wrong, 422, "INVALID_PIECE")
    assert problem["errors"][0]["field"] == "issued_on"

    # A second file, then deleted; the last one cannot be.
    added = await api.post(
        f"/api/v1/wallet/pieces/{piece_id}/files",
        headers=headers,
        files={"file": ("verso.pdf", pdf(), PDF)},
    )
    assert added.status_code == 201, added.text
    assert len(added.json()["piece"]["files"]) == 2
    removed = await api.delete(
        f"/api/v1/wallet/pieces/{piece_id}/files/{added.json()['file_id']}", headers=headers
    )
    assert removed.status_code == 200, removed.text
    assert [f["file_id"] for f in removed.json()["files"]] == [file_id]
    last = await api.delete(f"/api/v1/wallet/pieces/{piece_id}/files/{file_id}", headers=headers)
    problem_of(last, 409, "LAST_FILE_OF_PIECE")

    # Deleted with every version: the wallet is as it was, objects included.
    deleted = await api.delete(f"/api/v1/wallet/pieces/{piece_id}", headers=headers)
    assert deleted.status_code == 204
    problem_of(
        await api.get(f"/api/v1/wallet/pieces/{piece_id}", headers=headers), 404, "PIECE_NOT_FOUND"
    )
    await probe.unchanged_since(before, lea)


async def test_the_piece_types_are_named_in_the_callers_language(
    probe: WalletProbe, lea: Citizen
) -> None:
    names = {}
    for language in ("fr", "de", "en"):
        answer = await probe.api.get(
            "/api/v1/wallet/piece-types", params={"lang": language}, headers=lea.bearer()
        )
        assert answer.status_code == 200
        names[language] = {t["code"]: t["name"] for t in answer.json()}
    assert names["fr"]["identity_card"] == "Carte d'identité"
    assert names["de"]["identity_card"] == "Personalausweis"
    assert names["en"]["identity_card"] == "Identity card"


async def test_acting_for_someone_with_wallet_write_adds_to_their_wallet(
    probe: WalletProbe, registry: Registry, lea: Citizen
) -> None:
    bert = await registry.register("Bert")
    context = await grant(probe.api, registry, lea, bert, ["wallet:read", "wallet:write"])
    added = await probe.add_piece(
        bert, title="Payslip for Lea", piece_type="payslip", context=context
    )
    piece_id = added["piece"]["piece_id"]
    assert piece_id in {p["piece_id"] for p in await probe.pieces(lea)}
    assert await probe.pieces(bert) == [], "nothing in Bert's own wallet"
    await probe.remove_every_piece(lea)


async def dashboard_documents(
    api: httpx.AsyncClient, citizen: Citizen, context: str | None = None
) -> dict:
    answer = await api.get("/api/v1/dashboard", headers=citizen.bearer(context=context))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_the_dashboard_counts_the_documents_and_those_expiring_soon(
    probe: WalletProbe, registry: Registry, lea: Citizen
) -> None:
    empty = (await dashboard_documents(probe.api, lea))["documents"]
    assert (empty["status"], empty["offered"], empty["total"]) == ("available", True, 0)
    soon = (date.today() + timedelta(days=10)).isoformat()
    later = (date.today() + timedelta(days=400)).isoformat()
    for title, expires in (("Passeport", soon), ("Carte", later)):
        created = await probe.api.post(
            "/api/v1/wallet/pieces",
            headers=lea.bearer(),
            data={"type": "passport", "title": title, "expires_on": expires},
            files={"file": ("p.pdf", pdf(), PDF)},
        )
        assert created.status_code == 201, created.text
    documents = (await dashboard_documents(probe.api, lea))["documents"]
    assert (documents["total"], documents["max_pieces"], documents["expiring_soon"]) == (2, 10, 1)
    flagged = {item["title"]: item["expiring_soon"] for item in documents["items"]}
    assert flagged == {"Passeport": True, "Carte": False}

    # Acting for Lea with a mandate that does not open her documents: that section only is
    # left out, the rest of the dashboard is answered.
    carl = await registry.register("Carl")
    context = await grant(probe.api, registry, lea, carl, ["etracking:read"])
    board = await dashboard_documents(probe.api, carl, context)
    assert board["documents"]["status"] == "unavailable"
    assert board["documents"]["reason"] == "MANDATE_REFUSED"
    assert board["etrackings"]["status"] == "available"
    await probe.remove_every_piece(lea)


async def test_the_uploads_are_documented_as_multipart_with_their_refusals(
    wallet_api: httpx.AsyncClient,
) -> None:
    spec = (await wallet_api.get("/openapi.json")).json()
    upload = spec["paths"]["/api/v1/wallet/pieces"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": schema["properties"]["file"]["description"],
    }
    assert {"type", "file"} <= set(schema["required"])
    assert {"201", "401", "403", "404", "409", "413", "415", "422", "503"} <= set(
        upload["responses"]
    )
    download = spec["paths"]["/api/v1/wallet/pieces/{piece_id}/files/{file_id}"]["get"]
    assert "Content-Disposition" in download["responses"]["200"]["headers"]

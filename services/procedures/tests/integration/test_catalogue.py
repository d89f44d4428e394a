"""The catalogue: publishing versions (all or nothing), themes, full text search per language,
a published version's form."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_procedures.api.citizen import ProceduresServicer
from guichet_procedures.definitions.loader import load_catalogue
from guichet_procedures.publishing import PublishRefused, publish_directory
from guichet_procedures.requests.models import Procedure, ProcedureVersion

from .conftest import ANNE, DEFINITIONS, NO_CONTEXT, TEST_FORM, refusal, write_catalogue
from .test_drafts import start

pytestmark = pytest.mark.asyncio


async def search(procedures: ProceduresServicer, **fields: Any) -> pb.SearchCatalogueResponse:
    return await procedures.SearchCatalogue(pb.SearchCatalogueRequest(**fields), NO_CONTEXT)


def codes(reply: pb.SearchCatalogueResponse) -> list[str]:
    return [procedure.code for procedure in reply.procedures]


async def versions(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, int], str]:
    async with sessions() as session:
        rows = await session.execute(
            select(ProcedureVersion.code, ProcedureVersion.version, ProcedureVersion.content_hash)
        )
        return {(code, version): content_hash for code, version, content_hash in rows}


async def test_publishing_again_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], catalogue_dir: Path
) -> None:
    before = await versions(sessions)
    report = await publish_directory(sessions, catalogue_dir)
    assert report.published == [] and len(report.unchanged) == len(DEFINITIONS)
    assert await versions(sessions) == before


async def test_a_changed_file_with_the_same_version_is_refused_and_nothing_is_published(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    changed = {**TEST_FORM, "summary": {"fr": "Autre", "de": "Andere", "en": "Other"}}
    newer = {**DEFINITIONS[1], "version": 2}
    directory = write_catalogue(tmp_path / "catalogue", [changed, newer, *DEFINITIONS[2:]])
    before = await versions(sessions)
    with pytest.raises(PublishRefused) as refused:
        await publish_directory(sessions, directory)
    assert len(refused.value.problems) == 1
    assert "test-form v1 is already published with other content" in refused.value.problems[0]
    assert await versions(sessions) == before  # not even test-high v2

    # With its version raised, the change is published; older versions stay.
    directory = write_catalogue(tmp_path / "raised", [{**changed, "version": 2}])
    report = await publish_directory(sessions, directory)
    assert report.published == ["test-form v2"]
    assert ("test-form", 1) in await versions(sessions)
    async with sessions() as session:
        procedure = await session.get(Procedure, "test-form")
        assert procedure is not None and procedure.current_version == 2

    # A version going down is refused.
    directory = write_catalogue(tmp_path / "older", [TEST_FORM])
    with pytest.raises(PublishRefused, match="older than the published version 2"):
        await publish_directory(sessions, directory)


async def test_a_draft_keeps_its_version_when_a_newer_one_is_published(
    procedures: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    tmp_path: Path,
) -> None:
    signed_in(ANNE)
    draft = await start(procedures)
    directory = write_catalogue(tmp_path / "catalogue", [{**TEST_FORM, "version": 2}])
    await publish_directory(sessions, directory)
    reply = await procedures.GetRequest(pb.GetRequestRequest(request_id=draft.id), NO_CONTEXT)
    assert reply.request.procedure_version == 1 and reply.request.newer_version_published
    assert (await start(procedures)).procedure_version == 2


async def test_search_is_unaccented_per_language_ranked_and_filtered(
    procedures: ProceduresServicer,
) -> None:
    # "declaration" without its accent finds "Déclaration d'essai" in French.
    found = await search(procedures, query="declaration", language="fr")
    assert [p.code for p in found.procedures][:1] == ["test-form"]
    assert found.procedures[0].title == "Déclaration d'essai"
    # German keyword; English keyword stemmed ("trials" -> trial).
    assert "test-form" in codes(await search(procedures, query="Test", language="de"))
    assert "test-form" in codes(await search(procedures, query="trials", language="en"))
    # The title (weight A) ranks before a keyword (weight B).
    ranked = await search(procedures, query="declaration", language="en")
    assert ranked.procedures[-1].code == "test-company" and ranked.total == 4
    assert (await search(procedures, query="entreprise", language="fr")).total == 1

    companies = await search(procedures, audience=pb.AUDIENCE_COMPANY, language="en")
    assert [p.code for p in companies.procedures] == ["test-company"]
    listing = await search(procedures, language="en")
    paper = next(p for p in listing.procedures if p.code == "test-paper")
    assert paper.channel == pb.CHANNEL_PAPER and paper.paper_form_code == "test-paper-form"
    assert paper.login_required and paper.theme_label == "Housing"

    everything = await search(procedures, language="en", page_size=3)
    assert everything.total == len(DEFINITIONS) and everything.next_page_token
    rest = await search(
        procedures, language="en", page_size=3, page_token=everything.next_page_token
    )
    assert len(rest.procedures) == len(DEFINITIONS) - 3

    refused = await refusal(search(procedures, theme="nowhere"))
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_SEARCH",
        ("theme",),
    )


async def test_themes_count_their_procedures(procedures: ProceduresServicer) -> None:
    reply = await procedures.ListThemes(pb.ListThemesRequest(language="de"), NO_CONTEXT)
    assert [(t.code, t.label, t.procedure_count) for t in reply.themes] == [
        ("housing", "Housing (de)", len(DEFINITIONS)),
        ("family", "Family (de)", 0),
    ]


async def test_a_published_version_is_given_with_its_form_and_schema(
    procedures: ProceduresServicer, catalogue_dir: Path
) -> None:
    reply = await procedures.GetProcedure(
        pb.GetProcedureRequest(code="test-form", language="en"), NO_CONTEXT
    )
    form = reply.form
    assert form.procedure.version == 1
    loaded = load_catalogue(catalogue_dir).get("test-form")
    assert loaded is not None and form.content_hash == loaded.content_hash
    assert [step.id for step in form.steps] == ["about", "family", "request"]
    other = next(f for f in form.steps[2].fields if f.id == "other_reason")
    assert json.loads(other.visible_json) == {"eq": [{"field": "reason"}, "other"]}
    assert json.loads(form.steps[1].when_json) == {"field": "has_children"}
    assert form.statuses[0].code == "received"
    assert json.loads(form.json_schema)["type"] == "object"

    for code, version, reason in (
        ("test-form", 7, "VERSION_NOT_FOUND"),
        ("nothing-here", 0, "PROCEDURE_NOT_FOUND"),
    ):
        refused = await refusal(
            procedures.GetProcedure(pb.GetProcedureRequest(code=code, version=version), NO_CONTEXT)
        )
        assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, reason)


async def test_the_catalogue_rows_match_the_published_versions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Procedure))
    assert count == len(DEFINITIONS)

"""`python -m guichet_procedures publish [--dir DIR]`: validate the catalogue's definitions and
publish their new versions.

All or nothing: every file is checked (the definitions' loader), then every version is compared
with what is published. A version already published with other content (a changed file whose
version number was not raised) or a version lower than the one published is refused with a clear
message and nothing is written. Otherwise, in one transaction, each new version is stored
immutably with its content hash and the catalogue's row of each procedure (its current version,
what the search reads) is brought up to date. Publishing the same files again changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import REGCONFIG, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.i18n import Language
from guichet_procedures.definitions.loader import Catalogue, LoadedDefinition, load_catalogue
from guichet_procedures.definitions.model import DefinitionError
from guichet_procedures.requests.models import Procedure, ProcedureVersion
from guichet_procedures.settings import PublishSettings

SEARCH_COLUMNS = {"fr": "search_fr", "de": "search_de", "en": "search_en"}


class PublishRefused(Exception):
    """Versions that cannot be published; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class PublishReport:
    published: list[str] = field(default_factory=list)  # "code v<version>"
    unchanged: list[str] = field(default_factory=list)


def _weighted(language: str, title: str, keywords: str, summary: str) -> Any:
    """Title (A) > keywords (B) > summary (C), in the language's unaccented configuration."""
    configuration = cast(literal(f"guichet_{language}"), REGCONFIG)

    def part(text: str, weight: str) -> Any:
        # The weight is a "char" constant of ours (A, B or C), never a value from a file.
        return func.setweight(func.to_tsvector(configuration, text), literal_column(f"'{weight}'"))

    return part(title, "A").op("||")(part(keywords, "B")).op("||")(part(summary, "C"))


def _catalogue_row(loaded: LoadedDefinition, now: datetime) -> dict[str, Any]:
    definition = loaded.definition
    row: dict[str, Any] = {
        "code": definition.code,
        "current_version": definition.version,
        "administration": definition.administration,
        "theme": definition.theme,
        "audience": list(definition.audience),
        "login": definition.access.login,
        "level": definition.access.level,
        "channel": definition.channel,
        "paper_form_code": definition.paper_form,
        "appointment": definition.appointment.mode if definition.appointment else "none",
        "titles": definition.title.as_dict(),
        "summaries": definition.summary.as_dict(),
        "updated_at": now,
    }
    for language, column in SEARCH_COLUMNS.items():
        lang = Language(language)
        row[column] = _weighted(
            language,
            definition.title.text(lang),
            " ".join(definition.keywords.words(lang)),
            definition.summary.text(lang),
        )
    return row


async def publish(
    session: AsyncSession, catalogue: Catalogue, now: datetime | None = None
) -> PublishReport:
    """Publish `catalogue` in the caller's transaction; raises PublishRefused before writing."""
    moment = now or datetime.now(UTC)
    codes = [loaded.definition.code for loaded in catalogue.definitions]
    rows = await session.execute(
        select(ProcedureVersion.code, ProcedureVersion.version, ProcedureVersion.content_hash)
        .where(ProcedureVersion.code.in_(codes))
        .with_for_update()
    )
    published: dict[tuple[str, int], str] = {}
    latest: dict[str, int] = {}
    for code, version, content_hash in rows:
        published[(code, version)] = content_hash
        latest[code] = max(latest.get(code, 0), version)
    problems: list[str] = []
    report = PublishReport()
    new: list[LoadedDefinition] = []
    for loaded in catalogue.definitions:
        definition = loaded.definition
        name = f"{definition.code} v{definition.version}"
        stored = published.get((definition.code, definition.version))
        if stored is not None and stored != loaded.content_hash:
            problems.append(
                f"{loaded.source}: {name} is already published with other content "
                f"(sha256 {stored[:12]}…, the file has {loaded.content_hash[:12]}…): "
                "a published version never changes; raise `version` to publish the change"
            )
        elif definition.version < latest.get(definition.code, 0):
            problems.append(
                f"{loaded.source}: {name} is older than the published version "
                f"{latest[definition.code]}: a file's version can only go up"
            )
        elif stored is None:
            new.append(loaded)
        else:
            report.unchanged.append(name)
    if problems:
        raise PublishRefused(problems)
    for loaded in new:
        session.add(
            ProcedureVersion(
                code=loaded.definition.code,
                version=loaded.definition.version,
                content_hash=loaded.content_hash,
                definition=dict(loaded.document),
                published_at=moment,
            )
        )
        report.published.append(f"{loaded.definition.code} v{loaded.definition.version}")
    await session.flush()
    for loaded in catalogue.definitions:
        row = _catalogue_row(loaded, moment)
        statement = insert(Procedure).values(**row)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Procedure.code],
                set_={key: statement.excluded[key] for key in row if key != "code"},
            )
        )
    return report


async def publish_directory(
    sessions: async_sessionmaker[AsyncSession], directory: Path, now: datetime | None = None
) -> PublishReport:
    catalogue = load_catalogue(directory)
    async with transaction(sessions) as session:
        return await publish(session, catalogue, now)


async def _publish(database_url: str, directory: Path) -> PublishReport:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        return await publish_directory(session_factory(engine), directory)
    finally:
        await engine.dispose()


def publish_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m guichet_procedures publish",
        description="Validate the procedure definitions and publish their new versions.",
    )
    parser.add_argument("--dir", type=Path, default=None, help="the catalogue directory")
    arguments = parser.parse_args(argv)
    # From the environment (PROCEDURES_DATABASE_URL).
    settings = PublishSettings()
    directory = arguments.dir or settings.catalogue_dir
    try:
        report = asyncio.run(_publish(settings.database_url, directory))
    except DefinitionError as error:
        print(f"publish: the catalogue in {directory} has errors; nothing was published:")
        for problem in error.problems:
            print(f"  {problem}")
        return 1
    except PublishRefused as error:
        print("publish: refused; nothing was published:")
        for problem in error.problems:
            print(f"  {problem}")
        return 1
    for name in report.published:
        print(f"publish: {name} published")
    print(
        f"publish: {len(report.published)} new version(s), "
        f"{len(report.unchanged)} already published"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(publish_command(sys.argv[1:]))

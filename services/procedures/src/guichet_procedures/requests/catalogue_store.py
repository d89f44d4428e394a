"""Published definitions as the rules use them: parsed once per process and kept.

A published version never changes (its content hash guards it), so a cached definition is never
stale; the procedures table (the current version, the search rows) is always read afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_kit.i18n import Language
from guichet_procedures.definitions.model import Definition, LocalText, parse_definition
from guichet_procedures.requests import repository
from guichet_procedures.requests.models import Procedure, ProcedureVersion

# Theme key -> its label in fr/de/en, in the order of themes.yaml.
Themes = Mapping[str, LocalText]


class CatalogueStore:
    def __init__(self, themes: Themes) -> None:
        self.themes = themes
        self._definitions: dict[tuple[str, int], Definition] = {}

    def theme_label(self, theme: str, language: str) -> str:
        label = self.themes.get(theme)
        return label.text(Language(language)) if label is not None else theme

    async def definition(self, session: AsyncSession, code: str, version: int) -> Definition | None:
        """The published version, or None if it was never published."""
        key = (code, version)
        cached = self._definitions.get(key)
        if cached is not None:
            return cached
        row = await repository.find_version(session, code, version)
        if row is None:
            return None
        # No await between the check and the store: concurrent misses just parse twice.
        definition = parse_definition(row.definition)
        self._definitions[key] = definition
        return definition

    async def definitions(
        self, session: AsyncSession, keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], Definition]:
        """Several published versions (a catalogue page's): those not kept yet in one query."""
        missing = sorted({key for key in keys if key not in self._definitions})
        if missing:
            rows = await session.execute(
                select(
                    ProcedureVersion.code, ProcedureVersion.version, ProcedureVersion.definition
                ).where(tuple_(ProcedureVersion.code, ProcedureVersion.version).in_(missing))
            )
            for code, version, document in rows:
                self._definitions[(code, version)] = parse_definition(document)
        return {key: self._definitions[key] for key in keys if key in self._definitions}

    async def current(
        self, session: AsyncSession, code: str
    ) -> tuple[Procedure, Definition] | None:
        procedure = await repository.find_procedure(session, code)
        if procedure is None:
            return None
        definition = await self.definition(session, code, procedure.current_version)
        if definition is None:  # a catalogue row always names a published version
            return None
        return procedure, definition

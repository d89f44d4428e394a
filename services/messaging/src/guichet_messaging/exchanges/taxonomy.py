"""The taxonomy of exchanges (services/messaging/taxonomy.yaml): theme -> subject -> reason, each
reason with its competent administration and, when one matches, an online procedure to suggest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from guichet_kit.i18n import Language

TAXONOMY_FILE = Path(__file__).resolve().parents[3] / "taxonomy.yaml"
ADMINISTRATIONS = frozenset({"acd", "ccss", "snca", "cae", "commune", "aed", "justice", "cedies"})


@dataclass(frozen=True)
class Titled:
    key: str
    titles: dict[str, str]

    def title(self, language: Language) -> str:
        return self.titles[language.value]


@dataclass(frozen=True)
class Reason(Titled):
    administration: str
    procedure: str | None


@dataclass(frozen=True)
class Subject(Titled):
    reasons: dict[str, Reason]


@dataclass(frozen=True)
class Theme(Titled):
    subjects: dict[str, Subject]


class TaxonomyFileError(ValueError):
    """The file is not a valid taxonomy: the service refuses to start on it."""


def _titles(node: dict[str, object], where: str) -> dict[str, str]:
    titles = node.get("title")
    if not isinstance(titles, dict) or {lang.value for lang in Language} - set(titles):
        raise TaxonomyFileError(f"{where}: a title in fr, de and en is needed")
    return {str(k): str(v) for k, v in titles.items()}


@dataclass(frozen=True)
class Taxonomy:
    themes: dict[str, Theme]

    @classmethod
    def load(cls, path: Path = TAXONOMY_FILE) -> Taxonomy:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        themes: dict[str, Theme] = {}
        for theme_key, theme in raw.items():
            subjects: dict[str, Subject] = {}
            for subject_key, subject in theme["subjects"].items():
                reasons: dict[str, Reason] = {}
                for reason_key, reason in subject["reasons"].items():
                    where = f"{theme_key}/{subject_key}/{reason_key}"
                    administration = reason.get("administration")
                    if administration not in ADMINISTRATIONS:
                        raise TaxonomyFileError(f"{where}: unknown administration {administration}")
                    reasons[reason_key] = Reason(
                        reason_key, _titles(reason, where), administration, reason.get("procedure")
                    )
                subjects[subject_key] = Subject(
                    subject_key, _titles(subject, f"{theme_key}/{subject_key}"), reasons
                )
            themes[theme_key] = Theme(theme_key, _titles(theme, theme_key), subjects)
        return cls(themes)

    def reason(self, theme: str, subject: str, reason: str) -> Reason | None:
        """The reason at this path, or None when any step of it does not exist."""
        found = self.themes.get(theme)
        step = found.subjects.get(subject) if found else None
        return step.reasons.get(reason) if step else None

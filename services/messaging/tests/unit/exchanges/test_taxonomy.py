"""The taxonomy file of the repository: every reason has its titles and a known administration,
and a suggested online procedure exists in the procedures catalogue, of the same administration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from guichet_messaging.exchanges.taxonomy import TAXONOMY_FILE, Taxonomy, TaxonomyFileError

CATALOGUE = Path(__file__).resolve().parents[4] / "procedures" / "catalogue"


def test_every_suggested_procedure_exists_and_belongs_to_the_reasons_administration() -> None:
    taxonomy = Taxonomy.load()
    suggested = [
        reason
        for theme in taxonomy.themes.values()
        for subject in theme.subjects.values()
        for reason in subject.reasons.values()
        if reason.procedure
    ]
    assert suggested
    for reason in suggested:
        procedure = yaml.safe_load((CATALOGUE / f"{reason.procedure}.yaml").read_text())
        assert procedure["administration"] == reason.administration, reason.key


def test_a_path_that_does_not_exist_finds_no_reason() -> None:
    taxonomy = Taxonomy.load()
    assert taxonomy.reason("taxes", "income-tax", "tax-return") is not None
    assert taxonomy.reason("taxes", "vat", "tax-return") is None
    assert taxonomy.reason("nothing", "income-tax", "tax-return") is None


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda r: r.update(administration="mars"), "unknown administration"),
        (lambda r: r["title"].pop("de"), "fr, de and en"),
    ],
)
def test_a_broken_file_is_refused(tmp_path: Path, edit: object, problem: str) -> None:
    raw = yaml.safe_load(TAXONOMY_FILE.read_text())
    edit(raw["taxes"]["subjects"]["income-tax"]["reasons"]["tax-return"])  # type: ignore[operator]
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text(yaml.safe_dump(raw))
    with pytest.raises(TaxonomyFileError, match=problem):
        Taxonomy.load(broken)

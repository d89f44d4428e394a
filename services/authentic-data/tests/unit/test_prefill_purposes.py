"""Procedures' prefill against this registry (F24): services never import each other, so
procedures keeps its own list of the register fields a form may take and names, in each catalogue
file, the fields it prefills. Both are checked here against the field catalogue and the purposes
`procedures:prefill:<code>`, so a field renamed on either side fails a test, not a citizen."""

from __future__ import annotations

from pathlib import Path

import yaml

from guichet_authentic_data.access.purposes import PURPOSES
from guichet_authentic_data.registers.fields import FIELDS
from guichet_procedures.definitions.sources import REGISTER_FIELDS

CATALOGUE = Path(__file__).resolve().parents[3] / "procedures" / "catalogue"
PREFIX = "procedures:prefill:"


def _register_sources(raw: object) -> set[str]:
    """Every `source: {register: …}` of a definition file, wherever it is."""
    found: set[str] = set()
    if isinstance(raw, dict):
        source = raw.get("source")
        if isinstance(source, dict) and "register" in source:
            found.add(source["register"])
        for value in raw.values():
            found |= _register_sources(value)
    elif isinstance(raw, list):
        for item in raw:
            found |= _register_sources(item)
    return found


def _catalogue() -> dict[str, set[str]]:
    """Procedure code -> the register fields its file names (files naming none left out)."""
    sources = {}
    for path in sorted(CATALOGUE.glob("*.yaml")):
        if path.name == "themes.yaml":
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if names := _register_sources(raw):
            sources[raw["code"]] = names
    return sources


def test_every_register_field_procedures_knows_exists_here_with_the_same_kind() -> None:
    for name, (kind, _types) in REGISTER_FIELDS.items():
        assert name in FIELDS, name
        assert FIELDS[name].kind == kind, name
        assert FIELDS[name].subject_kind == "person", name


def test_each_prefilling_procedure_has_its_purpose_granting_exactly_the_fields_it_names() -> None:
    catalogue = _catalogue()
    assert catalogue, "the catalogue prefills something from the registers"
    purposes = {
        code.removeprefix(PREFIX): purpose
        for code, purpose in PURPOSES.items()
        if code.startswith(PREFIX)
    }
    assert set(purposes) == set(catalogue)
    for code, names in catalogue.items():
        purpose = purposes[code]
        assert set(purpose.fields) == names, code
        assert purpose.services == frozenset({"procedures"}), code
        assert not purpose.self_service and not purpose.administrations, code

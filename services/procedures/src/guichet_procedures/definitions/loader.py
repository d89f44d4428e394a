"""Reading the catalogue directory: `themes.yaml` and one `<code>.yaml` per procedure.

Each file is checked completely; all problems of all files are raised together. A version's
content hash is the SHA-256 of the canonical JSON of its mapping (keys sorted, no spaces, UTF-8),
so reformatting a file or reordering its keys does not change it; any change of content does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from guichet_procedures.definitions.model import (
    Definition,
    DefinitionError,
    LocalText,
    Problems,
    local_text,
    parse_definition,
    plain_json,
)

THEMES_FILE = "themes.yaml"
MAX_FILE_BYTES = 1024 * 1024
THEME_KEY = re.compile(r"[a-z][a-z0-9-]{1,39}")


@dataclass(frozen=True)
class LoadedDefinition:
    definition: Definition
    # The file's mapping as JSON: what is published and read back (`parse_definition(document)`).
    document: Mapping[str, Any]
    content_hash: str
    source: str  # the file it came from


@dataclass(frozen=True)
class Catalogue:
    themes: Mapping[str, LocalText]
    definitions: tuple[LoadedDefinition, ...]

    def get(self, code: str) -> LoadedDefinition | None:
        return next((d for d in self.definitions if d.definition.code == code), None)


def canonical_json(document: Any) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def content_hash(document: Any) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def load_definition(
    text: str, *, themes: Collection[str] | None = None, source: str = "", code: str | None = None
) -> LoadedDefinition:
    """One definition from the text of its YAML (or JSON) file; `code`: the code it must have
    (its file name). Raises `DefinitionError`."""
    problems = Problems(f"{source}: " if source else "")
    document = _document(text, problems)
    if document is None:
        problems.raise_if_any()
    if code is not None and isinstance(document, Mapping) and document.get("code") != code:
        problems.add("code", f"must be the file's name, {code!r}")
    try:
        definition = parse_definition(document, themes=themes)
    except DefinitionError as error:
        problems.items.extend(f"{problems.prefix}{item}" for item in error.problems)
    problems.raise_if_any()
    return LoadedDefinition(definition, document, content_hash(document), source)


def load_themes(text: str, source: str = THEMES_FILE) -> dict[str, LocalText]:
    """The theme key → label mapping of `themes.yaml`. Raises `DefinitionError`."""
    problems = Problems(f"{source}: ")
    themes = _themes(text, problems)
    problems.raise_if_any()
    return themes


def _themes(text: str, problems: Problems) -> dict[str, LocalText]:
    document = _document(text, problems)
    themes: dict[str, LocalText] = {}
    if isinstance(document, Mapping):
        for key, value in document.items():
            if not THEME_KEY.fullmatch(key):
                problems.add(key, f"a theme key matches {THEME_KEY.pattern}")
            label = local_text(value, key, problems)
            if label is not None:
                themes[key] = label
    return themes


def load_catalogue(directory: Path) -> Catalogue:
    """Every definition of `directory` with its themes; `DefinitionError` lists every problem of
    every file (and codes used twice)."""
    theme_problems = Problems(f"{THEMES_FILE}: ")
    themes: dict[str, LocalText] = {}
    try:
        # The good keys still check the definitions when a theme is wrong.
        themes = _themes(_read(directory / THEMES_FILE), theme_problems)
    except DefinitionError as error:
        theme_problems.items.extend(error.problems)
    except (OSError, UnicodeDecodeError) as error:
        theme_problems.add("", f"cannot be read as UTF-8 text ({error})")
    problems = theme_problems.items
    loaded: dict[str, LoadedDefinition] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == THEMES_FILE:
            continue
        try:
            found = load_definition(_read(path), themes=themes, source=path.name, code=path.stem)
        except DefinitionError as error:
            problems.extend(error.problems)
            continue
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path.name}: cannot be read as UTF-8 text ({error})")
            continue
        code = found.definition.code
        if code in loaded:
            problems.append(f"{path.name}: code {code!r} is already used by {loaded[code].source}")
            continue
        loaded[code] = found
    if problems:
        raise DefinitionError(problems)
    return Catalogue(themes, tuple(loaded.values()))


def _read(path: Path) -> str:
    with path.open("rb") as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise DefinitionError([f"{path.name}: larger than {MAX_FILE_BYTES} bytes"])
    return data.decode("utf-8")


def _document(text: str, problems: Problems) -> Any:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problems.add(where, f"not valid YAML ({getattr(error, 'problem', None) or error})")
        return None
    if not isinstance(raw, Mapping):
        problems.add("", "expected a mapping of keys to values")
        return None
    return plain_json(raw, problems)

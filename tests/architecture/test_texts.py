"""Every text a person reads exists in French, German and English, and every refusal reason has
a title: the catalogues are checked against the code, so a new text or reason cannot ship half
done."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from guichet_kit.i18n import Language
from guichet_kit.reasons import TITLES, title

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(
    [
        ROOT / "libs/kit/src/guichet_kit",
        ROOT / "gateway/src/guichet_gateway",
        *(ROOT / "services").glob("*/src/guichet_*"),
    ]
)
KEYWORDS = {"_": None, "N_": None}
# As babel.cfg: Python sources, and the web client's Jinja2 templates (`_()` and `{% trans %}`).
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS_MAP = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
REASON = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
# Calls whose first argument is a refusal reason.
REASON_CALLS = {
    "DomainError",
    "InvalidInput",
    "NotFound",
    "Forbidden",
    "Conflict",
    "AlreadyExists",
    "Unauthenticated",
    "Exhausted",
    "Unavailable",
    "ServiceError",
    "Problem",
    "invalid_argument",
    "not_found",
    "permission_denied",
    "failed_precondition",
    "unauthenticated",
}


def texts_of(package: Path) -> set[str]:
    found = extract_from_dir(
        str(package), method_map=METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def translations(package: Path, language: Language) -> dict[str, str]:
    po = package / "locale" / language.value / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return {}
    with po.open("rb") as stream:
        catalog = read_po(stream, locale=language.value)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}  # type: ignore[misc]


PERCENT_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def placeholders(text: str) -> set[str]:
    # `{name}` in Python texts, `%(name)s` in templates.
    named = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return named | set(PERCENT_PLACEHOLDER.findall(text))


def test_the_extraction_reads_the_web_templates() -> None:
    # Guards the extraction itself: a page's text must be checked like any other.
    assert "Skip to main content" in texts_of(ROOT / "gateway/src/guichet_gateway")


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("language", [Language.FR, Language.DE], ids=str)
def test_every_text_of_a_package_is_translated(package: Path, language: Language) -> None:
    texts = texts_of(package)
    known = translations(package, language)
    missing = sorted(text for text in texts if text not in known)
    assert not missing, f"{package.name}: no {language} translation for {missing[:10]}"
    wrong = sorted(t for t in texts if placeholders(known[t]) != placeholders(t))
    assert not wrong, f"{package.name}: {language} placeholders differ for {wrong[:10]}"


def reasons_in(path: Path) -> set[str]:
    """Reasons a module raises: first arguments of refusal constructors, `reason=` keywords."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        candidates = [k.value for k in node.keywords if k.arg == "reason"]
        if name in ("Problem", "ServiceError"):  # (status or code, reason, ...)
            candidates.extend(node.args[1:2])
        elif name in REASON_CALLS or (name and name[0].isupper() and name.endswith("Error")):
            candidates.extend(node.args[:1])
        if name == "super" or name == "__init__":
            candidates.extend(node.args[:1])
        for candidate in candidates:
            if (
                isinstance(candidate, ast.Constant)
                and isinstance(candidate.value, str)
                and REASON.match(candidate.value)
            ):
                found.add(candidate.value)
    return found


def raised_reasons() -> dict[str, str]:
    where: dict[str, str] = {}
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            for reason in reasons_in(path):
                where.setdefault(reason, str(path.relative_to(ROOT)))
    # __init__ of DomainError subclasses passes the reason to super().__init__(...)
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "__init__"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and REASON.match(node.args[0].value)
                ):
                    where.setdefault(node.args[0].value, str(path.relative_to(ROOT)))
    return where


def test_the_scan_finds_the_reasons_it_should() -> None:
    # Guards the scan itself: these are raised in three different ways today.
    reasons = raised_reasons()
    assert {
        "TRACKING_NOT_FOUND",
        "NOT_COMPETENT",
        "INVALID_TRACKING_NUMBER",
        "UPSTREAM_FAILED",
        "RPC_NOT_DECLARED",
    } <= set(reasons)


def test_every_raised_reason_has_a_title() -> None:
    missing = {r: where for r, where in raised_reasons().items() if r not in TITLES}
    assert not missing, f"reasons without a title in guichet_kit/reasons.py: {missing}"


@pytest.mark.parametrize("language", list(Language), ids=str)
def test_every_title_exists_in_each_language(language: Language) -> None:
    untranslated = [
        reason
        for reason in TITLES
        if language != Language.EN and title(reason, language) == TITLES[reason]
    ]
    assert not untranslated, f"titles not translated into {language}: {untranslated}"

"""The three languages of every user-facing text, and choosing one from a request."""

from __future__ import annotations

from typing import Literal

Language = Literal["fr", "de", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "de", "en")
DEFAULT_LANGUAGE: Language = "fr"


def pick_language(accept_language: str | None, explicit: str | None = None) -> Language:
    """An explicit choice wins, then the best-weighted supported tag of Accept-Language."""
    if explicit in LANGUAGES:
        return explicit  # type: ignore[return-value,unused-ignore]
    best: tuple[float, Language] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.split("-")[0].strip().lower()
        if primary not in LANGUAGES:
            continue
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        # Earlier tags win ties, as browsers list them in order of preference.
        key = (weight - position * 1e-6, primary)
        if best is None or key[0] > best[0]:
            best = (key[0], primary)  # type: ignore[assignment,unused-ignore]
    return best[1] if best else DEFAULT_LANGUAGE

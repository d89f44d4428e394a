"""File names as people send them: refused when they could mislead or escape, else made fit to
show. A name is only ever shown (and put in a download's Content-Disposition); it is never a
storage key, so refusing is about what a person or a program reading it later could be fooled by.
"""

from __future__ import annotations

import unicodedata

from guichet_kit.domain import FieldError, InvalidInput
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_wallet")

MAX_NAME_LENGTH = 255
# Characters that change the direction text is shown in: "invoice\u202efdp.exe" reads as
# "invoiceexe.pdf". Explicit embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Control characters (C0, DEL, C1), line and paragraph separators, lone surrogates.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def _refuse(message: Text) -> InvalidInput:
    return InvalidInput(
        "INVALID_FILE_NAME", message, [FieldError("file_name", "INVALID_FILE_NAME", message)]
    )


def display_name(name: str) -> str:
    """The name to show for a file called `name` (NFC, trimmed), or InvalidInput
    INVALID_FILE_NAME saying what is wrong with it."""
    for character in name:
        if character in BIDI_CONTROLS:
            raise _refuse(
                _("The file name contains a character that changes the direction of the text")
            )
        if unicodedata.category(character) in FORBIDDEN_CATEGORIES:
            raise _refuse(_("The file name contains a control character"))
    shown = unicodedata.normalize("NFC", name).strip()
    if not shown:
        raise _refuse(_("The file name is empty"))
    if len(shown) > MAX_NAME_LENGTH:
        raise _refuse(
            _("The file name is too long: at most {maximum} characters", maximum=MAX_NAME_LENGTH)
        )
    if "/" in shown or "\\" in shown or shown in (".", ".."):
        raise _refuse(_("The file name must be a name alone, without a folder (/, \\ or ..)"))
    return shown

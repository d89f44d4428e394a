"""What a file is, found from its bytes: the type libmagic reads in its first bytes, checked
against what the client declared and what the use allows, and ZIP records hidden inside a file
that is not a ZIP (a PDF/ZIP polyglot opens as a harmless document in one program and as an
archive in another).
"""

from __future__ import annotations

import struct

import magic

from guichet_kit.domain import FieldError, InvalidInput
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_wallet")

# libmagic reads no further than this for the types we accept (OOXML needs the first entries'
# names); the same answer as on the whole file.
HEAD_SIZE = 64 * 1024

# Names clients use for the types libmagic reports under another name.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
}
# Types that are a ZIP archive underneath: their entries are checked for bombs and traversal.
ZIP_BASED = frozenset(
    {
        "application/zip",
        "application/epub+zip",
        "application/java-archive",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.oasis.opendocument.graphics",
    }
)
# Archives whose content cannot be checked without unpacking all of it: never accepted.
UNCHECKABLE_ARCHIVES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/x-lzma",
        "application/x-compress",
        "application/x-7z-compressed",
        "application/x-rar",
        "application/vnd.rar",
        "application/x-rar-compressed",
        "application/vnd.ms-cab-compressed",
        "application/x-iso9660-image",
    }
)


def normalise_type(content_type: str) -> str:
    """A MIME type as compared: lower case, without parameters, under libmagic's name."""
    bare = content_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


def sniff(head: bytes) -> str:
    """The MIME type libmagic finds in the first bytes of a file."""
    return str(magic.from_buffer(head, mime=True))


def is_zip_based(content_type: str) -> bool:
    return content_type in ZIP_BASED


def _type_error(reason: str, message: Text) -> InvalidInput:
    return InvalidInput(reason, message, [FieldError("content_type", reason, message)])


def check_declared_type(declared: str, allowed: frozenset[str]) -> None:
    """Before any byte: the declared type must be one the use accepts."""
    if normalise_type(declared) not in {normalise_type(t) for t in allowed}:
        raise _type_error(
            "FILE_TYPE_NOT_ALLOWED",
            _(
                "Files of type {declared} are not accepted here (accepted: {accepted})",
                declared=declared or "?",
                accepted=", ".join(sorted(allowed)),
            ),
        )


def check_found_type(found: str, declared: str, allowed: frozenset[str]) -> None:
    """The type found in the bytes must be the declared one, and one the use accepts."""
    if found != normalise_type(declared):
        raise _type_error(
            "FILE_TYPE_MISMATCH",
            _(
                "The file's content is not of the declared type {declared} (it is {found})",
                declared=declared,
                found=found,
            ),
        )
    if found in UNCHECKABLE_ARCHIVES:
        raise _type_error(
            "FILE_TYPE_NOT_ALLOWED",
            _("Archives of type {found} cannot be checked and are not accepted", found=found),
        )
    if found not in {normalise_type(t) for t in allowed}:
        raise _type_error(
            "FILE_TYPE_NOT_ALLOWED",
            _(
                "Files of type {declared} are not accepted here (accepted: {accepted})",
                declared=found,
                accepted=", ".join(sorted(allowed)),
            ),
        )


# ZIP records (APPNOTE 4.3): a signature, then fields a reader relies on. A signature alone turns
# up by chance in compressed data (4 bytes: about once in 4 GiB, per signature); requiring the
# fields to make sense as well rules chance out without missing a real archive.
LOCAL_FILE = b"PK\x03\x04"
CENTRAL_FILE = b"PK\x01\x02"
END_OF_CENTRAL = b"PK\x05\x06"
SIGNATURES = (LOCAL_FILE, CENTRAL_FILE, END_OF_CENTRAL)
LONGEST_RECORD = 46
# Stored, shrunk, imploded, deflated, deflate64, bzip2, lzma, terse, zstd, mp3, xz, jpeg,
# wavpack, ppmd, AES.
KNOWN_METHODS = frozenset({0, 1, 6, 8, 9, 12, 14, 18, 93, 94, 95, 96, 97, 98, 99})
MAX_ENTRY_NAME = 4096


def is_zip_record(record: bytes) -> bool:
    """Whether `record` (starting with a ZIP signature) holds a plausible ZIP record."""
    signature = record[:4]
    if signature == LOCAL_FILE and len(record) >= 30:
        version, _flags, method = struct.unpack_from("<HHH", record, 4)
        (name_length,) = struct.unpack_from("<H", record, 26)
    elif signature == CENTRAL_FILE and len(record) >= 46:
        version, _flags, method = struct.unpack_from("<HHH", record, 6)
        (name_length,) = struct.unpack_from("<H", record, 28)
    elif signature == END_OF_CENTRAL and len(record) >= 22:
        disk, central_disk, on_disk, total = struct.unpack_from("<HHHH", record, 4)
        return disk == central_disk and on_disk == total and disk in (0, 0xFFFF)
    else:
        return False
    return version < 100 and method in KNOWN_METHODS and 0 < name_length <= MAX_ENTRY_NAME


class ZipRecordFinder:
    """Looks for a ZIP record anywhere in a stream fed chunk by chunk (a record may straddle two
    chunks); keeps only the last few bytes between chunks."""

    def __init__(self) -> None:
        self._pending = b""
        self.found = False

    def feed(self, chunk: bytes) -> None:
        if self.found or not chunk:
            return
        window = self._pending + chunk
        # Each start position is examined once, when its whole record is in the window.
        last_start = len(window) - LONGEST_RECORD
        self.found = self._search(window, last_start)
        self._pending = window[max(last_start + 1, 0) :]

    def finish(self) -> bool:
        """Examines the last bytes (a record ending the file); True when a record was found."""
        if not self.found:
            self.found = self._search(self._pending, len(self._pending) - 4)
            self._pending = b""
        return self.found

    @staticmethod
    def _search(window: bytes, last_start: int) -> bool:
        if last_start < 0:
            return False
        for signature in SIGNATURES:
            position = window.find(signature, 0, last_start + 4)
            while 0 <= position <= last_start:
                if is_zip_record(window[position : position + LONGEST_RECORD]):
                    return True
                position = window.find(signature, position + 1, last_start + 4)
        return False


def polyglot_error() -> InvalidInput:
    message = _("The file hides an archive inside it (it is also a ZIP file): it is refused")
    return _type_error("FILE_POLYGLOT", message)

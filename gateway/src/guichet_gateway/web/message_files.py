"""The files of a new message on the web (F61): the text step's form is multipart; a file chosen
there goes through messaging's UploadMessageFile (the wallet's file pipeline: scanned, typed from
its bytes) when the person continues, and the files taken ride along the summary in hidden
fields until the message is sent with their ids. Messaging checks again at sending that each id
is one of the person's own uploads not sent yet, so a hidden field changed by hand sends
nothing of anyone else's.

Without JavaScript as with: one file per "Continue", up to three; a refused file is said next to
the file input, and what was typed stays.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from starlette.datastructures import FormData, UploadFile

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet_gateway.deps import ServiceStubs
from guichet_gateway.uploads import stream_into
from guichet_gateway.web.forms import FormErrors
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import Catalog, Language, render
from guichet_kit.problems import Problem

_ = Catalog("guichet_gateway")

FIELD = "file"
# The input's id: the service's field, so that its refusals land next to it.
INPUT = "attachment_ids"
CARRIED = "attached"
MAX_FILES = 3
CHUNK = 256 * 1024
# The refusals that are about the file sent (its type, content, size, a virus).
_ABOUT_THE_FILE = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@dataclass(frozen=True)
class AttachedFile:
    """A file taken for the message, as the page shows and carries it."""

    id: str
    size: int
    file_name: str

    @property
    def carried(self) -> str:
        return f"{self.id}:{self.size}:{self.file_name}"

    @classmethod
    def of_carried(cls, text: str) -> AttachedFile | None:
        """A carried value read back; anything else is dropped (the service checks ids)."""
        parts = text.split(":", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        try:
            file_id = str(uuid.UUID(parts[0]))
        except ValueError:
            return None
        return cls(file_id, int(parts[1]), parts[2][:255])


def carried_files(form: FormData) -> list[AttachedFile]:
    found = (AttachedFile.of_carried(v) for v in form.getlist(CARRIED) if isinstance(v, str))
    return [f for f in found if f is not None][:MAX_FILES]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def take_files(
    form: FormData, calls: ServiceStubs, errors: FormErrors, language: Language
) -> list[AttachedFile]:
    """The files carried so far, and the one chosen now once the pipeline took it; a refusal
    goes next to the file input."""
    files = carried_files(form)
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return files
    if len(files) >= MAX_FILES:
        errors.add(INPUT, _("Attach at most {n} files.", n=MAX_FILES).render(language))
        return files
    header = pb.UploadMessageFileHeader(
        file_name=upload.filename,
        declared_content_type=upload.content_type or "application/octet-stream",
        declared_size=upload.size or 0,
    )
    try:
        reply: pb.UploadMessageFileResponse = await stream_into(
            calls.exchanges_uploads.UploadMessageFile.future,
            pb.UploadMessageFileRequest(header=header),
            _chunks(upload),
            lambda chunk: pb.UploadMessageFileRequest(chunk=chunk),
        )
    except Problem as refused:
        if refused.status != 413:
            raise
        errors.add(INPUT, _("The file is too large.").render(language))
        return files
    except grpc.aio.AioRpcError as failed:
        failure = read_rpc_failure(failed)
        if failure.code not in _ABOUT_THE_FILE:
            raise
        details = [render(e.message, language) for e in failure.field_errors]
        said = details[0] if details else failure.message
        shown = _("{file}: {message}", file=upload.filename[:100], message=said)
        errors.add(INPUT, shown.render(language))
        return files
    taken = reply.attachment
    return [*files, AttachedFile(taken.id, taken.size, taken.file_name)]

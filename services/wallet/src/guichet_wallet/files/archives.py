"""ZIP archives (and the ZIP-based office formats) checked before they are accepted: no entry may
name a path outside its folder, and unpacking may not blow up (too many entries, too much data,
too high a ratio, archives nested too deep).

The central directory is read with ranged reads from wherever the file is (the quarantine
bucket), through a window of one MiB; every entry is then really unpacked, counted and thrown
away, so an entry lying about its size is caught too. A nested archive is spooled (memory, then
disk) within the same size budget and checked the same way.
"""

from __future__ import annotations

import asyncio
import re
import struct
import tempfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Protocol

from guichet_kit.domain import InvalidInput
from guichet_kit.i18n import Catalog, Text
from guichet_wallet.files.content import CENTRAL_FILE, END_OF_CENTRAL, LOCAL_FILE

_ = Catalog("guichet_wallet")

MiB = 1024 * 1024
STEP = MiB  # bytes read, or unpacked, at a time
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_END = b"PK\x06\x06"
STORED, DEFLATED = 0, 8
ENCRYPTED_FLAGS = 0x0001 | 0x0040
UTF8_FLAG = 0x0800
DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 10_000  # counted across nested archives
    max_total_size: int = 200_000_000  # unpacked, across nested archives
    max_ratio: int = 100  # unpacked / packed, per entry
    ratio_floor: int = MiB  # entries unpacking to less are not held to the ratio
    max_depth: int = 2  # archives inside the file's archive, inside those…


class RandomAccess(Protocol):
    """Bytes that can be read at any offset: an object in storage, a spooled nested archive."""

    @property
    def size(self) -> int: ...

    async def read_at(self, offset: int, length: int) -> bytes: ...


class Damaged(Exception):
    """The archive's structure is not what its records say."""


def damaged() -> InvalidInput:
    return InvalidInput("ARCHIVE_INVALID", _("The archive is damaged and cannot be checked"))


def _bomb(message: Text) -> InvalidInput:
    return InvalidInput("ARCHIVE_BOMB", message)


def _uncheckable(message: Text) -> InvalidInput:
    return InvalidInput("FILE_TYPE_NOT_ALLOWED", message)


class Window:
    """Serves small reads from one cached window, so walking records costs one read per MiB."""

    def __init__(self, source: RandomAccess, window: int = STEP) -> None:
        self._source = source
        self._window = window
        self._start = 0
        self._data = b""

    @property
    def size(self) -> int:
        return self._source.size

    async def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self._source.size:
            raise Damaged(f"read of {length} at {offset} outside {self._source.size} bytes")
        if length > self._window:
            return await self._source.read_at(offset, length)
        start = offset - self._start
        if start < 0 or start + length > len(self._data):
            self._start = offset
            self._data = await self._source.read_at(
                offset, min(self._window, self._source.size - offset)
            )
            start = 0
        return self._data[start : start + length]


class Spool:
    """A nested archive unpacked into a temporary file (kept in memory while small)."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=STEP)  # noqa: SIM115
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self._size += len(data)

    async def read_at(self, offset: int, length: int) -> bytes:
        self.file.seek(offset)
        return self.file.read(length)

    def close(self) -> None:
        self.file.close()


@dataclass(frozen=True)
class Entry:
    name: str
    flags: int
    method: int
    packed: int
    unpacked: int
    local_offset: int


@dataclass
class Budget:
    """What the archive and its nested archives used so far."""

    entries: int = 0
    declared: int = 0
    unpacked: int = 0


async def check_zip(source: RandomAccess, limits: ArchiveLimits) -> None:
    """Raises InvalidInput (ARCHIVE_BOMB, ARCHIVE_PATH_TRAVERSAL, ARCHIVE_INVALID,
    FILE_TYPE_NOT_ALLOWED for what cannot be checked) unless the archive is safe to unpack."""
    try:
        await _check(Window(source), limits, Budget(), depth=0)
    except Damaged as error:
        raise damaged() from error


async def _check(source: RandomAccess, limits: ArchiveLimits, budget: Budget, depth: int) -> None:
    entries = await _central_directory(source, limits, budget)
    for entry in sorted(entries, key=lambda e: e.local_offset):
        await _unpack(source, entry, limits, budget, depth)


async def _central_directory(
    source: RandomAccess, limits: ArchiveLimits, budget: Budget
) -> list[Entry]:
    tail_length = min(source.size, 22 + 0xFFFF)
    tail_offset = source.size - tail_length
    tail = await source.read_at(tail_offset, tail_length)
    position = tail.rfind(END_OF_CENTRAL, 0, len(tail) - 18)
    if position < 0:
        raise Damaged("no end of central directory")
    disk, central_disk, _on_disk, count, directory_size, directory_offset = struct.unpack_from(
        "<HHHHII", tail, position + 4
    )
    if disk != central_disk:
        raise Damaged("archive split across disks")
    if 0xFFFF in (count, disk) or 0xFFFFFFFF in (directory_size, directory_offset):
        locator = position - 20
        if locator < 0 or tail[locator : locator + 4] != ZIP64_LOCATOR:
            raise Damaged("ZIP64 sizes without a ZIP64 locator")
        (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        record = await source.read_at(record_offset, 56)
        if record[:4] != ZIP64_END:
            raise Damaged("no ZIP64 end of central directory")
        count, directory_size, directory_offset = struct.unpack_from("<QQQ", record, 32)
    end_offset = tail_offset + position
    if budget.entries + count > limits.max_entries:
        raise _bomb(
            _(
                "The archive holds too many entries (at most {maximum})",
                maximum=limits.max_entries,
            )
        )
    budget.entries += count
    if directory_offset + directory_size > end_offset:
        raise Damaged("central directory beyond its end record")
    entries: list[Entry] = []
    offset = directory_offset
    for _index in range(count):
        header = await source.read_at(offset, 46)
        if header[:4] != CENTRAL_FILE:
            raise Damaged(f"no central directory record at {offset}")
        (flags, method) = struct.unpack_from("<HH", header, 8)
        packed, unpacked = struct.unpack_from("<II", header, 20)
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", header, 28)
        (local_offset,) = struct.unpack_from("<I", header, 42)
        raw_name = await source.read_at(offset + 46, name_length)
        extra = await source.read_at(offset + 46 + name_length, extra_length)
        offset += 46 + name_length + extra_length + comment_length
        unpacked, packed, local_offset = _zip64_values(extra, unpacked, packed, local_offset)
        name = raw_name.decode("utf-8" if flags & UTF8_FLAG else "cp437", errors="replace")
        entry = Entry(name, flags, method, packed, unpacked, local_offset)
        _check_entry(entry, limits, budget)
        entries.append(entry)
    return entries


def _zip64_values(extra: bytes, unpacked: int, packed: int, offset: int) -> tuple[int, int, int]:
    """The sizes and offset an entry keeps in its ZIP64 extra field when they overflow 32 bits."""
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, position)
        data = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if tag != 0x0001:
            continue
        values = [v for (v,) in struct.iter_unpack("<Q", data[: len(data) // 8 * 8])]
        if unpacked == 0xFFFFFFFF and values:
            unpacked = values.pop(0)
        if packed == 0xFFFFFFFF and values:
            packed = values.pop(0)
        if offset == 0xFFFFFFFF and values:
            offset = values.pop(0)
    return unpacked, packed, offset


def _shown(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name[:100])


def _check_entry(entry: Entry, limits: ArchiveLimits, budget: Budget) -> None:
    name = entry.name
    parts = name.split("/")
    if "\\" in name or "\0" in name or name.startswith("/") or DRIVE.match(name) or ".." in parts:
        raise InvalidInput(
            "ARCHIVE_PATH_TRAVERSAL",
            _(
                "An entry of the archive has a name that leads out of its folder: {name}",
                name=_shown(name),
            ),
        )
    if entry.flags & ENCRYPTED_FLAGS:
        raise _uncheckable(_("The archive holds encrypted entries, which cannot be checked"))
    if entry.method not in (STORED, DEFLATED):
        raise _uncheckable(_("The archive uses a compression method that cannot be checked"))
    budget.declared += entry.unpacked
    if budget.declared > limits.max_total_size:
        raise _too_big(limits)
    _check_ratio(entry.unpacked, entry.packed, limits)


def _too_big(limits: ArchiveLimits) -> InvalidInput:
    return _bomb(
        _(
            "The archive unpacks to more than {maximum} MB",
            maximum=limits.max_total_size // 1_000_000,
        )
    )


def _check_ratio(unpacked: int, packed: int, limits: ArchiveLimits) -> None:
    if unpacked > limits.ratio_floor and unpacked > max(packed, 1) * limits.max_ratio:
        raise _bomb(
            _(
                "An entry of the archive is compressed more than {ratio} to 1",
                ratio=limits.max_ratio,
            )
        )


async def _packed_chunks(source: RandomAccess, entry: Entry) -> AsyncIterator[bytes]:
    local = await source.read_at(entry.local_offset, 30)
    if local[:4] != LOCAL_FILE:
        raise Damaged(f"no local file record at {entry.local_offset}")
    name_length, extra_length = struct.unpack_from("<HH", local, 26)
    offset = entry.local_offset + 30 + name_length + extra_length
    end = offset + entry.packed
    while offset < end:
        length = min(STEP, end - offset)
        yield await source.read_at(offset, length)
        offset += length


async def _unpacked_chunks(source: RandomAccess, entry: Entry) -> AsyncIterator[bytes]:
    if entry.method == STORED:
        async for chunk in _packed_chunks(source, entry):
            yield chunk
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    async for chunk in _packed_chunks(source, entry):
        pending = chunk
        # Bounded steps: a bomb's megabyte of input never becomes a gigabyte in memory.
        while pending:
            try:
                out = await asyncio.to_thread(inflater.decompress, pending, STEP)
            except zlib.error as error:
                raise Damaged(str(error)) from error
            pending = inflater.unconsumed_tail
            if out:
                yield out
        if inflater.eof:
            break
    rest = inflater.flush()
    if rest:
        yield rest
    if not inflater.eof:
        raise Damaged("deflate stream cut short")


async def _unpack(
    source: RandomAccess, entry: Entry, limits: ArchiveLimits, budget: Budget, depth: int
) -> None:
    produced = 0
    # Until its first 4 bytes are out, an entry may be a nested archive: hold what came.
    undecided: list[bytes] | None = []
    spool: Spool | None = None
    try:
        async for out in _unpacked_chunks(source, entry):
            produced += len(out)
            budget.unpacked += len(out)
            if produced > entry.unpacked:
                raise _bomb(_("An entry of the archive unpacks to more than it declares"))
            if budget.unpacked > limits.max_total_size:
                raise _too_big(limits)
            if undecided is None:
                if spool is not None:
                    spool.write(out)
                continue
            undecided.append(out)
            if produced >= 4:
                spool = _spool_if_archive(undecided, limits, depth)
                undecided = None
        if produced != entry.unpacked:
            raise Damaged(f"{entry.name} unpacks to {produced}, not {entry.unpacked}")
        if spool is not None:
            await _check(Window(spool), limits, budget, depth + 1)
    finally:
        if spool is not None:
            spool.close()


def _spool_if_archive(first: list[bytes], limits: ArchiveLimits, depth: int) -> Spool | None:
    if b"".join(first)[:4] not in (LOCAL_FILE, END_OF_CENTRAL):
        return None
    if depth + 1 > limits.max_depth:
        raise _bomb(
            _(
                "The archive holds archives nested too deep (at most {maximum} levels)",
                maximum=limits.max_depth,
            )
        )
    spool = Spool()
    for out in first:
        spool.write(out)
    return spool

"""Files of each kind the pipeline meets, built in the test (no binary fixtures in the tree)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

MiB = 1024 * 1024
# The anti-virus test file (not a virus: every scanner is made to report it).
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def pdf(padding: int = 0) -> bytes:
    """A small, well-formed PDF; `padding` bytes of comment lines make it bigger."""
    body = (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
    )
    line = b"% " + b"x" * 77 + b"\n"
    body += line * (padding // len(line))
    return body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xdb\x00\x43\x00"
        + bytes(range(64))
        + b"\xff\xd9"
    )


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return out.getvalue()


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    types = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"></Types>'
    )
    return zip_of(
        {
            "[Content_Types].xml": types,
            "_rels/.rels": b"<Relationships/>",
            "word/document.xml": b"<w:document/>" * 100,
            **(extra or {}),
        }
    )


def zeros_zip(size: int, name: str = "zeros.bin") -> bytes:
    """A zip of one entry, `size` bytes of zeros deflated (1 GB packs to about 1 MB); the
    deflate stream is one fully flushed MiB block repeated, so building it costs little."""
    assert size % MiB == 0 and size < 0xFFFFFFFF
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(MiB)
    segment = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    packed = segment * (size // MiB) + deflater.flush()
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(block, crc)
    return _single_entry_zip(name.encode(), packed, size, crc)


def _single_entry_zip(name: bytes, packed: bytes, size: int, crc: int) -> bytes:
    fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(packed), size)
    local = b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + fields
        + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, 0)
        + name
    )
    offset = len(local) + len(packed)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), offset, 0)
    return local + packed + central + end


def nested_zip(depth: int, inner: bytes = b"the innermost text") -> bytes:
    """A zip holding a zip holding … `depth` archives deep in all."""
    data = zip_of({"inner.txt": inner})
    for level in range(depth - 1):
        data = zip_of({f"level{level}.zip": data})
    return data


def lying_zip(true_size: int, claimed_size: int) -> bytes:
    """A zip whose directory claims an entry unpacks to `claimed_size`, but it unpacks to
    `true_size` (a bomb that hides from a check of the declared sizes)."""
    data = bytearray(zeros_zip(true_size))
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        position = data.find(signature)
        data[position + size_at : position + size_at + 4] = struct.pack("<I", claimed_size)
    return bytes(data)


def polyglot(padding: int = 0) -> bytes:
    """A PDF that is a ZIP archive as well (the archive appended after %%EOF)."""
    return pdf(padding) + zip_of({"payload.txt": b"opened as an archive"})


def elf() -> bytes:
    """The start of a Linux executable (a shared object, as libmagic says)."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4:8] = bytes([2, 1, 1, 0])
    header[16:18] = struct.pack("<H", 3)  # ET_DYN
    header[18:20] = struct.pack("<H", 62)  # x86-64
    header[20:24] = struct.pack("<I", 1)
    header[52:54] = struct.pack("<H", 64)
    return bytes(header) + bytes(4096)


def windows_exe() -> bytes:
    """The headers of a Windows program (PE32), as libmagic needs them."""
    dos = bytearray(0x80)
    dos[:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x102)
    optional = bytearray(0xE0)
    optional[:2] = struct.pack("<H", 0x10B)
    return bytes(dos) + coff + bytes(optional) + bytes(1024)

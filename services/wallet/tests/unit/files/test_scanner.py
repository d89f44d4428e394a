"""clamd's answers read as verdicts; anything else is the scanner being unavailable, never
a clean verdict."""

from __future__ import annotations

import pytest

from guichet_kit.domain import Unavailable
from guichet_wallet.files.scanner import Verdict, parse_address, parse_reply


def test_ok_is_clean() -> None:
    assert parse_reply(b"stream: OK\0") == Verdict(clean=True)


def test_found_names_the_signature() -> None:
    reply = b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0"
    assert parse_reply(reply) == Verdict(clean=False, signature="Eicar-Test-Signature.UNOFFICIAL")


@pytest.mark.parametrize(
    "reply",
    [
        b"INSTREAM size limit exceeded. ERROR\0",
        b"stream: Can't allocate memory ERROR\0",
        b"UNKNOWN COMMAND\0",
        b"\0",
        b"stream: OK but more\0",
    ],
)
def test_anything_else_is_the_scanner_unavailable(reply: bytes) -> None:
    with pytest.raises(Unavailable) as refused:
        parse_reply(reply)
    assert refused.value.reason == "SCANNER_UNAVAILABLE"


def test_an_address_is_host_and_port() -> None:
    assert parse_address("127.0.0.1:3310") == ("127.0.0.1", 3310)
    assert parse_address("[::1]:3310") == ("::1", 3310)
    for wrong in ("clamd", "clamd:", ":3310", "clamd:port"):
        with pytest.raises(ValueError, match="host:port"):
            parse_address(wrong)

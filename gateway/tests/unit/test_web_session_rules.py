"""The sign-in's pure rules: where a person may be sent back, the session cookie's flags, and the
sealing of the tokens kept for a session."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from guichet_gateway.web.session import CookiePolicy, TokenVault
from guichet_gateway.web.signin import DEFAULT_RETURN, safe_return_to


@pytest.mark.parametrize(
    "asked",
    [
        "/my/data",
        "/etracking/lookup?number=ET-1234-5678-9&lang=de",
        "/my/spaces/3f1e0c1a-0000-4000-8000-000000000000",
    ],
)
def test_a_page_of_this_site_is_where_the_person_comes_back(asked: str) -> None:
    assert safe_return_to(asked) == asked


@pytest.mark.parametrize(
    "asked",
    [
        "",
        None,
        "https://elsewhere.example/",
        "//elsewhere.example/path",
        "/\\elsewhere.example",
        "javascript:alert(1)",
        "my/data",
        "/my/data\r\nSet-Cookie: x=y",
        "/" + "a" * 3000,
    ],
)
def test_anything_else_comes_back_to_the_dashboard(asked: str | None) -> None:
    assert safe_return_to(asked) == DEFAULT_RETURN


@pytest.mark.parametrize(
    ("public_url", "name", "secure"),
    [
        ("https://guichet.example.lu", "__Host-guichet-session", True),
        ("http://127.0.0.1:8000", "__Host-guichet-session", True),
        ("http://localhost:8000", "__Host-guichet-session", True),
        # Plain HTTP on a real name: browsers refuse Secure cookies there, so neither is used.
        ("http://guichet.internal:8000", "guichet-session", False),
    ],
)
def test_the_cookie_is_secure_and_host_bound_where_the_scheme_allows(
    public_url: str, name: str, secure: bool
) -> None:
    policy = CookiePolicy.for_url(public_url)
    assert (policy.name, policy.secure) == (name, secure)


def test_a_sealed_token_opens_with_its_key_only() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm5lIn0.c2lnbmF0dXJl"
    sealed = TokenVault("the gateway's session key").seal(token)
    assert token not in sealed and "eyJ" not in sealed
    assert TokenVault("the gateway's session key").open(sealed) == token
    with pytest.raises(InvalidToken):
        TokenVault("another key").open(sealed)
    with pytest.raises(InvalidToken):
        TokenVault("the gateway's session key").open(sealed[:-4] + "AAAA")

"""Apply OpenGuichet's realm-as-code to a running Keycloak (run by deploy/local/infra/keycloak.sh).

Choice: the admin REST API, Keycloak running. The realm file is a standard realm representation (the
same format `kc.sh import` reads); the user profile lives next to it in user-profile.json (readable
JSON rather than a JSON string embedded in a component). A SHA-256 of both files and of the
generated identity client secret is kept in .data/keycloak/realm-guichet.sha256:

- realm missing                 -> create it (POST /admin/realms), then PUT the user profile;
- realm present, same hash      -> nothing to do (a second `make infra` costs one token request);
- realm present, other hash     -> DELETE the realm and create it again from the files.

Re-creating (like `kc.sh import --override true`) drops the realm's development users, sessions and
events; that is the price of applying every kind of change (flows, policies, clients) exactly as
written. Set GUICHET_KEYCLOAK_KEEP_REALM=1 to keep a changed realm as it is (the hash is not
updated, a warning is shown).

`${NAME}` placeholders in the realm file are replaced from the environment (Keycloak's own import
understands the same syntax), so the identity client's secret never sits in the repository. Standard
library only: it runs before any service is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def call(
    method: str, url: str, token: str | None = None, body: Any = None, form: dict | None = None
) -> Any:
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"keycloak: not an http(s) URL: {url}")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - http(s) only
            raw = response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404 and method == "GET":
            return None
        detail = error.read().decode(errors="replace")[:2000]
        raise SystemExit(f"keycloak: {method} {url} -> {error.code}: {detail}") from None
    return json.loads(raw) if raw else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="Keycloak base URL, e.g. http://127.0.0.1:58080"
    )
    parser.add_argument("--realm-file", type=Path, required=True)
    parser.add_argument("--profile-file", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True, help="file keeping the applied hash")
    args = parser.parse_args()

    realm_text = args.realm_file.read_text()
    profile_text = args.profile_file.read_text()

    def substitute(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if not value:
            raise SystemExit(
                f"keycloak: {args.realm_file} needs ${{{match.group(1)}}} in the environment"
            )
        return value

    realm_text = PLACEHOLDER.sub(substitute, realm_text)
    realm = json.loads(realm_text)
    name = realm["realm"]
    digest = hashlib.sha256(f"{realm_text}\0{profile_text}".encode()).hexdigest()

    base = args.url.rstrip("/")
    token = call(
        "POST",
        f"{base}/realms/master/protocol/openid-connect/token",
        form={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": os.environ["KC_ADMIN_USERNAME"],
            "password": os.environ["KC_ADMIN_PASSWORD"],
        },
    )["access_token"]

    applied = args.state.read_text().strip() if args.state.exists() else ""
    exists = call("GET", f"{base}/admin/realms/{name}", token) is not None
    if exists and applied == digest:
        print(f"==> keycloak: realm {name} up to date")
        return 0
    if exists:
        if os.environ.get("GUICHET_KEYCLOAK_KEEP_REALM") == "1":
            print(
                f"==> WARNING: keycloak: realm {name} differs from {args.realm_file.name}; kept",
                file=sys.stderr,
            )
            return 0
        print(
            f"==> keycloak: {args.realm_file.name} changed: re-creating realm {name}"
            " (development users are dropped)"
        )
        call("DELETE", f"{base}/admin/realms/{name}", token)
    else:
        print(f"==> keycloak: creating realm {name} from {args.realm_file.name}")
    args.state.unlink(missing_ok=True)
    call("POST", f"{base}/admin/realms", token, realm)
    call("PUT", f"{base}/admin/realms/{name}/users/profile", token, json.loads(profile_text))
    args.state.parent.mkdir(parents=True, exist_ok=True)
    args.state.write_text(digest + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

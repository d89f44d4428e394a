"""Sign-in cost in Keycloak, the figure the capacity model (docs/SCALING.md) needs for logins:
password grants (the password checked by Keycloak's hashing, a user session made, tokens signed)
under wrk on the realm's token endpoint, with the confidential client that has direct grants
(guichet-identity, whose password check is such a grant). The browser sign-in adds the login
page and the code exchange to the same password check; the figure is a lower bound of its cost.

Keycloak is the one of `make infra` (shared): the load is kept small (BENCH_LOGIN_CONNECTIONS,
4), and what is printed is mostly the CPU Keycloak's process spends per sign-in, the figure a
loaded machine distorts least, with the transactions it ran in its database per sign-in. Users
of the bench's own are made through the admin API before and deleted after (with their sessions).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import OUT_DIR, ROOT, Figure, Load, _run_generator
from keycloak import KeycloakAdmin

from guichet_kit.infra import read_infra_env

REALM = "guichet"
CLIENT_ID = "guichet-identity"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the bench user's, deleted after
CONNECTIONS = int(os.environ.get("BENCH_LOGIN_CONNECTIONS", "4"))
USERS = 16 * CONNECTIONS

# One JSON line of figures when wrk is done (as common.py's report script does).
# Keycloak refuses a user's sign-in while another of the same user is under way (its brute-force
# detector): the requests go round the bench's users, many more than the connections.
_SCRIPT = """
local bodies = %s
local turn = 0
request = function()
  turn = turn %% #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    bodies[turn])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"p50_us\\":%%d,\\"p99_us\\":%%d,"
    .. "\\"socket_errors\\":%%d,\\"bad_status\\":%%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def keycloak_java_pid() -> int:
    """The JVM under kc.sh (whose pid `make infra` records): the process that does the work."""
    shell = (ROOT / ".data" / "run" / "keycloak.pid").read_text().split()[0]
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    if not children:
        raise SystemExit("bench: Keycloak is not running (make infra)")
    return int(children[0])


def sign_ins(url: str, bodies: list[str], load: Load, pid: int) -> Figure:
    script = OUT_DIR / "wrk-login.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    # A Lua table of strings: JSON strings are valid Lua strings.
    script.write_text(_SCRIPT % ("{" + ", ".join(json.dumps(body) for body in bodies) + "}"))
    wrk = os.environ.get("BENCH_WRK", "wrk")
    base = [wrk, "-t1", f"-c{CONNECTIONS}", "--timeout", "10s", "-s", str(script)]
    _run_generator([*base, f"-d{load.warmup}s", url], Figure("warm-up", "wrk"), {})
    figure = Figure("Keycloak password grant", "wrk")
    output = _run_generator(
        [*base, f"-d{load.duration}s", url], figure, {"keycloak": pid}, "keycloak"
    )
    match = re.search(r"^BENCH (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")
    numbers = json.loads(match.group(1))
    figure.requests = numbers["requests"]
    figure.errors = numbers["socket_errors"] + numbers["bad_status"]
    figure.rate = (numbers["requests"] - numbers["bad_status"]) / (numbers["duration_us"] / 1e6)
    figure.p50_ms, figure.p99_ms = numbers["p50_us"] / 1000, numbers["p99_us"] / 1000
    return figure


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def bench_user(email: str) -> dict[str, object]:
    return {
        "username": email,
        "email": email,
        "emailVerified": True,
        "enabled": True,
        "firstName": "Bench",
        "lastName": "Login",
        "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
    }


def grant(email: str, client_secret: str) -> str:
    """The token request's form: a password grant of `email` by the identity service's client."""
    return urlencode(
        {
            "grant_type": "password",
            "client_id": CLIENT_ID,
            "client_secret": client_secret,
            "username": email,
            "password": PASSWORD,
            "scope": "openid",
        }
    )


def main() -> None:
    load = Load.from_env()
    infra = read_infra_env(ROOT)
    admin = KeycloakAdmin(
        server_url=infra["GUICHET_KEYCLOAK_URL"],
        username=infra["GUICHET_KEYCLOAK_ADMIN"],
        password=infra["GUICHET_KEYCLOAK_ADMIN_PASSWORD"],
        realm_name=REALM,
        user_realm_name="master",
    )
    url = f"{infra['GUICHET_KEYCLOAK_URL']}/realms/{REALM}/protocol/openid-connect/token"
    run = uuid.uuid4().hex[:8]
    users: list[str] = []
    try:
        bodies = []
        for number in range(USERS):
            email = f"bench-login-{run}-{number}@example.lu"
            users.append(admin.create_user(bench_user(email)))
            bodies.append(grant(email, infra["GUICHET_KEYCLOAK_IDENTITY_CLIENT_SECRET"]))
        answer = httpx.post(url, content=bodies[0], headers=FORM)
        if answer.status_code != 200 or "access_token" not in answer.json():
            raise SystemExit(
                f"bench: the password grant failed: {answer.status_code} {answer.text}"
            )
        figure = sign_ins(url, bodies, load, keycloak_java_pid())
    finally:
        for user_id in users:
            admin.delete_user(user_id)
    cpu = figure.server_cpu["keycloak"]
    print("Keycloak sign-in (password grant, guichet-identity), the shared Keycloak of make infra")
    print(f"  {CONNECTIONS} connections, {load.duration} s after a {load.warmup} s warm-up")
    print(f"  machine: {os.cpu_count()} cores shared with whoever else runs; load average", end="")
    print(f" {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(
        f"  {figure.rate:.1f} sign-ins/s, p50 {figure.p50_ms:.0f} ms, p99 {figure.p99_ms:.0f} ms;"
        f" Keycloak {cpu:.0%} of a core, wrk {figure.generator_cpu:.0%},"
        f" machine {figure.machine_cpu:.2f} cores busy"
    )
    if figure.rate:
        print(f"  Keycloak CPU per sign-in: {cpu * 1000 / figure.rate:.1f} ms")
    if figure.db_transactions is not None and figure.requests:
        print(
            f"  its database meanwhile: {figure.db_transactions / figure.requests:.1f}"
            " transactions per sign-in (others' sign-ins included)"
        )
    if figure.errors:
        print(f"  {figure.errors} of {figure.requests} requests failed: figure suspect")
    if figure.void:
        print("  VOID: wrk saturated a core; this figure measures the client")


if __name__ == "__main__":
    main()

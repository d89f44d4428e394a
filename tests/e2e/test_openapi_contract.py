"""The gateway's OpenAPI document tells the truth: a fuzzer (schemathesis) generates requests from
it, valid and invalid, sends them to the running stack, and checks every answer against the
document — without a token and with the token of a signed-in citizen.

Bounded: one pass of each phase with a fixed number of cases per operation (not schemathesis'
--max-time, which repeats the phases until the time is spent) and a ceiling on each run's time,
with a fixed seed so a failure can be replayed (GUICHET_FUZZ_SEED, GUICHET_FUZZ_EXAMPLES).
Nothing is excluded from fuzzing: the citizen's token is at the low level, so the routes that
could hurt the run (account deletion, export, mandates) refuse it, as the document says they do.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from citizens import Citizen, Registry
from keycloak.exceptions import KeycloakError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import Stack

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
)
SEED = int(os.environ.get("GUICHET_FUZZ_SEED", "20250101"))
EXAMPLES_PER_OPERATION = int(os.environ.get("GUICHET_FUZZ_EXAMPLES", "8"))
# About 35 s on two cores; beyond this ceiling the run is stopped and the test fails.
MAX_SECONDS_PER_RUN = 150


@dataclass
class FuzzRun:
    cases: int
    failures: Counter[str]  # by check
    examples: list[str]  # one line per failure: operation, check, why, request
    errors: list[str]  # cases the fuzzer could not run: the run is then incomplete
    output: str


async def fuzz(gateway_url: str, report_dir: Path, headers: dict[str, str]) -> FuzzRun:
    """One schemathesis run against the live gateway; every case and failure from its report."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{gateway_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        # One worker: hypothesis describes strategies with `ast`, which CPython 3.11 does not
        # support from several threads at once ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    # Run where the report goes: schemathesis keeps a cache in its working directory.
    process = await asyncio.create_subprocess_exec(
        *command, cwd=report_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=MAX_SECONDS_PER_RUN)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return read_report(report_dir, output.decode(errors="replace"))


def read_report(report_dir: Path, output: str) -> FuzzRun:
    """Cases and failed checks from schemathesis' event stream (ndjson)."""
    cases = 0
    failures: Counter[str] = Counter()
    examples: list[str] = []
    errors: list[str] = []
    for report in report_dir.glob("*.ndjson"):
        for line in report.read_text().splitlines():
            event = json.loads(line)
            if "NonFatalError" in event:
                error = event["NonFatalError"]
                errors.append(f"{error.get('label')}: {json.dumps(error.get('value'))[:300]}")
            finished = event.get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished.get("recorder", {})
            cases += len(recorder.get("cases", {}))
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check["status"] == "success":
                        continue
                    failures[check["name"]] += 1
                    failure = check.get("failure_info", {}).get("failure", {})
                    request = recorder.get("interactions", {}).get(case_id, {}).get("request", {})
                    examples.append(
                        f"{recorder['label']} {check['name']}: {failure.get('message', '')!r} "
                        f"request={json.dumps(request)[:400]}"
                    )
    return FuzzRun(cases, failures, examples, errors, output)


@pytest.fixture(scope="module")
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def registry(
    gateway: httpx.AsyncClient, infra: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Registry:
    return Registry(gateway, infra, tmp_path_factory.mktemp("fuzz-citizens"))


@pytest.fixture(scope="module", autouse=True)
async def _forget_fuzzed_accounts(stack: Stack, registry: Registry) -> AsyncIterator[None]:
    """A registration the fuzzer got through made a login in the shared sign-in service: every
    account that appears during the module is removed at its end, the citizen's too."""
    engine = create_async_engine(stack.identity_database_url)

    async def subjects() -> set[str]:
        async with engine.connect() as connection:
            return set((await connection.scalars(text("SELECT subject FROM profiles"))).all())

    before = await subjects()
    yield
    await asyncio.to_thread(_delete_logins, registry, await subjects() - before)
    await asyncio.to_thread(registry.cleanup)
    await engine.dispose()


def _delete_logins(registry: Registry, subjects: set[str]) -> None:
    admin = registry.admin()
    for subject in subjects:
        try:
            admin.delete_user(subject)
        except KeycloakError as error:
            if error.response_code != 404:  # the citizen's own, removed by the registry
                raise


@pytest.fixture(scope="module")
async def citizen(registry: Registry) -> Citizen:
    """A citizen signed in at the low level."""
    return await registry.register("Fuzz")


def _assert_no_failure(run: FuzzRun) -> None:
    print(f"schemathesis: {run.cases} cases, failures by check: {dict(run.failures)}")
    print(run.output[-6000:])
    assert run.cases > 0, run.output[-3000:]
    assert not run.failures, "\n".join(run.examples[:30])
    assert not run.errors, "\n".join(run.errors)


async def test_the_fuzzer_finds_no_disagreement_without_a_token(
    stack: Stack, tmp_path: Path
) -> None:
    _assert_no_failure(await fuzz(stack.gateway_url, tmp_path, {}))


async def test_the_fuzzer_finds_no_disagreement_with_a_citizens_token(
    stack: Stack, citizen: Citizen, tmp_path: Path
) -> None:
    _assert_no_failure(await fuzz(stack.gateway_url, tmp_path, citizen.bearer()))


# A request the gateway accepts for every route that documents a level above low.
STEP_UP_REQUESTS: dict[str, tuple[str, str, dict | None]] = {
    "account-export_my_data": ("GET", "/api/v1/me/export", None),
    "account-delete_account": (
        "POST",
        "/api/v1/me/deletion",
        {"confirm_email": "someone.else@example.lu"},
    ),
    "relations-grant_mandate": (
        "POST",
        "/api/v1/me/relations",
        {
            "actor_national_id": "1985061200156",
            "kind": "parent",
            "rights": ["etracking:read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    ),
    "relations-declare_child": (
        "POST",
        "/api/v1/me/children",
        {"child_national_id": "2017030400266", "child_first_name": "Léa", "child_last_name": "M"},
    ),
}


async def test_the_documented_levels_are_the_ones_required(
    gateway: httpx.AsyncClient, citizen: Citizen
) -> None:
    spec = (await gateway.get("/openapi.json")).json()
    stepped = {
        operation["operationId"]: operation["x-level-of-assurance"]
        for item in spec["paths"].values()
        for operation in item.values()
        if operation.get("x-level-of-assurance", "low") != "low"
    }
    assert set(stepped) == set(STEP_UP_REQUESTS)
    for operation_id, level in stepped.items():
        method, path, body = STEP_UP_REQUESTS[operation_id]
        response = await gateway.request(method, path, json=body, headers=citizen.bearer())
        assert response.status_code == 401, (operation_id, response.text)
        assert response.json()["reason"] == "INSUFFICIENT_USER_AUTHENTICATION"
        assert f'acr_values="{level}"' in response.headers["www-authenticate"]


async def test_an_oversized_mandate_right_is_bad_input_not_a_transport_failure(
    gateway: httpx.AsyncClient, citizen: Citizen
) -> None:
    response = await gateway.post(
        "/api/v1/me/relations",
        headers=citizen.bearer(),
        json={
            "actor_national_id": "1985061200156",
            "kind": "parent",
            "rights": ["etracking:read" + "x" * 20_000],
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "VALIDATION_FAILED"
    assert response.json()["errors"][0]["field"] == "rights.0"
    assert "metadata" not in response.text
    assert "x" * 100 not in response.text

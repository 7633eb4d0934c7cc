"""schemathesis against a real `creditflow serve`: every operation of /api/openapi.json, with data that fits
the document and data that does not, sent with the token of a user allowed to call it. Checks: no 5xx,
only documented status codes and content types, and response bodies that match the document.

`make test` sends a few examples per operation and mode; CI sets CREDITFLOW_FUZZ_EXAMPLES higher, and runs
it once more on PostgreSQL (CREDITFLOW_FUZZ_DATABASE_URL: a database this test empties and fills itself).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine, make_url, text

from tests.conftest import worker_database_url
from tests.e2e.conftest import start_server

if TYPE_CHECKING:
    from tests.e2e.conftest import Server

# `db`: it fills a database through the server, and CI's database stage (`pytest -m db` with
# CREDITFLOW_FUZZ_DATABASE_URL set) runs it again on PostgreSQL beside the other database tests.
pytestmark = [pytest.mark.slow, pytest.mark.db]

EXAMPLES = int(os.environ.get("CREDITFLOW_FUZZ_EXAMPLES", "4"))
# Under pytest-xdist each worker fuzzes a database of its own (`fuzz_gw0`, ...) on that server.
DATABASE_URL = worker_database_url(os.environ.get("CREDITFLOW_FUZZ_DATABASE_URL", ""))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Who calls what: the group the operation is for (README, "Who may do what"); admin for the rest.
CALLERS = {
    "post_customer": "sales1",
    "post_rating": "analyst1",
    "post_invoice_view": "finance1",
    "post_payment_view": "collector1",
    "post_order_view": "finance1",
    "delete_order": "finance1",
    "post_credit_check": "sales1",
    "get_provisions": "finance1",
    "get_provisions_preview": "finance1",
    "post_fx_rate": "finance1",
    "post_supplier": "buyer1",
    "post_contract": "pm1",
    "post_definitions": "owner1",
    "post_instance": "sales1",
    "post_message": "collector1",
    "get_tasks": "analyst1",
    "claim": "analyst1",
    "unclaim": "analyst1",
    "complete": "analyst1",
    "get_emails": "collector1",
    "get_instances": "sales1",
    "get_dunning_cases": "auditor1",
}


def empty_postgres(url: str) -> None:
    """Create the database when missing, else drop everything in it (it is the fuzzer's own)."""
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if not connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        ):
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()
    engine = create_engine(target)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def fuzz_server(tmp_path: Path) -> Iterator[Server]:
    """A demo server of the test's own: on SQLite, or on CREDITFLOW_FUZZ_DATABASE_URL when set."""
    if DATABASE_URL:
        empty_postgres(DATABASE_URL)
    server = start_server(tmp_path / "serve", DATABASE_URL or None)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def describe(failure: BaseException, indent: str = "") -> str:
    """The failure with every sub-failure and note, whatever wraps it: a Hypothesis FlakyFailure ("failed on
    the first call but did not on a subsequent one") holds the first call's check failures, with the request
    in their notes (a CI run on PostgreSQL printed only the wrapper's one line once)."""
    text = f"{type(failure).__name__}: {failure}"
    text += "".join(f"\n{indent}  {note}" for note in getattr(failure, "__notes__", []))
    for inner in getattr(failure, "exceptions", ()):
        text += f"\n{indent}- " + describe(inner, indent + "  ")
    return text


def fuzz_operation(
    operation: Any, mode: GenerationMode, call: Callable[[Any], requests.Response]
) -> BaseException | None:
    """Send EXAMPLES generated cases; the first failure (a failed check or a lost connection), or None."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # no .hypothesis directory in the checkout
        phases=[Phase.explicit, Phase.generate],  # no shrinking against a live server: the case is printed
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = call(case)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return (
            None  # nothing can be wrong with a request that takes nothing (negative mode of GET /api/health)
        )
    except Exception as exc:  # a FailureGroup, an assertion or a connection error: all are reported
        return exc
    return None


def test_schemathesis_finds_no_5xx_and_no_mismatch_in_any_operation(
    fuzz_server: Server, capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    server = fuzz_server
    document = server.request("GET", "/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only: no proxy from the environment
    sent = 0

    def call(case: Any) -> requests.Response:
        nonlocal sent
        sent += 1
        user = CALLERS.get(case.operation.definition.raw.get("operationId", ""), "admin")
        headers = {"Authorization": f"Bearer {server.token(user)}"}
        return case.call(base_url=server.base_url, session=session, headers=headers, timeout=30)

    started = time.monotonic()
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    timings = {}
    for operation in operations:
        began = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = fuzz_operation(operation, mode, call)
            if failure is not None:
                failures.append(f"{operation.label} ({mode.value}):\n{describe(failure)}")
        timings[operation.label] = time.monotonic() - began
    if os.environ.get("CREDITFLOW_FUZZ_TIMINGS"):
        with capsys.disabled():
            print(
                "".join(f"\n{t:6.1f} s  {label}" for label, t in sorted(timings.items(), key=lambda x: -x[1]))
            )
    elapsed = time.monotonic() - started
    database = make_url(DATABASE_URL).get_backend_name() if DATABASE_URL else "sqlite"
    # The counts belong in every run's output, CI's included: tests/conftest.py prints this property in the
    # terminal summary (a pytest-xdist worker's own prints never reach the terminal).
    record_property(
        "summary",
        f"schemathesis: {len(operations)} operations, {sent} requests, {elapsed:.1f} s "
        f"({EXAMPLES} examples per operation and mode, {database})",
    )
    assert len(operations) == sum(len(ops) for ops in document["paths"].values())
    # What the fuzzer created (customers, invoices, contracts, started cases, ...) must not break the
    # reads or the scheduler's round for everybody afterwards.
    after = {
        path: server.request("GET", path, user="admin").status
        for path, methods in document["paths"].items()
        if "{" not in path and "get" in methods
    }
    after["POST /api/admin/tick"] = server.request(
        "POST", "/api/admin/tick", user="admin", json_body={}
    ).status
    assert all(status == 200 for status in after.values()), after
    server_errors = [line for line in server.log().splitlines() if line.startswith(("ERROR", "CRITICAL"))]
    assert not failures, "\n\n".join(failures) + "\n\nserver log:\n" + "\n".join(server_errors[:20])
    assert not server_errors

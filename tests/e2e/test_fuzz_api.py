"""schemathesis against a real `creditflow serve`: every operation of /api/openapi.json, with data that fits
the document and data that does not, sent with the token of a user allowed to call it. Checks: no 5xx,
only documented status codes and content types, and response bodies that match the document.

`make test` sends a few examples per operation and mode; CI sets CREDITFLOW_FUZZ_EXAMPLES higher.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
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

if TYPE_CHECKING:
    from tests.e2e.conftest import Server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CREDITFLOW_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Who calls what: the group the operation is for (README, "Who may do what"); admin for the rest.
CALLERS = {
    "post_customer": "sales1",
    "post_rating": "analyst1",
    "post_invoice_view": "finance1",
    "post_payment_view": "collector1",
    "get_provisions": "finance1",
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
    launch_server: Callable[[], Server],
) -> None:
    server = launch_server()
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
                failures.append(f"{operation.label} ({mode.value}):\n{failure}")
        timings[operation.label] = time.monotonic() - began
    if os.environ.get("CREDITFLOW_FUZZ_TIMINGS"):
        print("\n".join(f"{t:6.1f} s  {label}" for label, t in sorted(timings.items(), key=lambda x: -x[1])))
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis: {len(operations)} operations, {sent} requests, {elapsed:.1f} s "
        f"({EXAMPLES} examples per operation and mode)"
    )
    assert len(operations) == sum(len(ops) for ops in document["paths"].values())
    server_errors = [line for line in server.log().splitlines() if "unhandled error" in line]
    assert not failures, "\n\n".join(failures) + "\n\nserver log:\n" + "\n".join(server_errors[:20])
    assert not server_errors

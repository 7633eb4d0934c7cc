"""The audit trail names the people, never `system` where a person acted: `creditflow start`, `message`,
`retry` and `import` without `--user` acted as, and were recorded as, `system` (the name creditflow itself
acts under: timers, batch runs, `init`). Someone at the shell started a case, delivered a customer's
confirmation or retried a failed step, and the trail named no one. They now act with the same rights
(an operator at the shell is trusted like an admin) and are recorded as `cli:ACCOUNT`, the operating-system
account that ran them, in `started_by`, event actors and `resolved_by`."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from tests.cli.test_cli import CREDIT_HOLD_START, Cli, cli, initialized_db, open_task  # noqa: F401 (fixtures)
from workflows.errors import BadRequest
from workflows.users import add_user, trusted_initiator

OPERATOR = "cli:ops7"


@pytest.fixture
def operator(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:  # noqa: F811
    """The CLI run by the shell account ops7."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "ops7")
    cli.deploy_credit_hold()
    return cli


def actors(run: Cli, instance_id: int, action: str) -> list[str]:
    rows = run.query(
        "SELECT actor FROM audit_events WHERE instance_id = ? AND action = ? ORDER BY id", instance_id, action
    )
    return [row[0] for row in rows]


def test_start_without_user_names_the_shell_account(operator: Cli) -> None:
    data = json.dumps(CREDIT_HOLD_START)
    instance = operator.json("start", "credit_hold", "--data", data, "--business-key", "CUST-1")
    assert instance["status"] == "running"
    assert instance["started_by"] == OPERATOR
    assert operator.query("SELECT started_by FROM process_instances WHERE id = ?", instance["id"]) == [
        (OPERATOR,)
    ]
    assert actors(operator, instance["id"], "instance_started") == [OPERATOR]
    assert operator.query(
        "SELECT count(*) FROM audit_events WHERE instance_id = ? AND actor = 'system'", instance["id"]
    ) == [(0,)]


def test_message_without_user_is_delivered_and_names_the_shell_account(operator: Cli) -> None:
    instance = operator.start_credit_hold("CUST-1")
    review = open_task(instance, "review_hold")
    form = json.dumps({"decision": "release", "release_amount": 200.5})
    operator.run("complete", str(review["id"]), "--user", "analyst1", "--data", form)
    confirmed = json.dumps({"confirmed_by": "buyer@acme"})
    reached = operator.json("message", "customer_confirmed", "--key", "CUST-1", "--data", confirmed)
    assert reached == {"delivered_to": [instance["id"]]}
    assert operator.instance_status(instance["id"]) == "completed"
    assert actors(operator, instance["id"], "message_received") == [OPERATOR]


def test_retry_without_user_retries_and_names_the_shell_account(operator: Cli) -> None:
    instance = operator.start_credit_hold("CUST-1")
    # A step that failed: the instance in error with its open incident (as the engine leaves it).
    with closing(sqlite3.connect(operator.db)) as conn, conn:
        conn.execute("UPDATE process_instances SET status = 'error' WHERE id = ?", (instance["id"],))
        conn.execute(
            "INSERT INTO incidents (instance_id, bpmn_id, message, traceback, created_at, attempts) "
            "VALUES (?, 'review_hold', 'boom', '', ?, 3)",
            (instance["id"], instance["started_at"]),
        )
    retried = operator.json("retry", str(instance["id"]))
    assert retried["status"] == "running"
    assert operator.instance_status(instance["id"]) == "running"
    assert actors(operator, instance["id"], "instance_retried") == [OPERATOR]
    assert operator.query("SELECT resolved_by FROM incidents WHERE instance_id = ?", instance["id"]) == [
        (OPERATOR,)
    ]


def test_import_without_user_names_the_shell_account(operator: Cli, tmp_path: Path) -> None:
    path = tmp_path / "suppliers.csv"
    path.write_text(
        "external_id,name,email,registration_no,founded_year,annual_revenue,currency\n"
        "S-OPS7,Shell Supply,shell@supply.example,REG-OPS7,1990,1000000.00,EUR\n",
        encoding="utf-8",
    )
    (before,) = operator.query("SELECT coalesce(max(id), 0) FROM audit_events")[0]
    assert '"imported": 1' in operator.run("import", "suppliers", str(path)).output
    rows = operator.query("SELECT DISTINCT actor FROM audit_events WHERE id > ?", before)
    assert rows == [(OPERATOR,)]


def test_an_instance_the_operator_starts_keeps_the_rights_the_cli_had(operator: Cli) -> None:
    """Checks that trusted an instance started by `system` (only the daily run or an admin opens a dunning
    case) trust one the shell operator started: the command line keeps its rights, only its name changes."""
    (customer_id,) = operator.query(
        "SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM dunning_cases) ORDER BY id LIMIT 1"
    )[0]
    data = json.dumps({"customer_id": customer_id})
    instance = operator.json("start", "dunning", "--data", data, "--business-key", str(customer_id))
    assert instance["status"] != "error", instance
    assert instance["started_by"] == OPERATOR
    assert operator.query("SELECT count(*) FROM dunning_cases WHERE customer_id = ?", customer_id) == [(1,)]


def test_only_the_command_line_is_trusted_by_the_operator_name() -> None:
    assert trusted_initiator("system") and trusted_initiator(OPERATOR)
    assert not trusted_initiator("admin1") and not trusted_initiator("sales1")
    # No user can be named like an operator: user names have no ':'.
    with pytest.raises(BadRequest):
        add_user(MagicMock(), "cli:mallory", groups=["sales"], now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("command", "process_key"), [("dunning-run", "dunning"), ("limit-review-sweep", "credit_limit_review")]
)
def test_a_batch_run_from_the_shell_names_who_ran_it(operator: Cli, command: str, process_key: str) -> None:
    # The cases it starts are the system's, as the scheduler's would be; the trail names who ran the day.
    operator.json(command)
    rows = operator.query("SELECT actor, detail FROM audit_events WHERE action = 'batch_run'")
    assert [(actor, json.loads(detail)["process_key"]) for actor, detail in rows] == [(OPERATOR, process_key)]

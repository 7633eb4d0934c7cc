"""The `creditflow` command line, in process with click's CliRunner, against a real SQLite file."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from tests.helpers import FIXTURES, auth, credit_hold_files
from webui import create_app
from workflows.cli.commands import main
from workflows.settings import load_settings

BROKEN = FIXTURES / "broken"
CORPUS_BPMN = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bpmn"
CREDIT_HOLD_START = {"order_amount": 1200.50, "available_limit": 1000, "order_number": "SO-7"}

# The seven kinds of broken diagram of the engine issue: (file, a marker on the reported line, element id).
BROKEN_KINDS = [
    ("broken_xml.bpmn", "</bpmn:scriptTsk>", "-"),
    ("script_import.bpmn", "import os", "classify_application"),
    ("script_open.bpmn", 'open("/etc/passwd")', "classify_application"),
    ("script_syntax.bpmn", "<bpmn:script>", "classify_application"),
    ("dangling_flow.bpmn", 'targetRef="review_aplication"', "to_review_application"),
    ("missing_form.bpmn", "credit_review_form.json", "review_application"),
    ("bad_condition.bpmn", "===", "approved_flow"),
]
# Every command of the README's command line; those a later issue adds are expected to be missing for now.
CONTRACT_COMMANDS = [
    ("init",),
    ("serve",),
    ("validate",),
    ("deploy",),
    ("start",),
    ("tasks",),
    ("complete",),
    ("message",),
    ("tick",),
    ("dunning-run",),
    ("limit-review-sweep",),
    ("users", "add"),
    ("users", "token"),
    ("import",),
]


def invoke(*args: str) -> Result:
    """Run `creditflow` in process; an uncaught exception is re-raised, so a traceback fails the test."""
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


class Cli:
    """Runs `creditflow` in process against one SQLite file and reads that file back."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def run(self, *args: str, code: int = 0) -> Result:
        """Invoke the command; fail on any other exit code."""
        result = invoke(*args)
        assert result.exit_code == code, (args, result.output)
        return result

    def json(self, *args: str) -> Any:
        """Invoke a command that prints JSON and parse it."""
        return json.loads(self.run(*args).stdout)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql, params).fetchall()

    def definition_count(self) -> int:
        return int(self.query("SELECT count(*) FROM process_definitions")[0][0])

    def instance_status(self, instance_id: int) -> str:
        return str(self.query("SELECT status FROM process_instances WHERE id = ?", instance_id)[0][0])

    def deploy_credit_hold(self, *paths: Path) -> dict[str, Any]:
        args = [str(p) for p in paths or credit_hold_files()]
        (line,) = self.run("deploy", *args, "--user", "owner1").stdout.splitlines()
        return dict(json.loads(line))

    def start_credit_hold(self, business_key: str) -> dict[str, Any]:
        data = json.dumps(CREDIT_HOLD_START)
        return dict(
            self.json(
                "start", "credit_hold", "--data", data, "--business-key", business_key, "--user", "sales1"
            )
        )


def use_database(mp: pytest.MonkeyPatch, directory: Path, db: Path) -> None:
    """Point every setting with a path at `directory`, and nothing at the caller's own CREDITFLOW_*."""
    for name in [n for n in os.environ if n.startswith("CREDITFLOW_")]:
        mp.delenv(name)
    config = directory / "creditflow.toml"
    config.write_text(f'[mail]\nsink_port = 0\n[scheduler]\nlock_file = "{directory / "scheduler.lock"}"\n')
    mp.setenv("CREDITFLOW_CONFIG", str(config))
    mp.setenv("CREDITFLOW_DATABASE_URL", f"sqlite:///{db}")
    mp.setenv("CREDITFLOW_SECRET_KEY", "test-secret")


@pytest.fixture(scope="module")
def initialized_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database after `init --demo`; each test gets a copy, which is faster than initialising."""
    directory = tmp_path_factory.mktemp("cli-template")
    db = directory / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        use_database(mp, directory, db)
        result = Cli(db).run("init", "--demo")
    assert "deployed: payment_terms_exception v1" in result.stdout
    assert "demo users (password 'demo'): sales1" in result.stdout
    return db


@pytest.fixture
def cli(initialized_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    db = tmp_path / "creditflow.db"
    # The backup API copies a consistent snapshot, including pages still in the template's WAL.
    with closing(sqlite3.connect(initialized_db)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    use_database(monkeypatch, tmp_path, db)
    return Cli(db)


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def problem_line(path: str, line: int, element_id: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(path)}:{line}: {re.escape(element_id)}: \S.*$", re.MULTILINE)


def line_of(path: Path, marker: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text)


# --- set-up ------------------------------------------------------------------------------------------------


def test_init_twice_changes_nothing(cli: Cli) -> None:
    before = cli.definition_count()
    output = cli.run("init", "--demo").stdout
    assert "unchanged: payment_terms_exception v1" in output
    assert "deployed:" not in output
    assert cli.definition_count() == before
    assert cli.query("SELECT count(*) FROM users WHERE username = 'analyst1'") == [(1,)]
    assert "demo case:" not in output  # the demo cases are opened on a fresh database only
    assert cli.query("SELECT count(*) FROM process_instances") == [(7,)]


def test_demo_data_leaves_work_waiting_for_the_demo_users(cli: Cli) -> None:
    analyst = [t["process_key"] for t in cli.json("tasks", "--user", "analyst1")["items"]]
    assert sorted(analyst) == ["credit_application", "payment_terms_exception"]
    for user in ("finance1", "legal1"):
        assert [t["process_key"] for t in cli.json("tasks", "--user", user)["items"]] == [
            "supplier_contract_change"
        ]
    manager = [t["process_key"] for t in cli.json("tasks", "--user", "manager1")["items"]]
    assert "order_release" in manager  # an order of Acme held over its limit
    assert "write_off" in manager  # legal1's settlement of Shanghai Precision Parts' old invoice
    assert cli.query("SELECT order_ref, status FROM orders") == [("SO-2026-0815", "held")]
    sales = [t["name"] for t in cli.json("tasks", "--user", "sales1")["items"]]
    assert sales == ["propose_sales"]  # Helios's price dispute, raised by collector1
    disputes = cli.query("SELECT status, owner_group, raised_by FROM disputes")
    assert disputes == [("open", "sales", "collector1")]
    cases = cli.query(
        "SELECT c.level, c.status, u.name FROM dunning_cases c JOIN customers u ON u.id = c.customer_id"
    )
    assert cases == [(1, "open", "Quickbuild Contractors Ltd")]
    assert cli.query("SELECT count(*) FROM outbox_emails WHERE template LIKE 'dunning%'") == [(1,)]


@pytest.mark.parametrize("path", sorted(command_paths(main)), ids=" ".join)
def test_every_subcommand_has_help(cli: Cli, path: tuple[str, ...]) -> None:
    assert "Usage:" in cli.run(*path, "--help").stdout


@pytest.mark.parametrize("path", CONTRACT_COMMANDS, ids=" ".join)
def test_every_contract_command_exists(path: tuple[str, ...]) -> None:
    assert path in set(command_paths(main))


def test_serve_with_the_sink_port_taken_is_a_clear_error(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = tmp_path / "sink.toml"
        config.write_text(f"[mail]\nsink_port = {taken.getsockname()[1]}\n")
        monkeypatch.setenv("CREDITFLOW_CONFIG", str(config))
        result = cli.run("serve", "--port", str(taken.getsockname()[1]), code=1)
    assert "cannot start the SMTP sink" in result.stderr and "sink_port" in result.stderr


def test_bad_configuration_is_a_clear_error(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_PORT", "abc")
    result = cli.run("tasks", code=1)
    assert "invalid configuration: web.port must be of type int, got 'abc'" in result.stderr


# --- validate and deploy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "deploy"])
@pytest.mark.parametrize(("name", "marker", "element_id"), BROKEN_KINDS, ids=[k[0] for k in BROKEN_KINDS])
def test_broken_diagram_exits_2_with_located_problem_and_deploys_nothing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, command: str, name: str, marker: str, element_id: str
) -> None:
    monkeypatch.chdir(FIXTURES)  # relative paths, to check each line names the file exactly as given
    given = f"broken/{name}"
    before = cli.definition_count()
    result = cli.run(command, given, "valid/approval_form.json", code=2)
    assert problem_line(given, line_of(BROKEN / name, marker), element_id).search(result.stdout), (
        result.output
    )
    assert cli.definition_count() == before


def test_valid_bundle_validates_and_each_changed_deploy_is_a_new_version(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("validate", *(str(p) for p in credit_hold_files()))
    assert result.stdout.strip() == "valid: credit_hold"
    first = cli.run("deploy", *(str(p) for p in credit_hold_files()), "--user", "owner1").stdout
    assert first.strip() == '{"key": "credit_hold", "version": 1}'
    changed = tmp_path / "changed"
    changed.mkdir()
    for path in credit_hold_files():
        (changed / path.name).write_text(path.read_text().replace("Review credit hold", "Review hold v2"))
    assert cli.deploy_credit_hold(*sorted(changed.iterdir())) == {"key": "credit_hold", "version": 2}
    assert cli.query("SELECT version FROM process_definitions WHERE process_key = 'credit_hold'") == [
        (1,),
        (2,),
    ]


def test_two_files_with_the_same_name_are_refused(cli: Cli, tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "credit_hold.bpmn"
    copy.parent.mkdir()
    copy.write_bytes((FIXTURES / "acceptance" / "credit_hold.bpmn").read_bytes())
    paths = [*(str(p) for p in credit_hold_files()), str(copy)]
    result = cli.run("validate", *paths, code=2)
    assert f"{copy}: {FIXTURES / 'acceptance' / 'credit_hold.bpmn'} has the same file name" in result.stderr


def test_deploy_needs_a_process_owner(cli: Cli) -> None:
    before = cli.definition_count()
    result = cli.run("deploy", *(str(p) for p in credit_hold_files()), "--user", "sales1", code=1)
    assert "sales1 may not deploy" in result.stderr
    assert cli.definition_count() == before


@pytest.mark.skipif(not CORPUS_BPMN.is_dir(), reason=f"the shared corpus is not at {CORPUS_BPMN}")
@pytest.mark.parametrize(
    "path",
    sorted(p for p in CORPUS_BPMN.rglob("*") if p.is_file()),
    ids=lambda p: p.relative_to(CORPUS_BPMN).as_posix(),
)
def test_corpus_file_validates_or_is_refused_without_traceback(path: Path) -> None:
    result = invoke("validate", str(path))
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2 and path.suffix == ".bpmn":
        for line in result.stdout.splitlines():
            assert re.fullmatch(rf"{re.escape(str(path))}:\d+: \S+: \S.*", line), line


# --- users -------------------------------------------------------------------------------------------------


def test_users_add_creates_missing_groups_and_token_authenticates_on_the_api(cli: Cli) -> None:
    added = cli.json(
        "users", "add", "carol", "--groups", "risk_committee,credit_analyst", "--email", "c@x.test"
    )
    assert added == {
        "username": "carol",
        "email": "c@x.test",
        "groups": ["credit_analyst", "risk_committee"],
        "language": None,  # not chosen: the browser's Accept-Language decides, then [web] default_language
    }
    assert cli.query("SELECT name FROM groups WHERE name = 'risk_committee'") == [("risk_committee",)]
    token = cli.run("users", "token", "carol").stdout.strip()
    assert re.fullmatch(r"[\w-]{20,}", token), token
    app = create_app(load_settings())
    try:
        client = app.test_client()
        assert client.get("/api/tasks", headers=auth(token)).status_code == 200
        assert client.get("/api/tasks", headers=auth(token + "x")).status_code == 401
    finally:
        app.extensions["creditflow"].engine.dispose()


def test_users_add_sets_the_web_language_and_refuses_one_creditflow_does_not_speak(cli: Cli) -> None:
    added = cli.json("users", "add", "li.wei", "--groups", "credit_analyst", "--language", "zh")
    assert added["language"] == "zh"
    assert cli.query("SELECT language FROM users WHERE username = 'li.wei'") == [("zh",)]
    # Adding a group later keeps the language; naming one changes it.
    assert cli.json("users", "add", "li.wei", "--groups", "collector")["language"] == "zh"
    assert cli.json("users", "add", "li.wei", "--groups", "collector", "--language", "en")["language"] == "en"
    refused = cli.run("users", "add", "li.wei", "--groups", "x", "--language", "fr", code=2).stderr
    # The refusal names the option and the values allowed (click's Choice says them).
    assert "Invalid value for '--language': 'fr' is not one of 'en', 'zh'." in refused, refused
    assert cli.query("SELECT language FROM users WHERE username = 'li.wei'") == [("en",)]
    assert "li.wei\tli.wei@example.com\tcollector,credit_analyst\ten" in cli.run("users", "list").stdout


def test_unknown_user_is_a_clear_error(cli: Cli) -> None:
    assert "user 'nobody' does not exist" in cli.run("tasks", "--user", "nobody", code=1).stderr
    assert "user 'nobody' does not exist" in cli.run("users", "token", "nobody", code=1).stderr


# --- instances, tasks, messages, timers ------------------------------------------------------------------


def open_task(instance: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in instance["tasks"] if t["name"] == name and t["status"] == "open")


def hold_tasks(cli: Cli, user: str) -> list[dict[str, Any]]:
    """The user's open credit_hold tasks (the demo data brings open cases of its own)."""
    return [t for t in cli.json("tasks", "--user", user)["items"] if t["process_key"] == "credit_hold"]


def test_start_tasks_complete_and_message_drive_an_instance_to_completion(cli: Cli) -> None:
    cli.deploy_credit_hold()
    instance = cli.start_credit_hold("CUST-1")
    assert {k: instance[k] for k in ("process_key", "version", "status", "business_key")} == {
        "process_key": "credit_hold",
        "version": 1,
        "status": "running",
        "business_key": "CUST-1",
    }
    assert instance["data"]["shortfall"] == "200.5"  # the script task ran; a string: Decimal, not float
    review = open_task(instance, "review_hold")
    assert [t["id"] for t in hold_tasks(cli, "analyst1")] == [review["id"]]
    assert hold_tasks(cli, "sales1") == []

    data = json.dumps({"decision": "release", "release_amount": 200.5})
    done = cli.json("complete", str(review["id"]), "--user", "analyst1", "--data", data)
    assert (done["id"], done["status"], done["completed_by"]) == (review["id"], "completed", "analyst1")
    assert cli.instance_status(instance["id"]) == "running"  # now waiting for the customer's message

    confirmed = json.dumps({"confirmed_by": "buyer@acme"})
    nobody = cli.json("message", "customer_confirmed", "--key", "CUST-9", "--data", confirmed)
    assert nobody == {"delivered_to": []}
    reached = cli.json("message", "customer_confirmed", "--key", "CUST-1", "--data", confirmed)
    assert reached == {"delivered_to": [instance["id"]]}
    assert cli.instance_status(instance["id"]) == "completed"


def test_complete_with_invalid_form_data_names_the_field(cli: Cli) -> None:
    cli.deploy_credit_hold()
    review = open_task(cli.start_credit_hold("CUST-1"), "review_hold")
    data = json.dumps({"decision": "release"})
    result = cli.run("complete", str(review["id"]), "--user", "analyst1", "--data", data, code=1)
    assert "release_amount" in result.stderr


def test_tick_past_the_boundary_timer_moves_the_case_to_sales(cli: Cli) -> None:
    cli.deploy_credit_hold()
    instance = cli.start_credit_hold("CUST-1")
    started = datetime.fromisoformat(instance["started_at"])
    early = cli.json("tick", "--now", (started + timedelta(days=1)).isoformat())
    assert early["timers"] == 0
    late = cli.json("tick", "--now", (started + timedelta(days=2, minutes=1)).astimezone(UTC).isoformat())
    assert late["timers"] == 1
    assert {"timers", "jobs", "emails"} <= set(late)
    assert [t["name"] for t in hold_tasks(cli, "sales1")] == ["chase_customer"]
    assert hold_tasks(cli, "analyst1") == []


def test_tick_with_a_bad_time_is_a_usage_error(cli: Cli) -> None:
    assert "Invalid value for --now" in cli.run("tick", "--now", "next tuesday", code=2).stderr


def test_retry_of_an_instance_not_in_error_is_refused(cli: Cli) -> None:
    cli.deploy_credit_hold()
    instance = cli.start_credit_hold("CUST-1")
    result = cli.run("retry", str(instance["id"]), code=1)
    assert f"instance {instance['id']} is running, not error; there is nothing to retry" in result.stderr
    assert cli.instance_status(instance["id"]) == "running"
    assert "does not exist" in cli.run("retry", "999", code=1).stderr


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"], ids=["not-json", "not-an-object"])
@pytest.mark.parametrize(
    "command",
    [
        ("start", "credit_hold"),
        ("complete", "1", "--user", "analyst1"),
        ("message", "customer_confirmed", "--key", "CUST-1"),
    ],
    ids=lambda c: c[0],
)
def test_data_that_is_not_a_json_object_is_a_usage_error(
    cli: Cli, command: tuple[str, ...], bad: str
) -> None:
    result = cli.run(*command, "--data", bad, code=2)
    assert "Invalid value for --data" in result.stderr


def test_tick_moves_the_simulated_clock_for_every_later_command(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_CLOCK", "simulated")
    cli.deploy_credit_hold()
    later = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)
    cli.json("tick", "--now", later.isoformat())
    # A command run afterwards, in another process, acts at the moved time: the clock is in the database.
    instance = cli.start_credit_hold("CUST-9")
    assert datetime.fromisoformat(instance["started_at"]) == later
    refused = cli.run("tick", "--now", (later - timedelta(days=1)).isoformat(), code=1)
    assert f"the simulated clock is at {later.isoformat()} and moves only forward" in refused.stderr
    app = create_app(load_settings())
    health = app.test_client().get("/api/health").json
    assert health["clock"] == {"mode": "simulated", "now": later.isoformat()}
    app.extensions["creditflow"].engine.dispose()

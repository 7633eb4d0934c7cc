"""Hostile review of the audit trail (issue 14, "An auditor's view", "every change names the person who
made it"): user administration on the command line was recorded as done by `system`, the name creditflow
itself acts under (timers, batch runs). Someone at the server's shell ran
`creditflow users add mallory --groups admin` and `creditflow users token mallory`: the trail said the
software made a new admin and issued its token, and named no one. The CLI's own actions now name the
operating-system account that ran them (`cli:ACCOUNT`); `system` stays for creditflow itself."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import Cli, cli, initialized_db  # noqa: F401 (fixtures)


def test_user_administration_on_the_command_line_names_the_shell_account(
    cli: Cli,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "ops7")
    cli.run("users", "add", "mallory", "--groups", "admin")
    cli.run("users", "token", "mallory")
    rows = cli.query(
        "SELECT action, actor FROM audit_events WHERE action IN ('user_created', 'api_token_issued') "
        "AND json_extract(detail, '$.username') = 'mallory' ORDER BY id"
    )
    assert rows == [("user_created", "cli:ops7"), ("api_token_issued", "cli:ops7")]


def test_a_clock_moved_on_the_command_line_names_the_shell_account(
    cli: Cli,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "ops7")
    monkeypatch.setenv("CREDITFLOW_CLOCK", "simulated")
    cli.run("tick", "--now", "2031-01-01T00:00:00+00:00")
    assert cli.query("SELECT actor FROM audit_events WHERE action = 'clock_moved'") == [("cli:ops7",)]
    assert cli.query("SELECT moved_by FROM simulated_clock") == [("cli:ops7",)]

"""Hostile review of segregation of duties (issue 14: "Deploying a diagram that calls a money-moving
operation needs a second process owner"): `creditflow deploy FILES` without `--user` deployed as `system`,
the name creditflow's own `init` deploys the shipped diagrams under, and the system's deployments are
active at once. So a one-man diagram granting credit limits went live from the shell with no second
process owner, the trail said `system` deployed it, and the segregation-of-duties report (which lists the
approved money-moving versions) did not show it at all. A deploy on the command line now names the shell
account, and one that moves money is refused unless a process owner is named with --user (then a second
process owner approves it, as for any upload)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import Cli, cli, initialized_db  # noqa: F401 (fixtures)
from tests.definitions.test_definition_approval import grant_bundle
from tests.helpers import credit_hold_files


def test_a_money_moving_diagram_deployed_from_the_shell_waits_for_a_process_owner(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "ops7")
    paths = []
    for name, data in grant_bundle("shell_grant").items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    refused = cli.run("deploy", *paths, code=1)
    assert "--user" in refused.stderr and "moves money" in refused.stderr
    assert cli.query("SELECT count(*) FROM process_definitions WHERE process_key = 'shell_grant'") == [(0,)]
    # Named, it waits for a second process owner, as any upload does.
    cli.run("deploy", *paths, "--user", "owner1")
    assert cli.query(
        "SELECT status, deployed_by FROM process_definitions WHERE process_key = 'shell_grant'"
    ) == [("pending", "owner1")]


def test_a_diagram_deployed_from_the_shell_names_the_shell_account(
    cli: Cli,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOGNAME", "ops7")
    cli.run("deploy", *(str(p) for p in credit_hold_files()))
    assert cli.query(
        "SELECT status, deployed_by FROM process_definitions WHERE process_key = 'credit_hold'"
    ) == [("active", "cli:ops7")]
    assert cli.query(
        "SELECT actor FROM audit_events WHERE action = 'definition_deployed' "
        "AND json_extract(detail, '$.process_key') = 'credit_hold'"
    ) == [("cli:ops7",)]

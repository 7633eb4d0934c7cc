"""`creditflow what-if KEY FILES... --from --to` prints what POST /api/what-if answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tests.cli.test_provisions_cli import cli, run
from tests.workflows.test_what_if import RAISED, period, seed_history, what_if

pytestmark = pytest.mark.usefixtures("shipped")
__all__ = ["cli"]  # a fixture


def test_the_cli_prints_the_api_s_summary_and_every_change_with_all(
    app: Flask,
    cli: CliRunner,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    clock: datetime,
    tmp_path: Path,
) -> None:
    seed_history(app, clock)
    table = tmp_path / "approval_authority.dmn"
    table.write_text(RAISED, encoding="utf-8")
    bounds = period(clock)
    api = what_if(client, demo_tokens["owner1"], {"approval_authority.dmn": RAISED}, **bounds)
    assert api.status_code == 200, api.json
    args = ["what-if", "credit_application", str(table), "--from", bounds["from"], "--to", bounds["to"]]
    paged = json.loads(run(cli, *args, "--per-page", "5").stdout)
    assert paged["summary"] == api.json["summary"]
    assert paged["changes"]["items"] == api.json["changes"]["items"][:5]
    every = json.loads(run(cli, *args, "--all").stdout)
    assert len(every["changes"]["items"]) == every["changes"]["total"] == api.json["summary"]["changed"] > 20


def test_a_broken_table_is_exit_2_with_file_and_line(cli: CliRunner, clock: datetime, tmp_path: Path) -> None:
    table = tmp_path / "approval_authority.dmn"
    table.write_text(RAISED.replace("&gt; 150000<", "&gt; = 150000<"), encoding="utf-8")
    day = (clock - timedelta(days=3)).date().isoformat()
    result = run(cli, "what-if", "credit_application", str(table), "--from", day, "--to", day, code=2)
    assert "approval_authority.dmn:" in result.stderr

"""Attack: move the simulated clock to a time it can never come back from, through the command line.

POST /api/admin/clock and /api/admin/tick refused times outside 1970..2999, but `creditflow tick --now`
did not: `tick --now 9999-12-31T23:59:59Z` in simulated mode stored year 9999 in `simulated_clock`,
and since the clock never moves back, the training database was stuck there for good (every later
payment, message and completion happened in year 9999, the daily jobs overflowed counting days).
`--now 0001-01-01T00:00+14:00` printed an OverflowError traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflows.cli.commands import main
from workflows.settings import Settings, SettingsError, load_settings
from workflows.store.stored_clock import StoredClockRow


@pytest.fixture
def simulated_cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CREDITFLOW_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "creditflow.toml"
    config.write_text(f'[mail]\nsink_port = 0\n[scheduler]\nlock_file = "{tmp_path / "cli.lock"}"\n')
    monkeypatch.setenv("CREDITFLOW_CONFIG", str(config))
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("CREDITFLOW_SECRET_KEY", "test-secret")
    monkeypatch.setenv("CREDITFLOW_CLOCK", "simulated")


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "1969-12-31T23:00:00Z"])
def test_tick_now_cannot_move_the_simulated_clock_out_of_range_for_good(
    simulated_cli: None, session_factory: sessionmaker[Session], when: str
) -> None:
    result = CliRunner().invoke(main, ["tick", "--now", when])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --now" in result.output
    with session_factory() as session:
        assert session.scalar(select(StoredClockRow.now)) is None  # the clock did not move


def test_tick_now_before_year_one_in_utc_is_a_usage_error_not_a_traceback(simulated_cli: None) -> None:
    result = CliRunner().invoke(main, ["tick", "--now", "0001-01-01T00:00+14:00"])
    assert not isinstance(result.exception, OverflowError)
    assert result.exit_code == 2, result.output


def test_a_clock_start_in_year_9999_is_refused_by_the_settings() -> None:
    with pytest.raises(SettingsError, match="clock.start"):
        load_settings({}, clock={"mode": "simulated", "start": "9999-12-31T00:00:00Z"})

"""CSV imports with bad files: huge amounts are named by line and field, a file that is not UTF-8 by its
name and line; `creditflow import` prints those lines and exits 2, never a traceback."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from workflows.cli.commands import main
from workflows.credit.csv_import import ImportRejected, import_customers
from workflows.credit.receivables import import_invoices
from workflows.settings import Settings
from workflows.store.db import transaction

CUSTOMERS = "external_id,name,email,industry,founded_year,annual_revenue,currency,credit_limit\n"
INVOICES = "customer_external_id,number,amount,currency,issue_date,due_date\n"


def rejected(factory: sessionmaker[Session], importer: object, path: Path, now: datetime) -> list[str]:
    with pytest.raises(ImportRejected) as caught, transaction(factory) as session:
        importer(session, path, actor="admin", now=now)  # type: ignore[operator]
    return caught.value.report.errors


def test_huge_amounts_are_named_by_line_and_field(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        CUSTOMERS
        + "E1,Alpha AG,,retail,1999,1e30,EUR,\n"
        + "E2,Beta AG,,retail,1999,,EUR,1e400\n"
        + "E3,Gamma AG,,retail,1999,99999999999999999999,EUR,10\n",
        encoding="utf-8",
    )
    assert rejected(session_factory, import_customers, path, clock) == [
        "line 2: annual_revenue: At most 999999999999999.99.",
        "line 3: credit_limit: At most 999999999999999.99.",
        "line 4: annual_revenue: At most 999999999999999.99.",
    ]


def test_huge_invoice_amounts_are_named_by_line(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS + "E1,Alpha AG,,retail,1999,,EUR,\n", encoding="utf-8")
    with transaction(session_factory) as session:
        import_customers(session, customers, actor="admin", now=clock)
    path = tmp_path / "invoices.csv"
    path.write_text(INVOICES + "E1,N1,1e30,EUR,2026-01-01,2026-02-01\n", encoding="utf-8")
    assert rejected(session_factory, import_invoices, path, clock) == [
        "line 2: amount: At most 999999999999999.99."
    ]


@pytest.mark.parametrize("line", [1, 3])
def test_a_file_that_is_not_utf8_is_named_with_its_line(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime, line: int
) -> None:
    rows = [CUSTOMERS.encode(), b"E1,Alpha AG,,retail,1999,,EUR,\n", b"E2,Caf\xe9 SA,,retail,1999,,EUR,\n"]
    if line == 1:
        rows[0] = rows[0].replace(b"currency", b"w\xe4hrung")
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"".join(rows))
    [error] = rejected(session_factory, import_customers, path, clock)
    assert error.startswith(f"line {line}: not UTF-8 text (byte 0x")
    assert "save the file as CSV UTF-8" in error


def test_the_import_command_names_the_file_and_exits_2_without_a_traceback(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(CUSTOMERS.encode() + b"E2,Caf\xe9 SA,,retail,1999,,EUR,\n")
    huge = tmp_path / "huge.csv"
    huge.write_text(CUSTOMERS + "E1,Alpha AG,,retail,1999,1e30,EUR,\n", encoding="utf-8")
    for path, says in [(latin1, "line 2: not UTF-8 text"), (huge, "line 2: annual_revenue: At most")]:
        result = CliRunner().invoke(main, ["import", "customers", str(path)])
        assert result.exit_code == 2, result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
        assert f"{path}: {says}" in result.output
        assert f"{path}: nothing imported" in result.output
        assert "Traceback" not in result.output

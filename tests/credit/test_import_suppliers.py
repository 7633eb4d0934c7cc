"""CSV import of suppliers (all-or-nothing, line-numbered errors) and the demo suppliers and contracts."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from workflows.cli.admin import IMPORTERS
from workflows.cli.commands import main
from workflows.cli.context import Context
from workflows.credit.csv_import import ImportRejected
from workflows.credit.models import Contract, ContractVersion, Supplier
from workflows.credit.suppliers import import_suppliers, seed_demo_suppliers
from workflows.settings import Settings
from workflows.store.db import transaction

HEADER = "external_id,name,email,registration_no,founded_year,annual_revenue,currency\n"
RISK_HEADER = HEADER.rstrip("\n") + ",litigation_count,penalties_count,delivery_score,external_rating\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "suppliers.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def run(factory: sessionmaker[Session], path: Path, now: datetime) -> int:
    with transaction(factory) as session:
        return import_suppliers(session, path, actor="admin", now=now).imported


def count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Supplier)) or 0


def test_good_file_imports_suppliers_with_their_risk_inputs(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    path = write(
        tmp_path,
        "S1,Baltic Steel Supply AB,contracts@baltic.example,SE5566,1978,85000000.00,EUR,0,1,94,a\n"
        'S2,"Müller, Sohn & Co",info@mueller.example,,,,CHF,,,,\n',
        RISK_HEADER,
    )
    steps: list[int] = []
    with transaction(session_factory) as session:
        report = import_suppliers(session, path, actor="admin", now=clock, progress=steps.append)
    assert (report.imported, steps) == (2, [1, 1])
    with session_factory() as session:
        baltic = session.scalar(select(Supplier).where(Supplier.external_id == "S1"))
        assert baltic is not None
        assert (
            baltic.annual_revenue,
            baltic.penalties_count,
            baltic.delivery_score,
            baltic.external_rating,
        ) == (
            Decimal("85000000.00"),
            1,
            94,
            "A",
        )
        mueller = session.scalar(select(Supplier).where(Supplier.external_id == "S2"))
        assert mueller is not None and mueller.name == "Müller, Sohn & Co" and mueller.founded_year is None


def test_any_bad_row_imports_nothing_and_every_bad_line_is_named(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    path = write(
        tmp_path,
        "S1,Alpha AB,a@alpha.example,,1999,1000.00,EUR,0,0,80,\n"
        "S2,,not-an-email,,3000,12.345,eur,-1,x,101,\n"
        "S1,Again,,,1999,1,EUR,,,,\n"
        ",Nameless,n@n.example,,,,EUR,,,,\n",
        RISK_HEADER,
    )
    with pytest.raises(ImportRejected) as rejected:
        run(session_factory, path, clock)
    errors = rejected.value.report.errors
    assert {e.split(":")[0] for e in errors} == {"line 3", "line 4", "line 5"}
    for expected in (
        "line 3: name",
        "line 3: email",
        "line 3: founded_year",
        "line 3: annual_revenue",
        "line 3: currency",
        "line 3: litigation_count",
        "line 3: penalties_count",
        "line 3: delivery_score: At most 100.",
        "line 4: external_id: S1 repeats line 2",
        "line 4: email: This field is required.",
        "line 5: external_id: This field is required.",
    ):
        assert any(e.startswith(expected) for e in errors), (expected, errors)
    assert count(session_factory) == 0


def test_existing_suppliers_and_broken_headers_are_refused(
    tmp_path: Path, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    run(session_factory, write(tmp_path, "S1,Alpha AB,a@alpha.example,,1999,1,EUR\n"), clock)
    with pytest.raises(ImportRejected, match="line 2: external_id: supplier S1 exists already"):
        run(session_factory, write(tmp_path, "S1,Alpha AB,a@alpha.example,,1999,1,EUR\n"), clock)
    with pytest.raises(ImportRejected, match="line 1: missing column"):
        run(session_factory, write(tmp_path, "x,y\n", header="external_id,name\n"), clock)
    with pytest.raises(ImportRejected, match="line 1: unknown column"):
        run(
            session_factory,
            write(tmp_path, "S2,B,b@b.example,,,,EUR,red\n", HEADER.rstrip() + ",colour\n"),
            clock,
        )
    assert count(session_factory) == 1


def test_cli_imports_suppliers_or_names_every_bad_line(
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
) -> None:
    assert IMPORTERS["suppliers"] is import_suppliers
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)

    def creditflow(*args: str) -> Result:
        cli_context = Context()  # passed in, so its engine can be closed (a CLI process just exits)
        try:
            return CliRunner().invoke(main, list(args), obj=cli_context)
        finally:
            cli_context.rt.engine.dispose()

    bad = write(tmp_path, "S1,Alpha AB,a@alpha.example,,1999,1,EUR\nS2,Beta,,,,,EUR\n")
    result = creditflow("import", "suppliers", str(bad))
    assert result.exit_code == 2
    assert f"{bad}: line 3: email: This field is required." in result.output
    assert count(session_factory) == 0
    good = write(tmp_path, "S1,Alpha AB,a@alpha.example,,1999,1,EUR\n")
    result = creditflow("import", "suppliers", str(good))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"kind": "suppliers", "imported": 1}


def test_demo_suppliers_and_contracts_are_seeded_once_and_versions_are_immutable(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        names = seed_demo_suppliers(session, clock)
    assert "FlashParts Trading Ltd" in names and len(names) == 4
    with transaction(session_factory) as session:
        assert seed_demo_suppliers(session, clock) == []
    with session_factory() as session:
        contracts = session.scalars(select(Contract).order_by(Contract.number)).all()
        assert [c.number for c in contracts] == ["PC-2026-001", "PC-2026-002", "PC-2026-003"]
        assert session.scalar(select(func.count()).select_from(ContractVersion)) == 3
    with session_factory() as session:
        version = session.scalars(select(ContractVersion)).first()
        assert version is not None
        version.terms = {"price": "free"}
        with pytest.raises(RuntimeError, match="is immutable"):
            session.flush()

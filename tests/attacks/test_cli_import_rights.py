"""`creditflow import ... --user NAME` acts as that user, so it takes that user's rights, as the REST API
does: invoices and payments are posted by finance and collections, suppliers created by procurement and
procurement_manager, customers (the ERP migration) imported by admins. Only the customers were checked:
sales1 or auditor1 imported a payment (which closes a dunning case as paid) and a supplier. Found by an
attack on the build."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import Cli, cli, initialized_db  # noqa: F401 - the fixtures

PAYMENT = (
    "customer_external_id,invoice_number,amount,currency,date,reference\n"
    "C-1001,,5000.00,EUR,2026-03-01,{ref}\n"
)
SUPPLIER = (
    "external_id,name,email,registration_no,founded_year,annual_revenue,currency\n"
    "S-{ref},Forged Supply,forged@supply.example,REG-{ref},1990,1000000.00,EUR\n"
)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("user", ["sales1", "auditor1", "owner1"])
def test_an_import_as_a_user_takes_that_users_rights(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    user: str,
) -> None:
    payments_before = cli.query("SELECT count(*) FROM payments")
    suppliers_before = cli.query("SELECT count(*) FROM suppliers")
    for kind, text in (("payments", PAYMENT), ("invoices", None), ("suppliers", SUPPLIER)):
        path = write(tmp_path, f"{kind}.csv", (text or PAYMENT).format(ref=user))
        refused = cli.run("import", kind, path, "--user", user, code=1)
        assert f"{user} may not import {kind}" in refused.output, refused.output
    assert cli.query("SELECT count(*) FROM payments") == payments_before
    assert cli.query("SELECT count(*) FROM suppliers") == suppliers_before


@pytest.mark.parametrize(
    ("user", "kind", "text"), [("finance1", "payments", PAYMENT), ("buyer1", "suppliers", SUPPLIER)]
)
def test_the_groups_that_may_post_import(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    user: str,
    kind: str,
    text: str,
) -> None:
    path = write(tmp_path, f"{kind}.csv", text.format(ref=user))
    assert '"imported": 1' in cli.run("import", kind, path, "--user", user).output

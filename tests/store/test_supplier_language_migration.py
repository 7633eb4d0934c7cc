"""Migration 0014g on SQLite and PostgreSQL: a supplier on file gets the language English (what its letters
were written in) and no contact, customers get an empty contact column, and a downgrade takes them away."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from workflows.store.schema import alembic_config, upgrade_schema

pytestmark = pytest.mark.db
NOW = "2026-03-02 09:00:00"


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def _migrate(engine: Engine, verb: str, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, verb)(cfg, revision)


def test_0014g_gives_suppliers_on_file_english_and_goes_down_again(db_engine: Engine) -> None:
    _migrate(db_engine, "downgrade", "0014f")
    try:
        assert "language" not in _columns(db_engine, "suppliers")
        assert "contact_name" not in _columns(db_engine, "customers")
        with db_engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO suppliers (id, name, email, currency, created_at, updated_at)"
                    " VALUES (1, '广州包装制品有限公司', 'sales@gz.example', 'CNY', :now, :now)"
                ),
                {"now": NOW},
            )
        _migrate(db_engine, "upgrade", "0014g")
        with db_engine.connect() as db:
            row = db.execute(text("SELECT name, language, contact_name FROM suppliers")).one()
        assert tuple(row) == ("广州包装制品有限公司", "en", None)
        assert "contact_name" in _columns(db_engine, "customers")
        with db_engine.begin() as db:
            db.execute(text("UPDATE suppliers SET language = 'zh', contact_name = '李晓梅'"))
        _migrate(db_engine, "downgrade", "0014f")
        with db_engine.connect() as db:
            assert db.execute(text("SELECT name FROM suppliers")).scalar_one() == "广州包装制品有限公司"
        assert {"language", "contact_name"}.isdisjoint(_columns(db_engine, "suppliers"))
        assert "contact_name" not in _columns(db_engine, "customers")
    finally:
        # Back to the head: on PostgreSQL the next tests share this database.
        with db_engine.begin() as db:
            db.execute(text("DELETE FROM suppliers"))
        upgrade_schema(db_engine)
    assert {"language", "contact_name"} <= _columns(db_engine, "suppliers")

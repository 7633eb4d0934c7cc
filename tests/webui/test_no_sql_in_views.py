"""Views build no SQL: every query of webui/ lives in a read-side function under workflows/ (issue 12)."""

from __future__ import annotations

import ast
from pathlib import Path

WEBUI = Path(__file__).resolve().parents[2] / "webui"
# SQLAlchemy's statement builders; a view that needs one should call a workflows/ function instead.
STATEMENT_BUILDERS = frozenset({"select", "insert", "update", "delete", "text"})


def sql_builders_in(source: str, filename: str) -> list[str]:
    """`FILE:LINE: what` for each import or call of a SQLAlchemy statement builder in the source."""
    tree = ast.parse(source, filename)
    found = []
    # Names under which the sqlalchemy package (or a submodule) is reachable: `import sqlalchemy as sa`.
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    modules.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in STATEMENT_BUILDERS:
                    found.append(f"{filename}:{node.lineno}: imports {alias.name} from {node.module}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in STATEMENT_BUILDERS and _root_name(node.func.value) in modules:
                found.append(f"{filename}:{node.lineno}: calls {ast.unparse(node.func)}()")
    return sorted(found)


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_view_modules_build_no_sql() -> None:
    modules = sorted(WEBUI.rglob("*.py"))
    assert WEBUI / "api" / "__init__.py" in modules, f"no view modules found under {WEBUI}"
    problems = [
        problem
        for path in modules
        for problem in sql_builders_in(path.read_text(encoding="utf-8"), str(path.relative_to(WEBUI.parent)))
    ]
    assert not problems, (
        "views build no SQL: move these queries into a read-side function under workflows/ "
        "(workflows/inbox.py, instances.py, credit/*_views.py, ...) and call it from the view:\n"
        + "\n".join(problems)
    )


def test_the_check_finds_imported_and_qualified_builders() -> None:
    source = (
        "from sqlalchemy import func, select\n"
        "from sqlalchemy.sql.expression import text as sql_text\n"
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import Session\n"
        "rows = sa.delete(Model)\n"
        "count = func.count()\n"
        "session.execute(query.update())\n"
    )
    assert sql_builders_in(source, "webui/example.py") == [
        "webui/example.py:1: imports select from sqlalchemy",
        "webui/example.py:2: imports text from sqlalchemy.sql.expression",
        "webui/example.py:5: calls sa.delete()",
    ]

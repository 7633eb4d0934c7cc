"""The PostgreSQL server log, for tests that show an expected race logs no ERROR line.

CI starts its PostgreSQL with `-l $PGROOT/server.log` and exports that path as CREDITFLOW_TEST_PG_LOG.
On SQLite, or without the variable, there is no log to read and the check passes vacuously
(`PostgresLog.path` is None), so the same test runs everywhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from workflows.settings import Settings

ERROR_LINE = re.compile(r"\b(ERROR|FATAL|PANIC):")


@dataclass
class PostgresLog:
    """The part of the server log written since the test began."""

    path: Path | None
    start: int = 0

    def lines(self) -> list[str]:
        if self.path is None:
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.start)
            return fh.read().decode("utf-8", "replace").splitlines()

    def errors(self) -> list[str]:
        return [line for line in self.lines() if ERROR_LINE.search(line)]

    def assert_no_errors(self) -> None:
        found = self.errors()
        assert not found, f"the PostgreSQL log ({self.path}) has ERROR lines:\n" + "\n".join(found[:20])


def postgres_log(settings: Settings) -> PostgresLog:
    """The PostgreSQL log from this point on (path None on SQLite, or when CI did not name it)."""
    named = os.environ.get("CREDITFLOW_TEST_PG_LOG", "")
    if not settings.database.url.startswith("postgresql") or not named:
        return PostgresLog(None)
    path = Path(named)
    return PostgresLog(path, path.stat().st_size)

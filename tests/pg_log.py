"""The PostgreSQL server log, for tests that show an expected race logs no ERROR line.

CI starts its PostgreSQL with `-l $PGROOT/server.log` and exports that path as CREDITFLOW_TEST_PG_LOG.
On SQLite, or without the variable, there is no log to read and the check passes vacuously
(`PostgresLog.path` is None), so the same test runs everywhere.

Under pytest-xdist the other workers write into the same log from their own databases (`postgres_gw1`, ...),
some of them ERRORs on purpose. CI's `log_line_prefix` names the database (`db=postgres_gw0 `), so a test
reads only its own database's lines; lines of processes without a database (`db= `: autovacuum,
checkpointer) are skipped too, since the application's races happen in its sessions. A log without that
prefix is read whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from workflows.settings import Settings

ERROR_LINE = re.compile(r"\b(ERROR|FATAL|PANIC):")
DATABASE_TAG = re.compile(r"^[^\[]*\[\d+\] db=(\S*) ")  # .ci/run: log_line_prefix='%m [%p] db=%d '


@dataclass
class PostgresLog:
    """The part of the server log written since the test began."""

    path: Path | None
    start: int = 0
    database: str = ""

    def lines(self) -> list[str]:
        """The lines written since the start, less those another database (or none) wrote."""
        if self.path is None:
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.start)
            lines = fh.read().decode("utf-8", "replace").splitlines()
        return [line for line in lines if self._ours(line)]

    def _ours(self, line: str) -> bool:
        tag = DATABASE_TAG.search(line)
        return tag is None or tag.group(1) == self.database

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
    return PostgresLog(path, path.stat().st_size, make_url(settings.database.url).database or "")

"""Attack: name one SQLite database two ways, once as an SQLite URI filename (`file:...?uri=true`).

SQLite opens the same file for `sqlite:////srv/cf.db` and `sqlite:///file:/srv/cf.db?uri=true`, but the
scheduler lock took the URI text for a path: `file:/srv/cf.db.scheduler-lock` relative to the working
directory. Two servers on one database both ran their schedulers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.registry import build_operations
from workflows.batch.scheduler import LOCK_SUFFIX, SingleSchedulerLock, scheduler_lock_path
from workflows.engine.runtime import Runtime
from workflows.settings import load_settings
from workflows.store.db import make_engine


@pytest.fixture
def runtimes() -> Iterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for rt in made:
        rt.engine.dispose()


def runtime(made: list[Runtime], url: str) -> Runtime:
    settings = load_settings({}, database={"url": url})  # the default lock file: next to the database
    made.append(Runtime(make_engine(settings.database), settings, build_operations()))
    return made[-1]


def test_a_uri_filename_names_the_same_lock_as_the_plain_path(
    runtimes: list[Runtime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "shared" / "cf db.db"
    database.parent.mkdir()
    plain = runtime(runtimes, f"sqlite:///{database}")
    uri = runtime(runtimes, f"sqlite:///file:{database.as_posix().replace(' ', '%20')}?uri=true&mode=rwc")
    relative = runtime(runtimes, "sqlite:///file:shared/cf%20db.db?uri=true")

    expected = database.with_name(database.name + LOCK_SUFFIX)
    assert scheduler_lock_path(plain) == scheduler_lock_path(uri) == scheduler_lock_path(relative) == expected
    first, second = SingleSchedulerLock(plain), SingleSchedulerLock(uri)
    try:
        assert (first.acquire(), second.acquire()) == (True, False)
    finally:
        first.release()
        second.release()

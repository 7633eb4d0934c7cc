"""Fixtures of the hostile-review regression tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from handlers.registry import build_operations
from workflows.engine.runtime import Runtime
from workflows.settings import Settings


@pytest.fixture
def rt(settings: Settings, db_engine: Engine) -> Runtime:
    """A runtime with the shipped operations on the test's database."""
    return Runtime(db_engine, settings, build_operations())

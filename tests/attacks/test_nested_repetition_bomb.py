"""A snippet of the shape that runs inside the server (no loops, a few linear builtins, at most 120 nodes)
could still hold it for minutes: `*` let each level of a nested list or tuple repeat up to 10,000 items,
so `[[["a"] * n] * n] * n` holds n**3 references in three small lists, and comparing two of them (or
hashing such a tuple) walks them all in C, where no time limit reaches. With n = 10,000 a gateway condition
or DMN cell kept the server and its write lock for about 20 minutes. Found by an attack on the build.

Repeating or joining lists and tuples is bounded in the server by their size with every reference counted
again; a bigger one hands the snippet to the script worker, whose time limit stops it."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.engine.test_bomb_diagrams import (
    BUDGET_S,
    SLACK_S,
    deploy_and_start,
    dmn_bomb,
    incident_of,
    script_bomb,
    status_of,
)
from workflows.engine import script_pool
from workflows.engine.runner import Runtime
from workflows.store.models import InstanceStatus

N = 3000  # about 35 s in the server before the fix; 10,000 is about 20 minutes
COMPARE = f'[[["a"] * {N}] * {N}] * {N} == [[["a"] * {N}] * {N}] * {N}'
HASH = f'len({{((("a",) * {N},) * {N},) * {N}}})'


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(script_pool, "TIME_LIMIT_S", BUDGET_S)
    return BUDGET_S


@pytest.mark.parametrize("expression", [COMPARE, HASH])
def test_a_script_comparing_nested_repetitions_is_stopped_by_the_time_limit(
    rt: Runtime,
    clock: datetime,
    budget: float,
    expression: str,
) -> None:
    instance_id, took = deploy_and_start(rt, clock, script_bomb(f"same = {expression}"))
    assert took < budget + SLACK_S
    assert status_of(rt.factory, instance_id) == InstanceStatus.ERROR
    incident = incident_of(rt.factory, instance_id)
    assert incident.bpmn_id == "run_script" and re.search("longer than", incident.message), incident.message


def test_a_dmn_cell_comparing_nested_repetitions_is_stopped_by_the_time_limit(
    rt: Runtime,
    clock: datetime,
    budget: float,
) -> None:
    instance_id, took = deploy_and_start(rt, clock, dmn_bomb(f"1 if {COMPARE} else 0"))
    assert took < budget + SLACK_S
    assert status_of(rt.factory, instance_id) == InstanceStatus.ERROR
    assert re.search("longer than", incident_of(rt.factory, instance_id).message)

"""A script, DMN cell or template in a deployed diagram that leaves a value task data cannot hold fails its
own step with an incident naming the element, instead of failing every later save of the instance.

Found by the hostile review: `x = {(1, 2): 3}`, `x = b"..."` or `x = 1j` made the step's save raise TypeError,
so the user completing the task before it got a 500 on every try; at a timer, `tick` (and every scheduler
round) stopped at that instance, so no later timer, reminder, daily job or e-mail ran. On PostgreSQL
`x = float("nan")` did the same (its json type refuses NaN). A list nested 600 deep killed the script worker
while it pickled the result, reported as a broken time or memory budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from tests.engine.test_bomb_diagrams import dmn_bomb, incident_of, script_bomb, status_of, user_task_bomb
from workflows.batch.jobs import tick
from workflows.definitions.deploy import deploy_files
from workflows.engine import runner
from workflows.engine.runtime import Runtime
from workflows.store.db import transaction
from workflows.store.models import InboxItem, InstanceStatus
from workflows.users import SYSTEM

UNSTORABLE = [
    ("x = {(1, 2): 3}", "has the key (1, 2)"),
    ("x = 1j", "is a complex"),
    ("x = b'abc'", "is a bytes"),
    ("x = range(3)", "is a range"),
    ("x = (i for i in range(3))", "is a generator"),
    ("x = float('nan')", "is nan"),
    ("x = [float('inf')]", "is inf"),
    ("x = Decimal('NaN')", "is NaN"),
    ("x = 'a\\x00b'", "NUL character"),
    ("x = {'\\ud800': 1}", "has the key"),
    ("x = '\\ud800'", "unpaired surrogate"),
    # Deeper than the state's serializer can recurse; 600 levels also killed the worker while pickling.
    ("x = []\nfor _ in range(150):\n    x = [x]", "nested deeper than 100 levels"),
    ("x = []\nfor _ in range(600):\n    x = [x]", "nested deeper than 100 levels"),
]


def deploy(rt: Runtime, clock: datetime, files: dict[str, bytes]) -> None:
    with transaction(rt.factory) as session:
        deploy_files(session, files, rt.operations, deployed_by="owner1", now=clock)


@pytest.mark.parametrize(("script", "reason"), UNSTORABLE)
def test_a_script_leaving_a_value_task_data_cannot_hold_fails_its_step_with_an_incident(
    rt: Runtime, clock: datetime, script: str, reason: str
) -> None:
    deploy(rt, clock, script_bomb(script))

    instance = runner.start_instance(rt, "bomb", {"amount": 1}, actor=SYSTEM, now=clock)

    assert status_of(rt.factory, instance.id) == InstanceStatus.ERROR
    incident = incident_of(rt.factory, instance.id)
    assert incident.bpmn_id == "run_script"
    assert "cannot be kept in task data" in incident.message and reason in incident.message, incident.message


@pytest.mark.parametrize(
    "script", ["x = {'1': [1, 2.5, Decimal('1.50'), None, True]}", "x = {1, 2}", "x = timedelta(days=1)"]
)
def test_values_task_data_holds_still_pass(rt: Runtime, clock: datetime, script: str) -> None:
    deploy(rt, clock, script_bomb(script))

    instance = runner.start_instance(rt, "bomb", {"amount": 1}, actor=SYSTEM, now=clock)

    assert status_of(rt.factory, instance.id) == InstanceStatus.COMPLETED


@pytest.mark.parametrize("cell", ['float("nan")', '{"a": 1j}'])
def test_a_dmn_cell_returning_a_value_task_data_cannot_hold_fails_the_business_rule_task(
    rt: Runtime, clock: datetime, cell: str
) -> None:
    deploy(rt, clock, dmn_bomb(cell))

    instance = runner.start_instance(rt, "bomb", {"amount": 1}, actor=SYSTEM, now=clock)

    incident = incident_of(rt.factory, instance.id)
    assert incident.bpmn_id == "decide" and "cannot be kept in task data" in incident.message


def test_instructions_never_carry_nul_or_lone_surrogates(rt: Runtime, clock: datetime) -> None:
    deploy(rt, clock, user_task_bomb(instructions='Pay {{ "a\\x00b\\ud800" }} now', subject='"s\\x00"'))

    instance = runner.start_instance(rt, "bomb", {"amount": 1}, actor=SYSTEM, now=clock)

    assert status_of(rt.factory, instance.id) == InstanceStatus.RUNNING
    with rt.factory() as session:
        (item,) = session.scalars(select(InboxItem).where(InboxItem.instance_id == instance.id)).all()
    assert item.instructions == "Pay ab? now"
    assert "\x00" not in (item.subject or "")


def timed(key: str, script: str) -> dict[str, bytes]:
    """A process `key` that waits one minute on a timer, then runs `script`."""
    bpmn = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="{key}_definitions"
                  targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="started"><bpmn:outgoing>to_wait</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="to_wait" sourceRef="started" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>to_wait</bpmn:incoming>
      <bpmn:outgoing>to_script</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1M"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="to_script" sourceRef="wait" targetRef="run_script" />
    <bpmn:scriptTask id="run_script">
      <bpmn:incoming>to_script</bpmn:incoming><bpmn:outgoing>to_done</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_done" sourceRef="run_script" targetRef="done" />
    <bpmn:endEvent id="done"><bpmn:incoming>to_done</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
    return {f"{key}.bpmn": bpmn.encode()}


def test_an_unstorable_result_at_a_timer_leaves_the_rest_of_the_tick_running(
    rt: Runtime, clock: datetime
) -> None:
    deploy(rt, clock, timed("broken", "x = {(1, 2): 3}"))
    deploy(rt, clock, timed("healthy", "x = 1"))
    broken = runner.start_instance(rt, "broken", {}, actor=SYSTEM, now=clock).id
    healthy = runner.start_instance(rt, "healthy", {}, actor=SYSTEM, now=clock).id

    done = tick(rt, None, clock + timedelta(minutes=2), jobs={})

    assert (done.timers, done.failed) == (1, [broken])
    assert status_of(rt.factory, broken) == InstanceStatus.ERROR
    assert incident_of(rt.factory, broken).bpmn_id == "run_script"
    assert status_of(rt.factory, healthy) == InstanceStatus.COMPLETED
    # The failed instance is retried with backoff ([scheduler] retry_base_s), not on every tick.
    assert tick(rt, None, clock + timedelta(minutes=2, seconds=30), jobs={}).as_dict()["failed"] == []

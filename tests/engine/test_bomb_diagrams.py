"""Bombs in deployed diagrams: a script, a DMN cell, a task's instructions and its subject that would run
forever or exhaust memory each fail their step with an incident naming the element, within the time
budget, while the server process stays small (in process here; as a `creditflow serve` subprocess below).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from workflows.definitions.deploy import deploy_files
from workflows.engine import runner, script_pool
from workflows.engine.runner import Runtime
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import InboxItem, Incident, InstanceStatus
from workflows.users import SYSTEM

BUDGET_S = 1.0
# A step that hits a limit also pays for a replacement worker (a Python start, slower on a busy machine).
SLACK_S = 3.0
MAX_GROWTH_MB = 100

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="bomb_definitions" targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="bomb" name="Bomb" isExecutable="true">
    <bpmn:startEvent id="bomb_started"><bpmn:outgoing>to_bomb</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="to_bomb" sourceRef="bomb_started" targetRef="{element}" />
"""
TAIL = """    <bpmn:sequenceFlow id="to_done" sourceRef="{element}" targetRef="bomb_done" />
    <bpmn:endEvent id="bomb_done"><bpmn:incoming>to_done</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""
DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="bomb_rules" name="Bomb rules"
             namespace="http://creditflow.example/dmn">
  <decision id="bomb_decision" name="Bomb decision">
    <decisionTable id="bomb_table" hitPolicy="FIRST">
      <input id="amount_input" label="Amount">
        <inputExpression id="amount_expression" typeRef="integer"><text>amount</text></inputExpression>
      </input>
      <output id="result_output" label="Result" name="result" typeRef="integer" />
      <rule id="any_amount">
        <inputEntry id="any_amount_in"><text>&gt;= 0</text></inputEntry>
        <outputEntry id="any_amount_out"><text>{cell}</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def script_bomb(script: str) -> dict[str, bytes]:
    task = f'    <bpmn:scriptTask id="run_script"><bpmn:incoming>to_bomb</bpmn:incoming><bpmn:outgoing>to_done</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>\n'  # noqa: E501
    return {
        "bomb.bpmn": (HEAD.format(element="run_script") + task + TAIL.format(element="run_script")).encode()
    }


def dmn_bomb(cell: str) -> dict[str, bytes]:
    task = (
        '    <bpmn:businessRuleTask id="decide"><bpmn:extensionElements>'
        "<spiffworkflow:calledDecisionId>bomb_decision</spiffworkflow:calledDecisionId>"
        "</bpmn:extensionElements><bpmn:incoming>to_bomb</bpmn:incoming><bpmn:outgoing>to_done</bpmn:outgoing>"
        "</bpmn:businessRuleTask>\n"
    )
    bpmn = HEAD.format(element="decide") + task + TAIL.format(element="decide")
    return {"bomb.bpmn": bpmn.encode(), "bomb_rules.dmn": DMN.format(cell=escape(cell)).encode()}


def user_task_bomb(*, instructions: str = "Read this.", subject: str | None = None) -> dict[str, bytes]:
    prop = f'<spiffworkflow:property name="subject" value={quoteattr(subject)} />' if subject else ""
    task = (
        '    <bpmn:userTask id="read_instructions"><bpmn:extensionElements>'
        f"<spiffworkflow:properties>{prop}</spiffworkflow:properties>"
        f"<spiffworkflow:instructionsForEndUser>{escape(instructions)}</spiffworkflow:instructionsForEndUser>"
        "</bpmn:extensionElements><bpmn:incoming>to_bomb</bpmn:incoming><bpmn:outgoing>to_done</bpmn:outgoing>"
        "</bpmn:userTask>\n"
    )
    bpmn = HEAD.format(element="read_instructions") + task + TAIL.format(element="read_instructions")
    return {"bomb.bpmn": bpmn.encode()}


def peak_rss_reset() -> None:
    """Start measuring this process's peak resident size afresh (Linux: VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def status_kb(field: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(script_pool, "TIME_LIMIT_S", BUDGET_S)
    return BUDGET_S


@pytest.fixture
def rt(settings: Settings, db_engine: Engine) -> Runtime:
    return Runtime(db_engine, settings, build_operations())


@pytest.fixture
def peak_rss() -> Iterator[None]:
    """Fails the test when this process's resident size grew by MAX_GROWTH_MB at any moment."""
    before = status_kb("VmRSS")
    peak_rss_reset()
    yield
    grown_mb = (status_kb("VmHWM") - before) / 1024
    assert grown_mb < MAX_GROWTH_MB, f"the test process grew by {grown_mb:.0f} MB while the bomb ran"


def deploy_and_start(rt: Runtime, clock: datetime, files: dict[str, bytes]) -> tuple[int, float]:
    with transaction(rt.factory) as session:
        deploy_files(session, files, rt.operations, deployed_by="owner1", now=clock)
    began = time.monotonic()
    instance = runner.start_instance(rt, "bomb", {"amount": 1}, actor=SYSTEM, now=clock)
    return instance.id, time.monotonic() - began


def incident_of(factory: sessionmaker[Session], instance_id: int) -> Incident:
    with factory() as session:
        (incident,) = session.scalars(select(Incident).where(Incident.instance_id == instance_id)).all()
        return incident


def status_of(factory: sessionmaker[Session], instance_id: int) -> InstanceStatus:
    with factory() as session:
        from workflows.store.models import ProcessInstance

        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        return instance.status


SCRIPT_BOMBS = [
    # The reviewer's script: the old line tracer's exception was caught, and the loop ran on.
    ("try:\n    while True:\n        pass\nexcept:\n    pass", "longer than 1 s"),
    (
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
        "longer than 1 s",
    ),
    ("try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass", "longer than 1 s"),
    ("size = len([[0] * 9000000 for _ in range(40)])", "more than 256 MB"),
    # Grows in C until memory runs out; on a busy machine the clock may run out first.
    ("items = [1]\nitems.extend(map(abs, items))", "more than 256 MB|longer than 1 s"),
    ("text = 'x'.ljust(10 ** 10)", "more than 256 MB"),
    ("text = '%0999999999d' % 1", "more than 256 MB"),
    ("text = f'{1:>999999999}'", "more than 256 MB"),
    ("text = ('a' * 10 ** 7).replace('a', 'b' * 10 ** 6)", "more than 256 MB"),
    # Small in memory (one string, many references), but a gigabyte once the state is written as JSON.
    ("rows = [['x' * 1000] * 1000] * 1000", "as task data"),
    ("row = ['x' * 1000] * 1000\nfor _ in range(2):\n    row = [row] * 1000", "as task data"),
    # An int JSON cannot write: every later save of the instance would fail (a 500, the step undone).
    ("n = 2 ** 90000", "4,300 digits"),
]


@pytest.mark.parametrize(("script", "reason"), SCRIPT_BOMBS)
def test_script_bomb_fails_its_step_with_an_incident_within_the_budget(
    rt: Runtime, clock: datetime, budget: float, peak_rss: None, script: str, reason: str
) -> None:
    instance_id, took = deploy_and_start(rt, clock, script_bomb(script))

    assert status_of(rt.factory, instance_id) == InstanceStatus.ERROR
    incident = incident_of(rt.factory, instance_id)
    assert incident.bpmn_id == "run_script" and re.search(reason, incident.message), incident.message
    assert took < budget + SLACK_S


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("len([[0] * 9000000 for _ in range(40)])", "more than 256 MB"),
        ("sum(1 for a in range(10 ** 6) for b in range(10 ** 6))", "longer than 1 s"),
        ('len("%0999999999d" % amount)', "more than 256 MB"),
        ('[["x" * 1000] * 1000] * 1000', "as task data"),
    ],
)
def test_dmn_output_cell_bomb_fails_the_business_rule_task(
    rt: Runtime, clock: datetime, budget: float, peak_rss: None, cell: str, reason: str
) -> None:
    instance_id, took = deploy_and_start(rt, clock, dmn_bomb(cell))

    incident = incident_of(rt.factory, instance_id)
    assert incident.bpmn_id == "decide" and reason in incident.message, incident.message
    assert took < budget + SLACK_S


TEMPLATE_BOMBS = [
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "longer than 1 s"),
    ('{{ "x" * 10 ** 9 }}', "more than 256 MB"),
    ('{{ "x" | center(10 ** 9) }}', "more than 256 MB"),
    ("{% for a in range(100000) %}0123456789{% endfor %}", "longer than 20,000 characters"),
]


@pytest.mark.parametrize(("template", "reason"), TEMPLATE_BOMBS)
def test_instructions_bomb_fails_the_user_task_with_an_incident(
    rt: Runtime, clock: datetime, budget: float, peak_rss: None, template: str, reason: str
) -> None:
    instance_id, took = deploy_and_start(rt, clock, user_task_bomb(instructions=template))

    incident = incident_of(rt.factory, instance_id)
    assert incident.bpmn_id == "read_instructions" and reason in incident.message
    assert took < budget + SLACK_S
    with rt.factory() as session:  # the failure path shows the template as written; it does not rerun it
        (item,) = session.scalars(select(InboxItem).where(InboxItem.instance_id == instance_id)).all()
        assert item.instructions == template


def test_subject_bomb_fails_the_user_task_instead_of_costing_the_budget_on_every_step(
    rt: Runtime, clock: datetime, budget: float, peak_rss: None
) -> None:
    subject = "str(sum(1 for a in range(10 ** 6) for b in range(10 ** 6)))"
    instance_id, took = deploy_and_start(rt, clock, user_task_bomb(subject=subject))

    incident = incident_of(rt.factory, instance_id)
    assert incident.bpmn_id == "read_instructions" and "subject" in incident.message
    assert "longer than 1 s" in incident.message
    assert took < budget + SLACK_S


def test_instructions_render_the_task_data_in_the_sandbox(rt: Runtime, clock: datetime) -> None:
    template = (
        "Amount {{ amount|money }}{% for i in range(2) %}.{% endfor %} {{ amount.__class__ }}"
        "{{ cycler.__init__.__globals__ }}"
    )
    instance_id, _ = deploy_and_start(rt, clock, user_task_bomb(instructions=template))

    assert status_of(rt.factory, instance_id) == InstanceStatus.RUNNING
    with rt.factory() as session:
        (item,) = session.scalars(select(InboxItem).where(InboxItem.instance_id == instance_id)).all()
    # The loop needed the worker; private attributes render as nothing in the sandbox.
    assert item.instructions.startswith("Amount 1.00.. ")
    assert "class" not in item.instructions and "os" not in item.instructions


# --- the same bombs against a real server ------------------------------------------------------------


@pytest.mark.slow
def test_bombs_leave_a_serve_process_small_and_responsive(tmp_path: Path) -> None:
    from tests.e2e.conftest import start_server

    server = start_server(tmp_path / "serve")
    try:
        bombs = {
            "script": script_bomb(SCRIPT_BOMBS[0][0]),
            "memory": script_bomb(SCRIPT_BOMBS[3][0]),
            "dmn": dmn_bomb("len([[0] * 9000000 for _ in range(40)])"),
            "template": user_task_bomb(instructions=TEMPLATE_BOMBS[2][0]),
        }
        failed = {}
        server.token("admin")  # issued by a CLI run; not part of what is timed
        for name, files in bombs.items():
            directory = tmp_path / name
            directory.mkdir()
            for file_name, content in files.items():
                (directory / file_name).write_bytes(content)
            server.cli("deploy", *sorted(str(p) for p in directory.iterdir()))
            began = time.monotonic()
            started = server.request(
                "POST",
                "/api/process-instances",
                user="admin",
                json_body={"process_key": "bomb", "data": {"amount": 1}},
            )
            took = time.monotonic() - began
            assert started.status == 201, started.text
            failed[name] = (started.json()["status"], took)
            # Others are served meanwhile and afterwards.
            assert server.request("GET", "/api/health").status == 200
        peak_mb = status_kb("VmHWM", server.process.pid) / 1024
    finally:
        server.stop()
    assert all(status == "error" for status, _ in failed.values()), failed
    assert all(took < script_pool.TIME_LIMIT_S + SLACK_S for _, took in failed.values()), failed
    assert peak_mb < 500, f"the server's resident size peaked at {peak_mb:.0f} MB"
    print(json.dumps({"server_peak_rss_mb": round(peak_mb), "steps": failed}))

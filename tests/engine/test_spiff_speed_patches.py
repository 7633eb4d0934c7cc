"""The two speed patches of SpiffWorkflow in workflows/engine/patches.py (issue 19) answer as upstream does:
PythonScriptEngine.validate remembers whether a text parses (and raises the same SyntaxError each time),
Task._set_state skips only the log record nobody reads, and logs as upstream when 'spiff.task' logs."""

from __future__ import annotations

import ast
import logging
from decimal import Decimal
from types import SimpleNamespace

import pytest
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from tests.engine.test_decision_recording import task_for
from workflows.engine import patches


@pytest.mark.parametrize("text", ["< 100", "v < 100", '"A"', "order['amount']", "1 +", "", "x ==== 2"])
def test_validate_answers_as_ast_parse_every_time(text: str) -> None:
    engine = PythonScriptEngine()
    try:
        ast.parse(text)
    except SyntaxError as exc:
        expected = exc.args
        for _ in range(3):  # first call parses, the others read what it found
            with pytest.raises(SyntaxError) as raised:
                engine.validate(text)
            assert raised.value.args == expected
    else:
        for _ in range(3):
            assert engine.validate(text) is None
    assert text in patches._PARSED


def test_validate_of_a_text_that_is_not_a_string_still_parses_it() -> None:
    engine = PythonScriptEngine()
    assert engine.validate(b"1 + 2") is None
    with pytest.raises(SyntaxError):
        engine.validate(b"1 +")


def test_validate_stops_remembering_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "_PARSED", {})
    monkeypatch.setattr(patches, "_PARSED_MAX", 2)
    engine = PythonScriptEngine()
    for text in ("a", "b", "c"):
        engine.validate(text)
    with pytest.raises(SyntaxError):
        engine.validate("d +")
    assert list(patches._PARSED) == ["a", "b"]
    with pytest.raises(SyntaxError):
        engine.validate("d +")  # not remembered, parsed again: same answer


def test_a_decision_table_decides_the_same_with_remembered_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "_PARSED", {})
    answers = []
    for _ in range(2):  # first: every cell parsed; second: every cell remembered
        for amount in (Decimal("50"), Decimal("500")):
            dmn, task = task_for("FIRST", amount)
            answers.append(dmn.result(task))
    assert answers[:2] == answers[2:]
    assert answers[0] == {"fee": Decimal("1.50")} and answers[1] == {"fee": Decimal("0.25")}
    assert "< 100" in patches._PARSED and patches._PARSED["< 100"] is not None  # '< 100' alone does not parse


def _a_task() -> Task:
    workflow = SimpleNamespace(tasks={}, spec=SimpleNamespace(name="wf"))
    spec = SimpleNamespace(name="approve")
    return Task(workflow, spec, state=TaskState.FUTURE)


def test_set_state_changes_state_and_time_without_logging(caplog: pytest.LogCaptureFixture) -> None:
    task = _a_task()
    before = task.last_state_change
    with caplog.at_level(logging.WARNING, logger="spiff.task"):
        task._set_state(TaskState.READY)
    assert task.state == TaskState.READY and task.last_state_change >= before
    assert not [r for r in caplog.records if r.name == "spiff.task"]


def test_set_state_logs_as_upstream_when_spiff_task_logs(caplog: pytest.LogCaptureFixture) -> None:
    task = _a_task()
    with caplog.at_level(logging.INFO, logger="spiff.task"):
        task._set_state(TaskState.READY)
        task._set_state(TaskState.READY)  # unchanged: upstream logs at DEBUG only, not at INFO
    records = [r for r in caplog.records if r.name == "spiff.task"]
    assert [r.getMessage() for r in records] == ["State changed to READY"]
    assert records[0].__dict__["task_spec"] == task.task_spec.name and "elapsed" in records[0].__dict__

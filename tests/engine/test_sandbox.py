"""The restricted Python environment: static checks, evaluate/execute semantics, and real workflow runs."""

from __future__ import annotations

import functools
import json
import operator
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.util.task import TaskState

from workflows.definitions.validation import make_parser
from workflows.engine import script_pool
from workflows.engine.sandbox import (
    SAFE_BUILTINS,
    CodeProblem,
    ForbiddenCode,
    Mode,
    SafeEnvironment,
    ScriptLimitExceeded,
    check_code,
    compile_checked,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

FORBIDDEN_SNIPPETS = [
    ("import os", "exec", "import is not allowed"),
    ("from os import path", "exec", "import is not allowed"),
    ("open('/etc/passwd')", "eval", "'open' is not allowed"),
    ("eval('1 + 1')", "eval", "'eval' is not allowed"),
    ("__import__('os')", "eval", "'__import__' is not allowed"),
    ("().__class__.__bases__", "eval", "'.__class__'"),
    ("getattr(x, 'y')", "eval", "'getattr' is not allowed"),
    ("type(x)", "eval", "'type' is not allowed"),
    ("class Limit:\n    pass", "exec", "class definitions are not allowed"),
    ("def f():\n    global limit\n    limit = 1", "exec", "'global' is not allowed"),
    ("async def f():\n    return 1", "exec", "async code is not allowed"),
    ("def f():\n    yield 1", "exec", "'yield' is not allowed"),
    ("[g.gi_frame.f_back for g in gens]", "eval", "exposes interpreter internals"),
    ("'{0.__class__}'.format(x)", "eval", "use an f-string instead"),
    ("match x:\n    case str(__class__=c):\n        pass", "exec", "'.__class__'"),
    ("x = _private", "exec", "names starting with '_' are private"),
]

ALLOWED_SNIPPETS = [
    ("total = sum([1, 2]); ok = Decimal('1.5') > 1", "exec"),
    ("due = datetime(2026, 3, 2, tzinfo=timezone.utc) + timedelta(days=30)", "exec"),
    ("def band(amount):\n    return 'high' if amount > 50000 else 'standard'\nrisk = band(60000)", "exec"),
    ("limits = sorted(x * 2 for x in range(3) if x)", "exec"),
    ("for _ in range(3):\n    count = len(items)", "exec"),
    ("f'{applicant} asks for {amount:.2f}'", "eval"),
    ("max(map(lambda v: v['limit'], offers), default=0)", "eval"),
]


@pytest.mark.parametrize(("source", "mode", "expected"), FORBIDDEN_SNIPPETS)
def test_check_code_rejects_forbidden_constructs(source: str, mode: Mode, expected: str) -> None:
    problems = check_code(source, mode)
    assert any(expected in p.message for p in problems), problems


@pytest.mark.parametrize(("source", "mode"), ALLOWED_SNIPPETS)
def test_check_code_accepts_plain_credit_logic(source: str, mode: Mode) -> None:
    assert check_code(source, mode) == []


def test_check_code_reports_the_line_within_the_script() -> None:
    problems = check_code("limit = 1\nrate = 2\nimport os", "exec")
    assert problems == [
        CodeProblem(3, "import is not allowed in scripts; put this logic in a service handler")
    ]


def test_check_code_reports_syntax_errors_with_their_line() -> None:
    (problem,) = check_code("limit = 1\nrate = (2", "exec")
    assert problem.line == 2
    assert "was never closed" in problem.message


def test_compiler_warnings_become_problems_not_warnings() -> None:
    # pytest turns warnings into errors here, so reaching the assert proves none escaped.
    (problem,) = check_code("approved is 1", "eval")
    assert "Python warns" in problem.message


def test_eval_mode_strips_leading_spaces_like_builtin_eval() -> None:
    assert check_code("   amount > 10", "eval") == []
    assert SafeEnvironment().evaluate("   amount > 10", {"amount": 11}) is True
    # builtin eval() rejects a line break followed by indentation, so deployment must too.
    assert "unexpected indent" in check_code("\n   amount > 10", "eval")[0].message


def test_safe_builtins_are_a_whitelist() -> None:
    assert "open" not in SAFE_BUILTINS and "__import__" not in SAFE_BUILTINS
    assert SAFE_BUILTINS["Decimal"] is Decimal
    with pytest.raises(NameError, match="dir"):
        SafeEnvironment().evaluate("dir(amount)", {"amount": 1})


def test_evaluate_sees_task_data_helpers_and_external_context_without_writing_back() -> None:
    # Helpers must be picklable: a call to one makes the snippet run in the script worker.
    env = SafeEnvironment({"double": functools.partial(operator.mul, 2)})
    context = {"amount": 21}
    assert env.evaluate("double(amount) + bonus", context, {"bonus": 1}) == 43
    assert context == {"amount": 21}


def test_execute_keeps_new_values_and_strips_callables_and_helpers() -> None:
    env = SafeEnvironment({"rate": Decimal("0.05")})
    context: dict[str, Any] = {"amount": Decimal("1000")}
    env.execute("def interest(a):\n    return a * rate\nowed = amount + interest(amount)", context)
    assert context == {"amount": Decimal("1000"), "owed": Decimal("1050.00")}


def test_execute_refuses_task_data_that_shadows_a_helper() -> None:
    with pytest.raises(ValueError, match="rate"):
        SafeEnvironment({"rate": 1}).execute("x = rate", {"rate": 2})


def test_forbidden_code_is_raised_before_anything_runs() -> None:
    context = {"amount": 1}
    with pytest.raises(ForbiddenCode) as info:
        SafeEnvironment().execute("amount = 2\nimport os", context)
    assert info.value.line == 2
    assert context == {"amount": 1}


# --- runaway scripts --------------------------------------------------------------------------------


@pytest.fixture
def short_time_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(script_pool, "TIME_LIMIT_S", 0.3)
    return 0.3


@pytest.mark.parametrize(
    "script",
    [
        "while True:\n    pass",
        "n = 0\nwhile n >= 0:\n    n = n + 1",
        "total = sum([1 for i in range(10**6) for j in range(10**6)])",  # 10**12 rounds, in a comprehension
    ],
)
def test_a_script_that_never_ends_is_stopped_at_the_time_limit(short_time_limit: float, script: str) -> None:
    began = time.monotonic()
    with pytest.raises(ScriptLimitExceeded, match="longer than 0.3 s"):
        SafeEnvironment().execute(script, {})
    # Generous: the first script starts the pool's worker process, which takes seconds on a loaded CI machine;
    # without the limit the script would never end.
    assert time.monotonic() - began < short_time_limit + 10


def test_an_expression_that_never_ends_is_stopped_too(short_time_limit: float) -> None:
    with pytest.raises(ScriptLimitExceeded):
        SafeEnvironment().evaluate("len([1 for i in range(10**6) for j in range(10**6)])", {})


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("10 ** 10 ** 10", "bits"),
        ("2 ** 2000000", "bits"),
        ("1 << 10 ** 9", "shift"),
        ("'x' * 10 ** 10", "repeating a sequence"),
        ("[0] * (10 ** 8)", "repeating a sequence"),
        ("sum(range(10 ** 12))", "range"),
        ("list(range(0, 10 ** 9))", "range"),
    ],
)
def test_expressions_that_would_exhaust_memory_or_cpu_are_refused_at_once(source: str, fragment: str) -> None:
    began = time.monotonic()
    with pytest.raises(ScriptLimitExceeded, match=fragment):
        SafeEnvironment().evaluate(source, {})
    assert time.monotonic() - began < 10  # refused before evaluating; several would take minutes


def test_growth_in_a_loop_is_refused_once_past_the_bound() -> None:
    with pytest.raises(ScriptLimitExceeded, match="joining sequences"):
        SafeEnvironment().execute("s = 'ab'\nfor _ in range(40):\n    s += s", {})
    with pytest.raises(ScriptLimitExceeded, match="product"):
        SafeEnvironment().execute("n = 3\nfor _ in range(40):\n    n *= n", {})


def test_guarded_operators_keep_their_meaning() -> None:
    context: dict[str, Any] = {"amount": Decimal("1000.50"), "items": [1, 2], "codes": {"a": 1}}
    script = (
        "total = amount * 2 + Decimal('0.25')\n"
        "square = 12 ** 2\n"
        "flags = 1 << 4\n"
        "name = 'INV-' + str(7).zfill(4)\n"
        "items += [3]\n"
        "codes['a'] *= 5\n"
        "pairs = [(a, b) for a in range(2) for b in 'xy' * 2]\n"
        "ratio = Decimal(2) ** 3 / 4\n"
        "yes = True * 3"
    )
    SafeEnvironment().execute(script, context)
    assert context["total"] == Decimal("2001.25") and context["square"] == 144 and context["flags"] == 16
    assert context["name"] == "INV-0007" and context["items"] == [1, 2, 3] and context["codes"] == {"a": 5}
    assert len(context["pairs"]) == 8 and context["ratio"] == Decimal("2") and context["yes"] == 3


def test_the_guard_cannot_be_named_or_replaced_by_a_script() -> None:
    assert check_code("_creditflow_binop = None", "exec")
    assert check_code("x = _creditflow_binop('+', 1, 2)", "exec")


def test_compiled_code_is_cached_by_source() -> None:
    assert compile_checked("amount * 2", "eval") is compile_checked("amount * 2", "eval")


# --- real workflow runs ---------------------------------------------------------------------------

SCRIPT_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="urn:t">
  <bpmn:process id="scripted" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="to_script" sourceRef="start" targetRef="run_script" />
    <bpmn:scriptTask id="run_script"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_split" sourceRef="run_script" targetRef="split" />
    <bpmn:exclusiveGateway id="split" />
    <bpmn:sequenceFlow id="to_big" sourceRef="split" targetRef="big_end">
      <bpmn:conditionExpression>amount &gt;= Decimal("10000")</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="split" targetRef="small_end">
      <bpmn:conditionExpression>amount &lt; Decimal("10000")</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="big_end" />
    <bpmn:endEvent id="small_end" />
  </bpmn:process>
</bpmn:definitions>
"""


class RecordingEngine(PythonScriptEngine):
    """Answers service tasks by recording the call, as the lead's engine dispatches to handlers."""

    def __init__(self) -> None:
        super().__init__(environment=SafeEnvironment())
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call_service(self, task: Any, **kwargs: Any) -> str:
        params = {name: p["value"] for name, p in kwargs["operation_params"].items()}
        self.calls.append((kwargs["operation_name"], params))
        return json.dumps({"sent": True})


def start_workflow(
    bpmn: str, process_id: str, data: dict[str, Any], engine: PythonScriptEngine
) -> BpmnWorkflow:
    parser = make_parser()
    parser.add_bpmn_str(bpmn.encode(), filename=f"{process_id}.bpmn")
    wf = BpmnWorkflow(
        parser.get_spec(process_id), parser.get_subprocess_specs(process_id), script_engine=engine
    )
    wf.get_next_task(state=TaskState.READY).data.update(data)
    return wf


def run_script(script: str, amount: int = 1) -> BpmnWorkflow:
    wf = start_workflow(
        SCRIPT_DIAGRAM.format(script=script), "scripted", {"amount": amount}, RecordingEngine()
    )
    wf.do_engine_steps()
    return wf


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ("import os", "import is not allowed"),
        ("data = open('/etc/passwd').read()", "'open' is not allowed"),
        ("bases = ().__class__.__bases__", "'.__class__'"),
    ],
)
def test_script_task_with_forbidden_code_fails_at_runtime(script: str, fragment: str) -> None:
    with pytest.raises(WorkflowTaskException, match="ForbiddenCode") as info:
        run_script(script)
    assert fragment in str(info.value)
    assert info.value.line_number == 1  # PythonScriptEngine read it from the SyntaxError subclass


@pytest.mark.parametrize(("amount", "end"), [(20000, "big_end"), (500, "small_end")])
def test_script_and_gateway_condition_run_with_decimal(amount: int, end: str) -> None:
    wf = run_script("total = sum([1, 2]); ok = Decimal('1.5') &gt; 1\namount = Decimal(amount)", amount)
    assert wf.completed
    assert wf.data["total"] == 3 and wf.data["ok"] is True
    finished = {t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED)}
    assert end in finished and ({"big_end", "small_end"} - {end}).isdisjoint(finished)


def test_approval_fixture_runs_end_to_end_in_the_sandbox() -> None:
    engine = RecordingEngine()
    bpmn = (FIXTURES / "valid" / "approval.bpmn").read_text()
    wf = start_workflow(
        bpmn, "approval", {"requested_amount": 60000, "applicant_email": "a@example.com"}, engine
    )
    wf.do_engine_steps()
    (review,) = wf.get_tasks(state=TaskState.READY, manual=True)
    assert (review.task_spec.bpmn_id, review.task_spec.lane) == ("review_application", "Approver")
    review.data.update(decision="approve")
    review.run()
    wf.do_engine_steps()
    assert wf.completed
    assert wf.data["risk_band"] == "high" and wf.data["notification"] == {"sent": True}
    assert engine.calls == [("notify.email", {"to": "a@example.com", "template": "application_approve"})]

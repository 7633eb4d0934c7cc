"""The DMNEngine.result patch (workflows/engine/patches.py) that feeds the decision log: while a step
records, it answers exactly as upstream does and names the rules that gave the answer, for a business rule
task and for a handler's evaluate_decision alike; otherwise it is upstream's own code."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from workflows.engine import patches
from workflows.engine.decision_rows import decision_row, evaluation_row
from workflows.engine.decisions import decision_engine, evaluate_decision

TABLE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://x">
  <decision id="fees" name="Fees">
    <decisionTable id="fees_table" hitPolicy="{policy}">
      <input id="amount_input" label="Amount">
        <inputExpression id="amount_expr" typeRef="number"><text>order["amount"]</text></inputExpression>
      </input>
      <input id="unused_input" label="Read by no rule">
        <inputExpression id="unused_expr" typeRef="string"><text>missing_variable</text></inputExpression>
      </input>
      <output id="fee_output" label="Fee" name="fee" typeRef="number" />
      <rule id="small"><inputEntry id="s1"><text>&lt; 100</text></inputEntry>
        <inputEntry id="s2"><text></text></inputEntry>
        <outputEntry id="s3"><text>Decimal("1.50")</text></outputEntry></rule>
      <rule id="any"><inputEntry id="a1"><text></text></inputEntry>
        <inputEntry id="a2"><text></text></inputEntry>
        <outputEntry id="a3"><text>Decimal("0.25")</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def task_for(policy: str, amount: Decimal) -> tuple[Any, Any]:
    engine, probe = decision_engine(TABLE.replace("{policy}", policy), "fees")
    spec = SimpleNamespace(bpmn_id="charge_fee", extensions={"calledDecisionId": "fees"})
    data = {"order": {"amount": amount}}
    return engine, SimpleNamespace(data=data, workflow=probe.workflow, task_spec=spec)


@pytest.mark.parametrize(
    ("policy", "amount", "outputs", "rules"),
    [
        ("FIRST", Decimal("50"), {"fee": Decimal("1.50")}, [{"row": 1, "id": "small"}]),
        ("FIRST", Decimal("500"), {"fee": Decimal("0.25")}, [{"row": 2, "id": "any"}]),
        ("UNIQUE", Decimal("50"), {"fee": Decimal("1.50")}, [{"row": 1, "id": "small"}]),
        (
            "COLLECT",
            Decimal("50"),
            {"fee": [Decimal("1.50"), Decimal("0.25")]},
            [{"row": 1, "id": "small"}, {"row": 2, "id": "any"}],
        ),
        ("COLLECT", Decimal("500"), {"fee": [Decimal("0.25")]}, [{"row": 2, "id": "any"}]),
    ],
)
def test_a_recorded_evaluation_answers_as_upstream_and_names_its_rules(
    policy: str, amount: Decimal, outputs: dict[str, Any], rules: list[dict[str, Any]]
) -> None:
    engine, task = task_for(policy, amount)
    unrecorded = engine.result(task)
    seen: list[dict[str, Any]] = []
    with patches.recording_decisions(lambda *args: seen.append(decision_row(*args))):
        recorded = engine.result(task)
    assert recorded == unrecorded == outputs
    # The input no rule reads cannot be evaluated on these data: it is left out, the step goes on.
    [row] = seen
    assert row == {
        "decision_id": "fees",
        "bpmn_id": "charge_fee",
        "inputs": {'order["amount"]': str(amount)},
        "outputs": {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in outputs.items()},
        "rules": rules,
    }


def test_nothing_is_recorded_outside_a_step() -> None:
    engine, task = task_for("FIRST", Decimal("50"))
    seen: list[Any] = []
    with patches.recording_decisions(lambda *args: seen.append(args)):
        pass
    assert engine.result(task) == {"fee": Decimal("1.50")}
    assert evaluate_decision(TABLE.replace("{policy}", "FIRST"), "fees", task.data) == {
        "fee": Decimal("1.50")
    }
    assert seen == []


def test_a_handler_s_evaluation_is_reported_with_its_decision_and_table() -> None:
    """engine.decisions' stand-in task has no task spec: it carries the decision and the table text, and
    the step (workflows/engine/step.py) names its service task and keeps only its version's tables."""
    text = TABLE.replace("{policy}", "FIRST")
    seen: list[Any] = []
    with patches.recording_decisions(lambda *args: seen.append(args)):
        assert evaluate_decision(text, "fees", {"order": {"amount": Decimal("50")}}) == {
            "fee": Decimal("1.50")
        }
    [(engine, probe, rules, outputs)] = seen
    assert (probe.decision_id, probe.text) == ("fees", text)
    row = evaluation_row(engine, probe, rules, outputs, probe.decision_id, "score_customer")
    assert row == {
        "decision_id": "fees",
        "bpmn_id": "score_customer",
        "inputs": {'order["amount"]': "50"},
        "outputs": {"fee": "1.50"},
        "rules": [{"row": 1, "id": "small"}],
    }

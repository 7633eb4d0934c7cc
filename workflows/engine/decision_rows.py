"""A business rule task's evaluation as a decision log row (workflows/store/decision_log_table.py)."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from workflows.store.jsonable import to_jsonable


def decision_row(engine: DMNEngine, task: Any, rules: list[Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The decision, element, inputs, outputs and matched rules of one evaluation (no instance columns).

    The inputs are the values of the table's input expressions in the task's data, keyed by expression.
    An expression that cannot be evaluated there (no rule of the table reads it for these data) is left
    out rather than failing the step that took the decision.
    """
    spec = task.task_spec
    table = engine.decision_table
    decision_id = (getattr(spec, "extensions", None) or {}).get("calledDecisionId") or table.id
    script_engine = task.workflow.script_engine
    inputs: dict[str, Any] = {}
    for column in table.inputs:
        expression = column.expression or column.label or column.id
        try:
            inputs[expression] = script_engine.evaluate(task, column.expression)
        except Exception:  # noqa: BLE001,S112 - recorded as absent, never a reason to fail the step
            continue
    return {
        "decision_id": str(decision_id),
        "bpmn_id": spec.bpmn_id,
        "inputs": to_jsonable(inputs),
        "outputs": to_jsonable(outputs),
        "rules": [{"row": rule.row_number, "id": rule.id} for rule in rules],
    }

"""Evaluate one DMN decision table outside a running instance, with the engine's own rules and sandbox.

Checks that must not trust a diagram (who has to approve a money move) read the policy table themselves
instead of the value a diagram's business rule task left in its data.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from workflows.definitions.validation import make_parser
from workflows.engine.sandbox import SafeEnvironment
from workflows.errors import message_of
from workflows.messages import _


class DecisionError(ValueError):
    """The decision table is missing, broken, or failed on the inputs."""


@dataclass
class _Workflow:
    script_engine: PythonScriptEngine


@dataclass
class _Probe:
    """What SpiffWorkflow's DMN engine reads of a task: its data and its workflow's script engine; plus, for
    the decision log of a running step, which decision of which table text it evaluates."""

    data: dict[str, Any]
    workflow: _Workflow = field(
        default_factory=lambda: _Workflow(PythonScriptEngine(environment=SafeEnvironment()))
    )
    decision_id: str = ""
    text: str = ""


def evaluate_decision(dmn_text: str, decision_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of decision `decision_id` of a DMN file for `inputs` ({} when no rule matches).

    While a process step runs (a handler of a service task), the evaluation is also a decision_log row of
    the instance, when the table is one deployed with the instance's version (workflows/engine/step.py,
    `record_decision`). Outside a step (pages, batch rankings, provision runs, deploy checks, the what-if's
    own replay) nothing is logged: the log is per process instance.

    Raises:
        DecisionError: the file has no such decision, or a cell fails on these inputs.
    """
    engine = _engine(dmn_text, decision_id)
    try:
        return dict(engine.result(_Probe(dict(inputs), decision_id=decision_id, text=dmn_text)))
    except Exception as exc:  # any failure of a policy cell refuses the check that asked
        raise DecisionError(
            _(
                "decision '%(decision)s' failed on %(inputs)r: %(problem)s",
                decision=decision_id,
                inputs=dict(inputs),
                problem=message_of(exc),
            )
        ) from exc


def decision_engine(dmn_text: str, decision_id: str) -> tuple[DMNEngine, Any]:
    """The parsed decision (cached per table text) and a task stand-in for `DMNEngine.evaluate` and
    `Rule.output_as_dict`: set its `data` before each use. For callers that evaluate a table for many
    inputs cell by cell (workflows/credit/watchlist_rules.py).

    Raises:
        DecisionError: the file has no such decision.
    """
    return _engine(dmn_text, decision_id), _Probe({})


@functools.lru_cache(maxsize=32)
def _engine(dmn_text: str, decision_id: str) -> DMNEngine:
    # Parsed once per table text: deployed files never change, and a check runs on every money move.
    parser = make_parser()
    try:
        root = etree.fromstring(
            dmn_text.encode("utf-8"),
            parser=etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False),
        )
        parser.add_dmn_xml(root)
        return parser.get_engine(decision_id, root)
    except Exception as exc:  # deploy validation refuses broken tables; this guards hand-edited data
        raise DecisionError(
            _(
                "decision '%(decision)s' cannot be read: %(problem)s",
                decision=decision_id,
                problem=message_of(exc),
            )
        ) from exc

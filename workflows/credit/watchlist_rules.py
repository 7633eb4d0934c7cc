"""The early-warning indicators (bpmn/early_warning.dmn) as deployed: customer signals -> indicators fired.

The table is read from the newest active credit_limit_review version that carries it, not from bpmn/ on
disk: a process owner changes the thresholds by deploying, and credit_limit_review moves money, so a
version deployed by a person waits for a second process owner's approval before its table counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.engine.decisions import DecisionError, decision_engine
from workflows.errors import Conflict, message_of
from workflows.messages import _
from workflows.store.models import DefinitionStatus, Deployment, ProcessDefinition

RULES_FILE, RULES_DECISION = "early_warning.dmn", "early_warning"
RULES_PROCESS = roles.CREDIT_LIMIT_REVIEW
SEVERITIES = ("low", "medium", "high")
# The required actions, weakest first: an entry requires the strongest action of its indicators.
ACTIONS = ("review", "call", "credit_hold")
# What the table reads of a customer (workflows/credit/watchlist_signals.py computes them).
INPUTS = (
    "utilisation_percent",
    "dbt_rising_months",
    "grade",
    "first_late_days",
    "broken_promise_days",
    "downgrade_days",
    "dispute_rate_percent",
    "ar_share_percent",
)
# The same for every customer: the book's dispute rate, and the concentration cap (concentration_cap.dmn).
BOOK_INPUTS = ("normal_dispute_rate_percent", "concentration_cap_percent")
_INDICATOR = re.compile(r"[a-z][a-z0-9_]{0,39}")


class RulesError(Conflict):
    """No usable early-warning table is deployed, or it answers what it should not."""


@dataclass(frozen=True)
class Fired:
    indicator: str
    severity: str
    action: str


@dataclass
class Rules:
    text: str
    source: str  # "early_warning.dmn of credit_limit_review v3"
    _cache: dict[tuple[Any, ...], tuple[Fired, ...]] = field(default_factory=dict, repr=False)
    _cells: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)
    _engine: Any = field(default=None, repr=False)
    _task: Any = field(default=None, repr=False)
    _plan: list[tuple[Any, list[tuple[Any, ...]], tuple[str, ...]]] | None = field(default=None, repr=False)

    def fired(self, signals: Mapping[str, Any]) -> tuple[Fired, ...]:
        """The indicators the table fires for one customer's signals (plus the book's), in rule order.
        Customers share few distinct signal sets (most have none), so each set is evaluated once.

        Raises:
            RulesError: the table fails on the signals or answers an unknown severity or action.
        """
        key = tuple(signals.get(name) for name in (*INPUTS, *BOOK_INPUTS))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._evaluate(dict(zip((*INPUTS, *BOOK_INPUTS), key, strict=True)))
        return found

    def _evaluate(self, inputs: dict[str, Any]) -> tuple[Fired, ...]:
        try:
            result = self._collect(inputs)
        except Exception as exc:  # any failure of a policy cell stops the run, naming the table
            raise RulesError(
                _(
                    "%(source)s: decision '%(rules_decision)s' failed on %(inputs)r: %(problem)s",
                    source=self.source,
                    rules_decision=RULES_DECISION,
                    inputs=inputs,
                    problem=message_of(exc),
                )
            ) from exc
        if not result:
            return ()
        columns = [result.get(name) for name in ("indicator", "severity", "action")]
        lists = [c for c in columns if isinstance(c, list)]
        if len(lists) != len(columns) or len({len(c) for c in lists}) != 1:
            raise RulesError(
                _(
                    "%(source)s must have hit policy COLLECT and the outputs indicator, severity and action",
                    source=self.source,
                )
            )
        fired = []
        for indicator, severity, action in zip(*columns, strict=True):
            if not isinstance(indicator, str) or not _INDICATOR.fullmatch(indicator):
                raise RulesError(
                    _(
                        "%(source)s names indicator '%(indicator)s'; an indicator is a snake_case "
                        'name of at most 40 characters, e.g. "utilisation"',
                        source=self.source,
                        indicator=indicator,
                    )
                )
            if severity not in SEVERITIES:
                raise RulesError(
                    _(
                        "%(source)s gives severity '%(severity)s' for %(indicator)s; one of %(severities)s",
                        source=self.source,
                        severity=severity,
                        indicator=indicator,
                        severities=", ".join(SEVERITIES),
                    )
                )
            if action not in ACTIONS:
                raise RulesError(
                    _(
                        "%(source)s gives action '%(action)s' for %(indicator)s; one of %(actions)s",
                        source=self.source,
                        action=action,
                        indicator=indicator,
                        actions=", ".join(ACTIONS),
                    )
                )
            fired.append(Fired(indicator, severity, action))
        return tuple(fired)

    def _collect(self, inputs: dict[str, Any]) -> dict[str, list[Any]]:
        """The table's COLLECT answer, as SpiffWorkflow's DMNEngine.result gives it, evaluated cell by
        cell: each cell's answer is kept for the values of the names it reads, so 100,000 customers cost a
        few thousand cell evaluations rather than one table evaluation each (1 ms)."""
        if self._plan is None:
            self._plan = self._build_plan()
        engine, task = self._engine, self._task
        task.data = inputs
        result: dict[str, list[Any]] = {}
        for r, (rule, cells, out_names) in enumerate(self._plan):
            if not all(self._cell(engine, task, cell) for cell in cells):
                continue
            key = ("out", r, *(inputs.get(n) for n in out_names))
            if key not in self._cells:
                self._cells[key] = rule.output_as_dict(task)
            for name, value in self._cells[key].items():
                result.setdefault(name, []).append(value)
        return result

    def _build_plan(self) -> list[tuple[Any, list[tuple[Any, ...]], tuple[str, ...]]]:
        """Per rule: its non-empty cells (key, input expression, entry, the data names they read) and the
        names its outputs read."""
        try:
            self._engine, self._task = decision_engine(self.text, RULES_DECISION)
        except DecisionError as exc:
            raise RulesError(
                _("%(source)s: %(problem)s", source=self.source, problem=message_of(exc))
            ) from exc
        if self._engine.decision_table.hit_policy != "COLLECT":
            raise RulesError(
                _(
                    "%(source)s must have hit policy COLLECT and the outputs indicator, severity and action",
                    source=self.source,
                )
            )
        plan = []
        for r, rule in enumerate(self._engine.decision_table.rules):
            cells = []
            for e, entry in enumerate(rule.inputEntries):
                expression = entry.input.expression
                for lhs in entry.lhs:
                    if lhs is None:
                        continue
                    if not expression:
                        raise RulesError(
                            _(
                                "%(source)s: input '%(label)s' has no expression",
                                source=self.source,
                                label=entry.input.label,
                            )
                        )
                    cells.append(((r, e, lhs), expression, lhs, _names(f"{expression} {lhs}")))
            outputs = _names(" ".join(o.text or "" for o in rule.outputEntries))
            plan.append((rule, cells, outputs))
        return plan

    def _cell(self, engine: Any, task: Any, cell: tuple[Any, ...]) -> bool:
        prefix, expression, lhs, names = cell
        key = (*prefix, *(_hashable(task.data.get(n)) for n in names))
        found = self._cells.get(key)
        if found is None:
            found = self._cells[key] = bool(engine.evaluate(expression, lhs, task))
        return bool(found)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _names(code: str) -> tuple[str, ...]:
    """The data names a cell's text mentions: what its answer depends on (the task data holds no others)."""
    return tuple(sorted(set(_NAME.findall(code)) & {*INPUTS, *BOOK_INPUTS}))


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (list, dict, set)) else value


def strongest_action(fired: tuple[Fired, ...] | list[Fired]) -> str:
    return max((f.action for f in fired), key=ACTIONS.index)


def newest_policy_file(session: Session, filename: str) -> tuple[str, str] | None:
    """(text, source) of `filename` in the newest active credit_limit_review version that carries it, where
    the credit policy tables deployed beside that diagram live; None when no active version does."""
    rows = session.execute(
        select(ProcessDefinition.version, Deployment.files)
        .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
        .where(
            ProcessDefinition.process_key == RULES_PROCESS,
            ProcessDefinition.status == DefinitionStatus.ACTIVE,
        )
        .order_by(ProcessDefinition.version.desc())
    ).all()
    for version, files in rows:
        text = (files or {}).get(filename)
        if isinstance(text, str):
            return text, f"{filename} of {RULES_PROCESS} v{version}"
    return None


def deployed_rules(session: Session) -> Rules:
    """The early-warning table of the newest active credit_limit_review version that carries it.

    Raises:
        RulesError: no active version carries one.
    """
    found = newest_policy_file(session, RULES_FILE)
    if found is not None:
        return Rules(*found)
    raise RulesError(
        _(
            "no active %(rules_process)s version carries %(rules_file)s: deploy it "
            "with the credit_limit_review diagram (`creditflow init` does) before "
            "the watchlist can be evaluated",
            rules_process=RULES_PROCESS,
            rules_file=RULES_FILE,
        )
    )


# Probe values of each input for the deploy-time check: absent, the extremes, and every number a cell names
# (with its neighbours), so each threshold is crossed once.
_NUMBER = re.compile(r"(?<![\w.])-?[0-9]+(?:\.[0-9]+)?")
_GRADES = (None, "A", "B", "C", "D", "E")


def rules_problems(text: str) -> list[str]:
    """What makes an early-warning table unusable, checked when it is deployed (the daily run would only
    find out on the day a customer reaches the bad row): every probe of the inputs must evaluate, with
    hit policy COLLECT, and each rule must name a snake_case indicator, a known severity and action.
    Empty when the table is sound."""
    if 'hitPolicy="COLLECT"' not in text:
        return [
            f"the {RULES_DECISION} decision must have hit policy COLLECT: every indicator that fires counts"
        ]
    numbers = {
        Decimal(n) for n in _NUMBER.findall(" ".join(re.findall(r"<inputEntry[^>]*>\s*<text>([^<]*)", text)))
    }
    values: list[Any] = [None, 0, 1, 3, 36500]
    for n in numbers:
        values += [n - 1, n, n + 1]
    rules = Rules(text, RULES_FILE)
    numeric = [name for name in INPUTS if name != "grade"]
    baseline: dict[str, Any] = dict.fromkeys(INPUTS) | {
        "dbt_rising_months": 0,
        "normal_dispute_rate_percent": 0,
        "concentration_cap_percent": Decimal(10),
    }
    probes: list[dict[str, Any]] = []
    for grade in _GRADES:  # each input alone, then all of them together, for each grade
        probes += [baseline | {"grade": grade, name: v} for name in numeric for v in values if v is not None]
        probes += [baseline | {"grade": grade, name: None} for name in numeric if name != "dbt_rising_months"]
        probes += [baseline | {"grade": grade} | dict.fromkeys(numeric, v) for v in values if v is not None]
    problems: list[str] = []
    for probe in probes:
        try:
            rules.fired(probe)
        except RulesError as exc:
            problems.append(str(exc).removeprefix(f"{RULES_FILE}: "))
    return list(dict.fromkeys(problems))[:10]

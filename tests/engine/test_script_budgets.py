"""Budgets per evaluation: what runs in the server, what runs in the script worker, and attacks on both.

Every snippet here either finishes or fails with ScriptLimitExceeded within the time budget, and the
test process itself (the server) never grows by more than MAX_GROWTH_MB.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.engine.test_sandbox import run_script
from workflows.engine import script_pool
from workflows.engine.sandbox import SafeEnvironment, ScriptLimitExceeded
from workflows.engine.script_code import analyse
from workflows.engine.script_pool import Outcome, ScriptPool, load_reply
from workflows.engine.task_texts import MAX_INSTRUCTIONS_CHARS, render_instructions, renders_in_process

BUDGET_S = 1.0
SLACK_S = 3.0  # a limit kills the worker; the next call starts a fresh one
MAX_GROWTH_MB = 100
# Time, memory, a dead worker, or one of the guards that refuse an obvious bomb at once.
LIMIT = "longer than 1 s|more than 256 MB|stopped|not bulk computation"
BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"


class NoWorker(ScriptPool):
    """A pool that fails the test when asked: what must run in the server never gets here."""

    def call(self, request: tuple[Any, ...]) -> Outcome:
        raise AssertionError(f"{request[:2]} was sent to the script worker")


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(script_pool, "TIME_LIMIT_S", BUDGET_S)
    return BUDGET_S


@pytest.fixture
def bounded(budget: float) -> Iterator[None]:
    """The server may not grow by MAX_GROWTH_MB at any moment of the test (Linux VmHWM)."""
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak
    yield
    grown_mb = (_status_kb("VmHWM") - before) / 1024
    assert grown_mb < MAX_GROWTH_MB, f"the server grew by {grown_mb:.0f} MB"


def _status_kb(field: str, pid: int | str = "self") -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(field))
    return int(line.split()[1])


def fails_within_budget(run: Any, pattern: str = LIMIT) -> str:
    began = time.monotonic()
    with pytest.raises(ScriptLimitExceeded, match=pattern) as info:
        run()
    assert time.monotonic() - began < BUDGET_S + SLACK_S
    return str(info.value)


# --- the time limit holds whatever a script catches ---------------------------------------------------

CATCH_ALL = [
    "try:\n    while True:\n        pass\nexcept:\n    pass",
    "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
    "try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass",
    # A MemoryError caught again and again.
    "while True:\n    try:\n        text = 'x'.ljust(10 ** 10)\n    except:\n        pass",
    # Recursion that catches its own RecursionError: exponential time.
    "def spin():\n    try:\n        spin()\n    except:\n        spin()\nspin()",
    "def again():\n    try:\n        return again()\n    finally:\n        again()\nagain()",
    "done = [1 for a in range(10 ** 6) for b in range(10 ** 6) if a >= 0]",
    "total = sum(1 for a in range(10 ** 7) for b in range(10 ** 7))",
    "items = sorted(range(10 ** 7), key=lambda v: -v)\nitems = sorted(items * 9, key=lambda v: v)",
]


@pytest.mark.parametrize("script", CATCH_ALL)
def test_the_time_limit_holds_whatever_the_script_catches(bounded: None, script: str) -> None:
    fails_within_budget(lambda: SafeEnvironment().execute(script, {}))


def test_the_next_evaluation_after_a_killed_one_works(bounded: None) -> None:
    fails_within_budget(lambda: SafeEnvironment().execute(CATCH_ALL[0], {}))
    context: dict[str, Any] = {"n": 3}
    SafeEnvironment().execute("for _ in range(2):\n    n = n * 2", context)
    assert context == {"n": 12, "_": 1}  # a top-level loop variable is task data, as with exec()


# --- memory is bounded per evaluation, including loops inside C ----------------------------------------

MEMORY_BOMBS = [
    "len([[0] * 9000000 for _ in range(40)])",
    "[l := [1], l.extend(map(abs, l))]",
    '"x".ljust(10 ** 10)',
    '"x".center(2 ** 40)',
    '"\\t".expandtabs(10 ** 9)',
    '"%0999999999d" % 1',
    'f"{1:>999999999}"',
    '("a" * 10 ** 7).replace("a", "b" * 10 ** 6)',
    '",".join(["x" * 10 ** 6] * 10 ** 6)',
    'int(Decimal("1e999999999"))',
    "f\"{Decimal('1e999999999'):f}\"",
    "round(12345, -10 ** 9)",
    "sorted(range(10 ** 7)) + sorted(range(10 ** 7))",
    "{i: str(i) for i in range(10 ** 8)}",
    "[[0] * 10 ** 6 for _ in range(10 ** 6)]",
]


@pytest.mark.parametrize("expression", MEMORY_BOMBS)
def test_an_expression_cannot_grow_the_server(bounded: None, expression: str) -> None:
    fails_within_budget(lambda: SafeEnvironment().evaluate(expression, {}))


@pytest.mark.parametrize(
    "script",
    [
        "items = [0]\nfor _ in range(64):\n    items.extend(items)",
        "text = 'ab'\nfor _ in range(64):\n    text = text.replace('a', 'aa')",
        "text = 'ab'\nfor _ in range(64):\n    text = ''.join([text, text])",
        "rows = {}\nfor i in range(10 ** 9):\n    rows[i] = [i] * 100",
    ],
)
def test_a_script_growing_in_a_loop_is_stopped(bounded: None, script: str) -> None:
    fails_within_budget(lambda: SafeEnvironment().execute(script, {}))


# --- snippets that run in the server: cheap, and bounded by their shape --------------------------------


def shipped_snippets() -> list[tuple[str, str, str]]:
    """(file, mode, source) of every script, condition, DMN cell and expression in bpmn/."""
    found = []
    for path in sorted(BPMN_DIR.glob("*.bpmn")) + sorted(BPMN_DIR.glob("*.dmn")):
        for element in etree.parse(str(path)).getroot().iter():
            if not isinstance(element.tag, str):
                continue
            tag = etree.QName(element).localname
            if tag in ("script", "preScript", "postScript") and element.text:
                found.append((path.name, "exec", element.text))
            elif tag in ("conditionExpression", "timeDuration", "timeDate", "timeCycle") and element.text:
                found.append((path.name, "eval", element.text))
            elif (
                tag == "text"
                and element.text
                and element.getparent().tag.endswith(("outputEntry", "Expression"))
            ):
                found.append((path.name, "eval", element.text))
            elif tag in ("parameter", "property") and element.get("name", "subject") == "subject":
                if element.get("value"):
                    found.append((path.name, "eval", element.get("value", "")))
    return found


def test_every_shipped_snippet_and_template_runs_in_the_server() -> None:
    snippets = shipped_snippets()
    assert len(snippets) > 100
    assert [s for s in snippets if not analyse(s[2], s[1]).in_process] == []
    templates = [
        (path.name, element.text)
        for path in sorted(BPMN_DIR.glob("*.bpmn"))
        for element in etree.parse(str(path)).getroot().iter()
        if isinstance(element.tag, str) and element.tag.endswith("instructionsForEndUser") and element.text
    ]
    assert templates and [t for t in templates if not renders_in_process(t[1])] == []


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        (
            'decision == "approve" and amount >= Decimal("10000")',
            {"decision": "approve", "amount": 10000},
            True,
        ),
        (
            'f"{amount:,.2f}" + " " + currency',
            {"amount": Decimal("1234.5"), "currency": "EUR"},
            "1,234.50 EUR",
        ),
        (
            'credit_file["email"] != "" and credit_file.get("grade") in ("A", "B")',
            {"credit_file": {"email": "a@b", "grade": "B"}},
            True,
        ),
        ("max(limit, exposure * Decimal('1.2'))", {"limit": 10, "exposure": Decimal(10)}, Decimal("12.0")),
        ("int(amount) // 2 + round(rate, 2)", {"amount": Decimal("9.9"), "rate": 0.123}, 4.12),
        ("name.strip().upper()[:3]", {"name": "  acme  "}, "ACM"),
        ('", ".join(invoices["numbers"])', {"invoices": {"numbers": ["INV-1", "INV-2"]}}, "INV-1, INV-2"),
    ],
)
def test_common_snippets_run_in_the_server(expression: str, data: dict[str, Any], expected: Any) -> None:
    assert SafeEnvironment(pool=NoWorker()).evaluate(expression, data) == expected


def test_one_line_scripts_run_in_the_server_and_write_only_their_names() -> None:
    context: dict[str, Any] = {"requested_limit": Decimal("5000"), "other": [1]}
    script = 'decision = "approve"; recommended_limit = requested_limit; comment = f"ok {requested_limit}"'
    SafeEnvironment(pool=NoWorker()).execute(script, context)
    assert context == {
        "requested_limit": Decimal("5000"),
        "other": [1],
        "decision": "approve",
        "recommended_limit": Decimal("5000"),
        "comment": "ok 5000",
    }


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("text * count", {"text": "x", "count": 10**10}),
        ("items * count", {"items": [0], "count": 10**10}),
        ("int(amount)", {"amount": Decimal("1e999999999")}),
        ("f'{amount:,.2f}'", {"amount": Decimal("1e999999999")}),
        ("round(number, digits)", {"number": 12345, "digits": -(10**9)}),
        # Each repr doubles the backslashes.
        ("str([str([str([str([str([str([str([str([text])])])])])])])])", {"text": "\\" * 10**6}),
        # Doubling through := : an f-string field must be a short string, so the snippet goes to the worker.
        (
            "(a := f'{s}{s}') and (b := f'{a}{a}') and (c := f'{b}{b}') and (d := f'{c}{c}') and "
            "(e := f'{d}{d}') and (g := f'{e}{e}') and (h := f'{g}{g}') and (i := f'{h}{h}') and "
            "(j := f'{i}{i}') and len(f'{j}{j}')",
            {"s": "x" * 10**6},
        ),
        (
            "(a := ''.join([s, s])) and (b := ''.join([a, a])) and (c := ''.join([b, b])) and "
            "(d := ''.join([c, c])) and (e := ''.join([d, d])) and (g := ''.join([e, e])) and "
            "(h := ''.join([g, g])) and len(h + h)",
            {"s": "x" * 10**6},
        ),
        (
            "(a := s + s) and (b := a + a) and (c := b + b) and (d := c + c) and len(d + d + d + d)",
            {"s": "y" * 10**7},
        ),
    ],
)
def test_big_values_leave_the_server_for_the_worker(
    bounded: None, expression: str, data: dict[str, Any]
) -> None:
    assert analyse(expression, "eval").in_process
    fails_within_budget(lambda: SafeEnvironment().evaluate(expression, data))


@pytest.mark.parametrize(
    "expression",
    [
        "[*items, *items]",  # unpacking could double through :=
        "{**rows, **rows}",
        "f'{name!r}'",
        "'%s' % name",
        "sorted(items)",
        "sum(items)",
        "name.ljust(10)",
        "sep.join(*parts)",
        "[x for x in items]",
        "lambda: 1",
        "f'{amount:>{width}}'",
        "f'{amount:>99999}'",
        " + ".join(["a"] * 200),  # more than MAX_IN_PROCESS_NODES
    ],
)
def test_snippets_that_could_grow_run_in_the_worker(expression: str) -> None:
    assert not analyse(expression, "eval").in_process


@pytest.mark.parametrize(
    ("mode", "source", "data"),
    [
        ("eval", "[[s] * 100] * 100", {"s": "x" * 10_000}),
        ("eval", "(a := [s] * 100) and (b := [a] * 100) and [b] * 100", {"s": "x" * 100}),
        ("exec", "rows = [[s] * 100] * 100", {"s": "x" * 10_000}),
        ("exec", "row = [s] * 1000\nfor _ in range(3):\n    row = [row] * 1000", {"s": "x"}),
        ("eval", "[[[s] * 1000] * 1000] * 1000", {"s": "x"}),
    ],
)
def test_a_result_that_repeats_one_value_is_refused_before_it_reaches_task_data(
    bounded: None, mode: str, source: str, data: dict[str, Any]
) -> None:
    context = dict(data)
    env = SafeEnvironment()
    run = (
        (lambda: env.evaluate(source, context)) if mode == "eval" else (lambda: env.execute(source, context))
    )
    fails_within_budget(run, "more than 16 MB as task data")
    assert context == data


def test_a_snippet_naming_large_task_data_runs_in_the_worker(bounded: None) -> None:
    # Each slice copies what it names; twenty copies of a big list in the server would be a bomb.
    copies = "len((" + ", ".join(["rows[:]"] * 20) + "))"
    assert analyse(copies, "eval").in_process
    assert SafeEnvironment(pool=NoWorker()).evaluate(copies, {"rows": list(range(100))}) == 20
    with pytest.raises(AssertionError, match="sent to the script worker"):
        SafeEnvironment(pool=NoWorker()).evaluate(copies, {"rows": list(range(200_000))})
    assert SafeEnvironment().evaluate(copies, {"rows": list(range(200_000))}) == 20


def test_a_snippet_handed_to_the_worker_half_way_starts_again_from_the_original_data() -> None:
    context: dict[str, Any] = {"n": 1, "text": "x"}
    SafeEnvironment().execute("n = n + 1\nbig = text * 20000\nsize = len(big)", context)
    assert context["n"] == 2 and context["size"] == 20000


# --- the worker: semantics, errors, hardening ---------------------------------------------------------


def test_scripts_in_the_worker_keep_task_data_semantics() -> None:
    context: dict[str, Any] = {"items": [1], "gone": 1, "kept": {"a": 1}, "amount": Decimal("1.10")}
    script = (
        "for _ in range(2):\n    items.append(len(items))\n"
        "del gone\ndef helper(v):\n    return v * 2\n"
        "doubled = helper(amount)\nalias = items\nrate = external_rate"
    )
    SafeEnvironment({"external_rate": 3}).execute(script, context, {"unused": 1})
    assert context == {
        "items": [1, 1, 2],
        "kept": {"a": 1},
        "amount": Decimal("1.10"),
        "doubled": Decimal("2.20"),
        "alias": [1, 1, 2],
        "rate": 3,
        "_": 1,
    }
    assert context["alias"] is context["items"]


def test_an_error_in_the_worker_keeps_its_type_and_line() -> None:
    from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

    with pytest.raises(WorkflowTaskException, match="NameError:name 'missing' is not defined") as info:
        run_script("for _ in range(1):\n    pass\nrisk_band = missing")
    assert info.value.line_number == 3
    with pytest.raises(ZeroDivisionError):
        SafeEnvironment().evaluate("[1 / x for x in [0]]", {})


def test_a_result_naming_code_is_refused_by_the_server() -> None:
    with pytest.raises(pickle.UnpicklingError, match="posix.system"):
        load_reply(pickle.dumps(os.system))
    assert load_reply(pickle.dumps({"a": [Decimal("1"), {1, 2}]})) == {"a": [Decimal("1"), {1, 2}]}


def test_the_worker_gets_no_secrets_and_hard_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", "postgresql://app:secret@db/creditflow")
    pool = ScriptPool()
    try:
        assert SafeEnvironment(pool=pool).evaluate("[x for x in range(2)]", {}) == [0, 1]
        (worker,) = pool._idle
        pid = worker.process.pid
        assert b"secret" not in Path(f"/proc/{pid}/environ").read_bytes()
        limits = Path(f"/proc/{pid}/limits").read_text()
        assert _limit(limits, "Max file size") == "0" and _limit(limits, "Max core file size") == "0"
        assert int(_limit(limits, "Max address space")) < (script_pool.MEMORY_LIMIT_MB + 200) * 2**20
        assert int(_limit(limits, "Max open files")) <= 16
    finally:
        pool.close()


def _limit(limits: str, name: str) -> str:
    line = next(x for x in limits.splitlines() if x.startswith(name))
    return line[len(name) :].split()[0]


def test_a_worker_killed_from_outside_is_replaced() -> None:
    pool = ScriptPool()
    try:
        env = SafeEnvironment(pool=pool)
        assert env.evaluate("sorted(items)", {"items": [2, 1]}) == [1, 2]
        os.kill(pool._idle[0].process.pid, signal.SIGKILL)
        pool._idle[0].process.wait()
        assert env.evaluate("sorted(items)", {"items": [3, 1]}) == [1, 3]
    finally:
        pool.close()


def test_concurrent_evaluations_share_at_most_max_workers() -> None:
    pool = ScriptPool(max_workers=2)
    results: dict[int, Any] = {}

    def evaluate(n: int) -> None:
        results[n] = SafeEnvironment(pool=pool).evaluate("sum(range(n))", {"n": n})

    try:
        threads = [threading.Thread(target=evaluate, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == {n: sum(range(n)) for n in range(6)}
        assert 1 <= len(pool._idle) <= 2
    finally:
        pool.close()


# --- task instructions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        '{{ "x" * 10 ** 9 }}',
        '{{ "x" | center(10 ** 9) }}',
        "{% for a in range(100000) %}0123456789{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for _ in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
        "{{ ns.s|length }}",
        "{{ ('x' * 10 ** 6) | wordwrap(1) }}",
        "{{ big }}",
    ],
)
def test_instruction_bombs_fail_within_the_budget(bounded: None, template: str) -> None:
    data = {"big": "z" * (MAX_INSTRUCTIONS_CHARS + 1)}
    fails_within_budget(lambda: render_instructions(template, data), LIMIT + "|longer than 20,000")


def test_instructions_render_in_the_sandbox() -> None:
    data = {"amount": "1200.5", "customer": {"name": "ACME"}}
    assert render_instructions("{{ customer.name }} owes {{ amount|money }}", data) == "ACME owes 1,200.50"
    assert render_instructions("{% for i in range(3) %}{{ i }}{% endfor %}", data) == "012"
    assert render_instructions("{{ customer.__class__.__mro__ }}", data) == ""
    # A broken template is shown as written and never fails the step.
    assert render_instructions("{% for %}", data) == "{% for %}"

"""Restricted Python for script tasks, gateway conditions, DMN cells, timers and service parameters.

Diagrams are uploaded by process owners, so every snippet is checked by `check_code` before it is
compiled, and runs with `SAFE_BUILTINS` instead of the real builtins. The checks are static (an AST
walk); together with the reduced builtins they keep scripts away from imports, files, the network
and interpreter internals.

Runaway scripts are bounded too, so a careless diagram fails its step with an incident instead of
hanging a worker: each evaluation has a wall-clock limit (checked on every line the snippet runs),
`**`, `<<`, `*` and `+` refuse results beyond `MAX_INT_BITS` / `MAX_ITEMS`, and `range` is capped at
`MAX_ITEMS`. A builtin that loops in C over data a script already holds (`sorted`, `str.ljust`) is
not interrupted; those inputs are bounded by the same caps.
"""

from __future__ import annotations

import ast
import functools
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import CodeType
from typing import Any, Literal, cast

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from workflows.engine.script_rules import node_problems

Mode = Literal["exec", "eval"]

# PythonScriptEngine looks for frames whose file name is "<string>" to report the failing script
# line, so compiled snippets must use exactly this name.
SCRIPT_FILENAME = "<string>"


# Bounds on what one expression may build: an int of a million bits (~300,000 digits) or a sequence of
# ten million items is far beyond credit arithmetic and still fits in memory.
MAX_INT_BITS = 1_000_000
MAX_ITEMS = 10_000_000
# Wall-clock seconds one script or expression may run; module-level so tests can shorten it.
TIME_LIMIT_S = 5.0


class ScriptLimitExceeded(Exception):
    """A script ran too long or tried to build a value beyond the sandbox's bounds."""


def _too_big(message: str) -> ScriptLimitExceeded:
    return ScriptLimitExceeded(f"{message}; scripts are for credit arithmetic, not bulk computation")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, bytes)) else None


def _guarded_binop(op: str, left: Any, right: Any) -> Any:
    """`left op right` for the operators that can build huge values, refusing results past the bounds."""
    if type(left) is int and type(right) is int:  # noqa: E721 - bool is fine, it cannot grow
        if op == "**" and right > 0 and abs(left) > 1 and right * left.bit_length() > MAX_INT_BITS:
            raise _too_big(f"{left} ** {right} would have more than {MAX_INT_BITS:,} bits")
        if op == "<<" and right > MAX_INT_BITS:
            raise _too_big(f"a shift by {right} bits is larger than {MAX_INT_BITS:,} bits")
        if op == "*" and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _too_big(f"a product of more than {MAX_INT_BITS:,} bits")
    elif op == "*":
        size, count = (_size(left), right) if _size(left) is not None else (_size(right), left)
        if size is not None and isinstance(count, int) and size * count > MAX_ITEMS:
            raise _too_big(f"repeating a sequence to more than {MAX_ITEMS:,} items")
    elif op == "+":
        sizes = (_size(left), _size(right))
        if sizes[0] is not None and sizes[1] is not None and sizes[0] + sizes[1] > MAX_ITEMS:
            raise _too_big(f"joining sequences to more than {MAX_ITEMS:,} items")
    return _OPERATORS[op](left, right)


_OPERATORS: dict[str, Any] = {
    "**": lambda a, b: a**b,
    "<<": lambda a, b: a << b,
    "*": lambda a, b: a * b,
    "+": lambda a, b: a + b,
}
_GUARDED_OPS: dict[type[ast.operator], str] = {ast.Pow: "**", ast.LShift: "<<", ast.Mult: "*", ast.Add: "+"}
# The name the rewritten code calls; user code cannot name it (leading underscore), so cannot shadow it.
_GUARD_NAME = "_creditflow_binop"


def _bounded_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_ITEMS:
        raise _too_big(f"a range of {len(span):,} numbers is more than {MAX_ITEMS:,}")
    return span


# fmt: off
SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "divmod": divmod,
    "enumerate": enumerate, "filter": filter, "float": float, "int": int, "isinstance": isinstance,
    "len": len, "list": list, "map": map, "max": max, "min": min, "range": _bounded_range,
    "reversed": reversed, "round": round, "set": set, "sorted": sorted, "str": str, "sum": sum,
    "tuple": tuple, "zip": zip, "True": True, "False": False, "None": None,
    # Value types needed for credit arithmetic and due dates; none of them reaches the OS.
    "Decimal": Decimal, "date": date, "datetime": datetime, "timedelta": timedelta, "timezone": timezone,
    _GUARD_NAME: _guarded_binop,
}
# fmt: on


@dataclass(frozen=True)
class CodeProblem:
    """One reason a snippet may not run, at a 1-based line within the snippet."""

    line: int
    message: str


class ForbiddenCode(SyntaxError):
    """A script or expression that `check_code` rejects; raised instead of running it.

    A SyntaxError subclass (as RestrictedPython does), so PythonScriptEngine reports its line number
    on the WorkflowTaskException it wraps this in.
    """

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message, (SCRIPT_FILENAME, line, 1, None))
        self.line = line


def prepare_source(source: str, mode: Mode) -> str:
    """Return the text Python actually compiles: builtin eval() strips leading spaces and tabs."""
    return source.lstrip(" \t") if mode == "eval" else source


def check_code(source: str, mode: Mode) -> list[CodeProblem]:
    """List syntax errors, compiler warnings and forbidden constructs in a snippet; empty: it may run."""
    return list(_analyse(source, mode)[1])


@functools.lru_cache(maxsize=4096)
def _analyse(source: str, mode: Mode) -> tuple[CodeType | None, tuple[CodeProblem, ...]]:
    """Compile a snippet and collect its problems; cached because the engine re-evaluates the same text."""
    text = prepare_source(source, mode)
    # Compiler warnings ("is" with a literal, invalid escapes) flag real bugs, so they become problems
    # instead of noise on stderr. catch_warnings is process-wide, but the cache keeps this rare.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tree = ast.parse(text, filename=SCRIPT_FILENAME, mode=mode)
            guarded = ast.fix_missing_locations(_GuardOperators().visit(ast.parse(text, mode=mode)))
            code = compile(cast("ast.Module | ast.Expression", guarded), SCRIPT_FILENAME, mode)
        except SyntaxError as exc:
            return None, (CodeProblem(_clamp_line(exc.lineno, text), _syntax_message(exc)),)
        except (ValueError, RecursionError, MemoryError) as exc:
            # ValueError: NUL bytes; RecursionError/MemoryError: absurdly deep nesting.
            return None, (CodeProblem(1, f"the code cannot be parsed ({exc}); simplify it"),)
    # (line, column where the construct ends, message): reading order, inner attributes first.
    found = {
        (_clamp_line(w.lineno, text), 0, _warning_message(w.message))
        for w in caught
        if w.filename == SCRIPT_FILENAME  # not a warning some other thread raised meanwhile
    }
    found.update(
        (getattr(node, "lineno", 1), getattr(node, "end_col_offset", 0) or 0, message)
        for node in ast.walk(tree)
        for message in node_problems(node)
    )
    ordered = tuple(dict.fromkeys(CodeProblem(line, message) for line, _, message in sorted(found)))
    return (None if ordered else code), ordered


class _GuardOperators(ast.NodeTransformer):
    """Rewrites `a ** b` (and <<, *, +, also augmented) as a call to `_guarded_binop`."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        op = _GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        return ast.copy_location(_guard_call(op, node.left, node.right), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        op = _GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        # `t op= v` becomes `t = guard(op, t, v)`; the target expression is evaluated twice, which is
        # harmless for the names and subscripts of task data that scripts assign to.
        current = _as_load(node.target)
        return ast.copy_location(ast.Assign([node.target], _guard_call(op, current, node.value)), node)


def _guard_call(op: str, left: ast.expr, right: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(_GUARD_NAME, ast.Load()), [ast.Constant(op), left, right], [])


def _as_load(target: ast.expr) -> ast.expr:
    copy = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(copy, target)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail the snippet running inside with ScriptLimitExceeded once it has run `seconds`.

    A trace function on this thread watches only frames of snippets (file name SCRIPT_FILENAME),
    so the engine and handlers called around them run at full speed.
    """
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def on_line(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise ScriptLimitExceeded(
                f"the script ran longer than {seconds:g} s and was stopped; look for a loop that never ends"
            )
        return on_line

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        return on_line if frame.f_code.co_filename == SCRIPT_FILENAME else None

    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)


def parses(source: str, mode: Mode) -> bool:
    """Whether a snippet is syntactically valid Python, without emitting compiler warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(prepare_source(source, mode), filename=SCRIPT_FILENAME, mode=mode)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def _clamp_line(lineno: int | None, text: str) -> int:
    """Keep a SyntaxError line inside the snippet (EOF errors may point one line past the end)."""
    return max(1, min(lineno or 1, text.count("\n") + 1))


def _syntax_message(exc: SyntaxError) -> str:
    return (
        f"Python syntax error: {exc.msg}; fix the code (expressions in diagrams are Python, not FEEL or JUEL)"
    )


def _warning_message(warning: Warning | str) -> str:
    return f"Python warns: {warning}; fix the code"


def compile_checked(source: str, mode: Mode) -> CodeType:
    """Compile a checked snippet (cached by source text).

    Raises:
        ForbiddenCode: the snippet has a syntax error or a forbidden construct.
    """
    code, problems = _analyse(source, mode)
    if code is None:
        raise ForbiddenCode(problems[0].message, problems[0].line)
    return code


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment's evaluate/execute semantics, with checked code and only SAFE_BUILTINS."""

    def __init__(self, environment_globals: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(environment_globals or {}))

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Evaluate an expression against task data; nothing is written back to `context`."""
        code = compile_checked(expression, "eval")
        # A fresh dict per call, else one evaluation's variables would leak into the next.
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        my_globals["__builtins__"] = SAFE_BUILTINS
        with time_limit(TIME_LIMIT_S):
            return eval(code, my_globals)

    def execute(
        self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> bool:
        """Run a script with task data as its globals; new variables stay, globals and callables go."""
        code = compile_checked(script, "exec")
        external = dict(external_context or {})
        self._check_for_overwrite(context, external)
        context.update(self.globals)
        context.update(external)
        context["__builtins__"] = SAFE_BUILTINS
        try:
            with time_limit(TIME_LIMIT_S):
                exec(code, context)
        finally:
            self._remove_globals_and_functions(context, external)
        return True

    def _check_for_overwrite(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> None:
        """Fail clearly when task data would shadow a helper, as TaskDataEnvironment does."""
        clashes = (set(self.globals) | set(external_context)) & set(context)
        if clashes:
            raise ValueError(
                "You have task data that overwrites a predefined function(s). Please change the following "
                f"variable or field name(s) to something else: {sorted(clashes)}"
            )

    def _remove_globals_and_functions(
        self, context: dict[str, Any], external_context: Mapping[str, Any]
    ) -> None:
        """Strip builtins, helpers and callables so task data stays plain, serializable values."""
        for key in list(context):
            if (
                key == "__builtins__"
                or callable(context[key])
                or key in self.globals
                or key in external_context
            ):
                del context[key]

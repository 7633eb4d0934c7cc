"""Compiling diagram snippets: the static checks, the operator guards, and the builtins they run with.

Shared by the server (engine.sandbox) and the script worker (engine.script_worker), so it imports no
SpiffWorkflow. Every snippet is parsed once (cached by its text): `analyse` returns its code, its
problems, the names it can touch, and whether it is simple enough to run inside the server process.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import CodeType
from typing import Any, Literal, cast

from workflows.engine.script_rules import IN_PROCESS_CALLS, node_problems, runs_in_process

Mode = Literal["exec", "eval"]

# PythonScriptEngine looks for frames whose file name is "<string>" to report the failing script
# line, so compiled snippets must use exactly this name.
SCRIPT_FILENAME = "<string>"

# Bounds on what one operator may build in the script worker: an int of a million bits (~300,000 digits)
# or a sequence of ten million items is far beyond credit arithmetic. They turn an obvious bomb into a clear
# message at once; the worker's memory limit bounds what they cannot see.
MAX_INT_BITS = 1_000_000
MAX_ITEMS = 10_000_000
# Far lower bounds for snippets run inside the server: past them the snippet is re-run in the worker.
IN_PROCESS_MAX_INT_BITS = 64_000
IN_PROCESS_MAX_ITEMS = 10_000
# Decimal exponents beyond this make int(), round() and f"{x:f}" build huge numbers or strings.
IN_PROCESS_MAX_EXPONENT = 1_000


class ScriptLimitExceeded(Exception):
    """A script ran too long or tried to build a value beyond the sandbox's bounds."""


class RunInWorker(Exception):
    """Raised inside the server when a snippet grows past the in-process bounds; it re-runs in the worker.

    Snippets that run in the server have no `try` (script_rules.runs_in_process), so none can catch it.
    """


def _too_big(message: str) -> ScriptLimitExceeded:
    return ScriptLimitExceeded(f"{message}; scripts are for credit arithmetic, not bulk computation")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, bytes)) else None


def _oversized(op: str, left: Any, right: Any, max_bits: int, max_items: int) -> str | None:
    """Why `left op right` would exceed the bounds, or None."""
    if type(left) is int and type(right) is int:  # noqa: E721 - bool is fine, it cannot grow
        # The messages name sizes, not the numbers: printing a huge int fails (sys.int_info digits limit).
        if op == "**" and right > 0 and abs(left) > 1 and right * left.bit_length() > max_bits:
            return f"a power of a {left.bit_length():,}-bit number would have more than {max_bits:,} bits"
        if op == "<<" and right > max_bits:
            return f"a shift by more than {max_bits:,} bits"
        if op == "*" and left.bit_length() + right.bit_length() > max_bits:
            return f"a product of more than {max_bits:,} bits"
    elif op == "*":
        size, count = (_size(left), right) if _size(left) is not None else (_size(right), left)
        if size is not None and isinstance(count, int) and size * count > max_items:
            return f"repeating a sequence to more than {max_items:,} items"
    elif op == "+":
        sizes = (_size(left), _size(right))
        if sizes[0] is not None and sizes[1] is not None and sizes[0] + sizes[1] > max_items:
            return f"joining sequences to more than {max_items:,} items"
    return None


def _guarded_binop(op: str, left: Any, right: Any) -> Any:
    """`left op right` for the operators that can build huge values, refusing results past the bounds."""
    reason = _oversized(op, left, right, MAX_INT_BITS, MAX_ITEMS)
    if reason:
        raise _too_big(reason)
    return _OPERATORS[op](left, right)


def _in_process_binop(op: str, left: Any, right: Any) -> Any:
    if _oversized(op, left, right, IN_PROCESS_MAX_INT_BITS, IN_PROCESS_MAX_ITEMS):
        raise RunInWorker(op)
    return _OPERATORS[op](left, right)


def _formatted(value: Any) -> Any:
    """What an f-string field formats (in the worker: anything; its limits bound it)."""
    return value


# Values whose text is short whatever they hold (a Decimal's exponent is checked separately).
_SCALARS = (bool, int, float, Decimal, date, datetime, timedelta, timezone, type(None))


def _in_process_formatted(value: Any) -> Any:
    """Scalars and short strings only: the text of a container, or of a field fed back into another
    f-string, could grow with every reuse."""
    if isinstance(value, str):
        if len(value) > IN_PROCESS_MAX_ITEMS:
            raise RunInWorker("long string")
    elif isinstance(value, _SCALARS):
        _check_exponent(value)
    else:
        raise RunInWorker("container")
    return value


def _check_exponent(value: Any) -> None:
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > IN_PROCESS_MAX_EXPONENT:
        raise RunInWorker("decimal exponent")


def _in_process_str(*args: Any, **kwargs: Any) -> str:
    if args:
        _in_process_formatted(args[0])
    return str(*args, **kwargs)


def _in_process_int(*args: Any, **kwargs: Any) -> int:
    if args:
        _check_exponent(args[0])
    return int(*args, **kwargs)


def _in_process_round(number: Any, ndigits: Any = None) -> Any:
    # round(12345, -10**6) computes 10**(10**6) first; a huge exponent does the same through int().
    _check_exponent(number)
    if isinstance(ndigits, int) and abs(ndigits) > IN_PROCESS_MAX_EXPONENT:
        raise RunInWorker("round digits")
    return round(number) if ndigits is None else round(number, ndigits)


_OPERATORS: dict[str, Any] = {
    "**": lambda a, b: a**b,
    "<<": lambda a, b: a << b,
    "*": lambda a, b: a * b,
    "+": lambda a, b: a + b,
}
_GUARDED_OPS: dict[type[ast.operator], str] = {ast.Pow: "**", ast.LShift: "<<", ast.Mult: "*", ast.Add: "+"}
# The names the rewritten code calls; user code cannot name them (leading underscore), so cannot shadow them.
_GUARD_NAME = "_creditflow_binop"
_FORMAT_NAME = "_creditflow_formatted"


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
    _GUARD_NAME: _guarded_binop, _FORMAT_NAME: _formatted,
}
# fmt: on

# What a snippet accepted by `runs_in_process` sees: builtins whose cost is linear in their arguments,
# and guards that hand anything bigger to the worker. Such snippets call nothing else.
IN_PROCESS_BUILTINS: dict[str, Any] = {
    **{name: SAFE_BUILTINS[name] for name in IN_PROCESS_CALLS},
    "int": _in_process_int,
    "round": _in_process_round,
    "str": _in_process_str,
    "True": True,
    "False": False,
    "None": None,
    _GUARD_NAME: _in_process_binop,
    _FORMAT_NAME: _in_process_formatted,
}


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


@dataclass(frozen=True)
class Snippet:
    """A checked snippet's code, what it may touch, and where it may run."""

    code: CodeType
    # Every identifier the snippet names: scripts cannot look names up dynamically (no globals(),
    # vars() or eval), so these are the only task data keys it can read, write or delete.
    names: frozenset[str]
    # Names a script assigns at its top level (only tracked for snippets that run in process).
    assigned: frozenset[str]
    in_process: bool


@dataclass(frozen=True)
class Analysis:
    """A parsed snippet: its problems, or the snippet ready to run."""

    problems: tuple[CodeProblem, ...]
    snippet: Snippet | None

    @property
    def in_process(self) -> bool:
        return self.snippet is not None and self.snippet.in_process


def prepare_source(source: str, mode: Mode) -> str:
    """Return the text Python actually compiles: builtin eval() strips leading spaces and tabs."""
    return source.lstrip(" \t") if mode == "eval" else source


def check_code(source: str, mode: Mode) -> list[CodeProblem]:
    """List syntax errors, compiler warnings and forbidden constructs in a snippet; empty: it may run."""
    return list(analyse(source, mode).problems)


@functools.lru_cache(maxsize=4096)
def analyse(source: str, mode: Mode) -> Analysis:
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
            return Analysis((CodeProblem(_clamp_line(exc.lineno, text), _syntax_message(exc)),), None)
        except (ValueError, RecursionError, MemoryError) as exc:
            # ValueError: NUL bytes; RecursionError/MemoryError: absurdly deep nesting.
            return Analysis((CodeProblem(1, f"the code cannot be parsed ({exc}); simplify it"),), None)
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
    if ordered:
        return Analysis(ordered, None)
    in_process = runs_in_process(tree, frozenset(SAFE_BUILTINS))
    assigned = frozenset(
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    )
    snippet = Snippet(code, _names_in(tree), assigned if in_process else frozenset(), in_process)
    return Analysis((), snippet)


def _names_in(tree: ast.AST) -> frozenset[str]:
    """Every identifier a snippet binds or reads, wherever it appears (a superset is harmless)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.MatchAs, ast.MatchStar, ast.ExceptHandler)):
            if node.name:
                names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return frozenset(names)


class _GuardOperators(ast.NodeTransformer):
    """Rewrites `a ** b` (and <<, *, +, also augmented) as a call to the binop guard, and passes the value
    of each f-string field through the format guard."""

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

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        call = ast.Call(ast.Name(_FORMAT_NAME, ast.Load()), [node.value], [])
        node.value = ast.copy_location(call, node.value)
        return node


def _guard_call(op: str, left: ast.expr, right: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(_GUARD_NAME, ast.Load()), [ast.Constant(op), left, right], [])


def _as_load(target: ast.expr) -> ast.expr:
    copy = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(copy, target)


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


def checked_snippet(source: str, mode: Mode) -> Snippet:
    """A snippet that may run (cached by source text).

    Raises:
        ForbiddenCode: the snippet has a syntax error or a forbidden construct.
    """
    analysis = analyse(source, mode)
    if analysis.snippet is None:
        raise ForbiddenCode(analysis.problems[0].message, analysis.problems[0].line)
    return analysis.snippet


def compile_checked(source: str, mode: Mode) -> CodeType:
    """Compile a checked snippet (cached by source text).

    Raises:
        ForbiddenCode: the snippet has a syntax error or a forbidden construct.
    """
    return checked_snippet(source, mode).code

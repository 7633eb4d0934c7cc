"""Compiling diagram snippets: the static checks, and the rewrite that routes operators through guards.

Shared by the server (engine.sandbox) and the script worker (engine.script_worker), so it imports no
SpiffWorkflow. Every snippet is parsed once (cached by its text): `analyse` returns its code, its
problems, the names it can touch, and whether it is simple enough to run inside the server process.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass
from types import CodeType
from typing import Literal, cast

from workflows.engine.script_builtins import FORMAT_NAME, GUARD_NAME, GUARDED_OPS, JOIN_NAME, SAFE_BUILTINS
from workflows.engine.script_rules import node_problems, runs_in_process
from workflows.messages import _

Mode = Literal["exec", "eval"]

# PythonScriptEngine looks for frames whose file name is "<string>" to report the failing script
# line, so compiled snippets must use exactly this name.
SCRIPT_FILENAME = "<string>"


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
            return Analysis(
                (CodeProblem(1, _("the code cannot be parsed (%(error)s); simplify it", error=str(exc))),),
                None,
            )
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
    ordered = tuple(dict.fromkeys(CodeProblem(line, message) for line, _column, message in sorted(found)))
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
    """Rewrites `a ** b` (and <<, *, +, also augmented) as a call to the binop guard, `sep.join(items)` as
    a call to the join guard, and passes the value of each f-string field through the format guard."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        op = GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        return ast.copy_location(_guard_call(op, node.left, node.right), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        op = GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        # `t op= v` becomes `t = guard(op, t, v)`; the target expression is evaluated twice, which is
        # harmless for the names and subscripts of task data that scripts assign to.
        current = _as_load(node.target)
        return ast.copy_location(ast.Assign([node.target], _guard_call(op, current, node.value)), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        one_argument = len(node.args) == 1 and not node.keywords
        if isinstance(func, ast.Attribute) and func.attr == "join" and one_argument:
            call = ast.Call(ast.Name(JOIN_NAME, ast.Load()), [func.value, node.args[0]], [])
            return ast.copy_location(call, node)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        call = ast.Call(ast.Name(FORMAT_NAME, ast.Load()), [node.value], [])
        node.value = ast.copy_location(call, node.value)
        return node


def _guard_call(op: str, left: ast.expr, right: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(GUARD_NAME, ast.Load()), [ast.Constant(op), left, right], [])


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
    # Python's own words stay as Python says them (a reader searches for them); the sentence around them,
    # with where in the code, is said in the reader's language.
    return _(
        "Python syntax error at line %(line)s, column %(column)s of the code: %(error)s; fix the code "
        "(expressions in diagrams are Python, not FEEL or JUEL)",
        line=exc.lineno or 1,
        column=exc.offset or 1,
        error=exc.msg,
    )


def _warning_message(warning: Warning | str) -> str:
    return _("Python warns: %(warning)s; fix the code", warning=str(warning))


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

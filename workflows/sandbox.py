"""Restricted Python for script tasks, gateway conditions, DMN cells, timers and service parameters.

Diagrams are uploaded by process owners, so every snippet is checked by `check_code` before it is
compiled, and runs with `SAFE_BUILTINS` instead of the real builtins. The checks are static (an AST
walk); together with the reduced builtins they keep scripts away from imports, files, the network
and interpreter internals. They do not bound CPU time or memory.
"""

from __future__ import annotations

import ast
import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import CodeType
from typing import Any, Literal, cast

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

Mode = Literal["exec", "eval"]

# PythonScriptEngine looks for frames whose file name is "<string>" to report the failing script
# line, so compiled snippets must use exactly this name.
SCRIPT_FILENAME = "<string>"

# fmt: off
FORBIDDEN_NAMES: frozenset[str] = frozenset(
    {
        "open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars",
        "getattr", "setattr", "delattr", "input", "breakpoint", "help", "memoryview",
        "type", "object", "super", "classmethod", "staticmethod", "property", "exit", "quit",
    }
)

# Attributes without a leading underscore that still lead to frames, code objects or the
# interpreter's globals (e.g. `(g for g in x).gi_frame.f_back.f_globals`), plus str.format, whose
# format strings can read private attributes ("{0.__class__}") behind the AST walk's back.
FORBIDDEN_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "cr_frame", "cr_code", "cr_await",
        "ag_frame", "ag_code", "ag_await", "f_back", "f_builtins", "f_code", "f_globals", "f_locals",
        "f_trace", "tb_frame", "tb_next", "co_code", "mro", "format", "format_map",
    }
)

SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "divmod": divmod,
    "enumerate": enumerate, "filter": filter, "float": float, "int": int, "isinstance": isinstance,
    "len": len, "list": list, "map": map, "max": max, "min": min, "range": range,
    "reversed": reversed, "round": round, "set": set, "sorted": sorted, "str": str, "sum": sum,
    "tuple": tuple, "zip": zip, "True": True, "False": False, "None": None,
    # Value types needed for credit arithmetic and due dates; none of them reaches the OS.
    "Decimal": Decimal, "date": date, "datetime": datetime, "timedelta": timedelta, "timezone": timezone,
}
# fmt: on

_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Import: "import is not allowed in scripts; put this logic in a service handler",
    ast.ImportFrom: "import is not allowed in scripts; put this logic in a service handler",
    ast.Global: "'global' is not allowed in scripts; assign task data variables at the top level instead",
    ast.Nonlocal: "'nonlocal' is not allowed in scripts; return a value from the function instead",
    ast.ClassDef: "class definitions are not allowed in scripts; use dicts, or move the logic to a service "
    "handler",
    ast.AsyncFunctionDef: "async code is not allowed in scripts; move the logic to a service handler",
    ast.AsyncFor: "async code is not allowed in scripts; move the logic to a service handler",
    ast.AsyncWith: "async code is not allowed in scripts; move the logic to a service handler",
    ast.Await: "async code is not allowed in scripts; move the logic to a service handler",
    ast.Yield: "'yield' is not allowed in scripts; build and return a list instead",
    ast.YieldFrom: "'yield' is not allowed in scripts; build and return a list instead",
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
            code = compile(cast("ast.Module | ast.Expression", tree), SCRIPT_FILENAME, mode)
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
        for message in _node_problems(node)
    )
    ordered = tuple(dict.fromkeys(CodeProblem(line, message) for line, _, message in sorted(found)))
    return (None if ordered else code), ordered


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


def _node_problems(node: ast.AST) -> list[str]:
    """Messages for one AST node: forbidden statement kinds, names and attributes."""
    if type(node) in _FORBIDDEN_NODES:
        return [_FORBIDDEN_NODES[type(node)]]
    if isinstance(node, ast.Name):
        return _name_problems(node.id)
    if isinstance(node, ast.Attribute):
        return _attribute_problems(node.attr)
    if isinstance(node, ast.MatchClass):
        # `case str(__class__=c)` reads attributes by name without an ast.Attribute node.
        return [msg for attr in node.kwd_attrs for msg in _attribute_problems(attr)]
    return []


def _name_problems(name: str) -> list[str]:
    if name in FORBIDDEN_NAMES:
        return [
            f"'{name}' is not allowed in scripts because this builtin can escape the sandbox; use plain "
            "expressions on task data (and rename a task data variable of that name)"
        ]
    # A lone "_" is the usual throwaway loop variable and cannot reach anything private.
    if name.startswith("_") and name != "_":
        return [
            f"the name '{name}' is not allowed in scripts because names starting with '_' are private; "
            "rename the variable"
        ]
    return []


def _attribute_problems(attr: str) -> list[str]:
    if attr.startswith("_"):
        return [
            f"access to '.{attr}' is not allowed in scripts because attributes starting with '_' are "
            "private; use the value's public methods instead"
        ]
    if attr in ("format", "format_map"):
        return [
            f"'.{attr}()' is not allowed in scripts because format strings can read private "
            "attributes; use an f-string instead"
        ]
    if attr in FORBIDDEN_ATTRIBUTES:
        return [
            f"access to '.{attr}' is not allowed in scripts because it exposes interpreter internals; "
            "move the logic to a service handler"
        ]
    return []


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

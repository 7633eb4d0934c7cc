"""What scripts and expressions in diagrams may use, and which are simple enough to run in the server.

The sandbox (engine.script_code) walks every snippet's AST with `node_problems` before compiling it, and
with `runs_in_process` to decide where it runs: most snippets are gateway conditions, DMN cells and
one-line assignments, which cannot loop and whose cost is linear in the task data, so they run in the
server; anything else runs in the script worker, whose operating-system limits bound time and memory.
"""

from __future__ import annotations

import ast
import re

from workflows.messages import _

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
# fmt: on


_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Import: _("import is not allowed in scripts; put this logic in a service handler"),
    ast.ImportFrom: _("import is not allowed in scripts; put this logic in a service handler"),
    ast.Global: _("'global' is not allowed in scripts; assign task data variables at the top level instead"),
    ast.Nonlocal: _("'nonlocal' is not allowed in scripts; return a value from the function instead"),
    ast.ClassDef: _(
        "class definitions are not allowed in scripts; use dicts, or move the logic to a service handler"
    ),
    ast.AsyncFunctionDef: _("async code is not allowed in scripts; move the logic to a service handler"),
    ast.AsyncFor: _("async code is not allowed in scripts; move the logic to a service handler"),
    ast.AsyncWith: _("async code is not allowed in scripts; move the logic to a service handler"),
    ast.Await: _("async code is not allowed in scripts; move the logic to a service handler"),
    ast.Yield: _("'yield' is not allowed in scripts; build and return a list instead"),
    ast.YieldFrom: _("'yield' is not allowed in scripts; build and return a list instead"),
}


def node_problems(node: ast.AST) -> list[str]:
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
            _(
                "'%(name)s' is not allowed in scripts because this builtin can escape the sandbox; use plain "
                "expressions on task data (and rename a task data variable of that name)",
                name=name,
            )
        ]
    # A lone "_" is the usual throwaway loop variable and cannot reach anything private.
    if name.startswith("_") and name != "_":
        return [
            _(
                "the name '%(name)s' is not allowed in scripts because names starting with '_' are private; "
                "rename the variable",
                name=name,
            )
        ]
    return []


def _attribute_problems(attr: str) -> list[str]:
    if attr.startswith("_"):
        return [
            _(
                "access to '.%(attr)s' is not allowed in scripts because attributes starting with '_' are "
                "private; use the value's public methods instead",
                attr=attr,
            )
        ]
    if attr in ("format", "format_map"):
        return [
            _(
                "'.%(attr)s()' is not allowed in scripts because format strings can read private "
                "attributes; use an f-string instead",
                attr=attr,
            )
        ]
    if attr in FORBIDDEN_ATTRIBUTES:
        return [
            _(
                "access to '.%(attr)s' is not allowed in scripts because it exposes interpreter internals; "
                "move the logic to a service handler",
                attr=attr,
            )
        ]
    return []


# fmt: off
# Calls a snippet run in the server may make: each costs time and memory linear in its arguments
# (`int` and `round` are wrapped so a Decimal with a huge exponent goes to the worker).
IN_PROCESS_CALLS: frozenset[str] = frozenset(
    {
        "abs", "all", "any", "bool", "dict", "float", "int", "isinstance", "len", "list", "max", "min",
        "round", "set", "str", "tuple", "Decimal", "date", "datetime", "timedelta", "money", "day",
    }
)
# Methods it may call: none builds more than its receiver holds (unlike ljust, replace or split); `join`
# is rewritten into a guard that checks the length of the text it would build.
IN_PROCESS_METHODS: frozenset[str] = frozenset(
    {
        "get", "keys", "values", "items", "lower", "upper", "strip", "lstrip", "rstrip", "startswith",
        "endswith", "title", "capitalize", "casefold", "isdigit", "isalpha", "isalnum", "isspace",
        "isoformat", "date", "weekday", "isoweekday", "quantize", "join",
    }
)

# Node kinds without loops, function bodies or exception handlers. `%` (string formatting), `**` and
# `<<` are left out: the worker's guards and limits handle them. So are `*x` and `**x` unpacking and
# the !r/!a conversions: with `:=` a snippet could feed each result into the next and double it.
_IN_PROCESS_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.Pass, ast.Expr,
    ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
    ast.BitAnd, ast.BitOr, ast.BitXor, ast.RShift, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Invert, ast.IfExp, ast.Dict, ast.Set, ast.List, ast.Tuple, ast.Compare, ast.Eq, ast.NotEq,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn, ast.Call, ast.keyword,
    ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Name, ast.Load, ast.Store,
    ast.JoinedStr, ast.FormattedValue, ast.NamedExpr,
)
# fmt: on
# Bigger snippets run in the worker: the size bounds how often one snippet can copy task data.
MAX_IN_PROCESS_NODES = 120
# A constant format spec may carry widths and precisions up to 999.
_SMALL_SPEC = re.compile(r"[^0-9]*(?:[0-9]{1,3}[^0-9]+)*[0-9]{0,3}")


def runs_in_process(tree: ast.AST, builtins: frozenset[str]) -> bool:
    """Whether a checked snippet is bounded by its shape: no loops, no definitions, no `try`, only
    `IN_PROCESS_CALLS` and `IN_PROCESS_METHODS`, small format specs, names assigned only at the top."""
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_IN_PROCESS_NODES:
        return False
    return all(_in_process_node(node, builtins) for node in nodes)


def _in_process_node(node: ast.AST, builtins: frozenset[str]) -> bool:
    if not isinstance(node, _IN_PROCESS_NODES):
        return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Pow, ast.LShift, ast.MatMult)):
        return False
    if isinstance(node, ast.AugAssign):
        return isinstance(node.target, ast.Name) and not isinstance(
            node.op, (ast.Mod, ast.Pow, ast.LShift, ast.MatMult)
        )
    if isinstance(node, ast.Assign):
        return all(_plain_target(target) for target in node.targets)
    if isinstance(node, ast.Dict):
        return None not in node.keys
    if isinstance(node, ast.keyword):
        return node.arg is not None
    if isinstance(node, ast.Name):
        # Other builtins (sorted, range, sum, map, ...) may only be named in the worker.
        return node.id not in builtins or node.id in IN_PROCESS_CALLS
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in IN_PROCESS_CALLS
        if isinstance(func, ast.Attribute) and func.attr == "join":
            return len(node.args) == 1 and not node.keywords  # the shape the join guard replaces
        return isinstance(func, ast.Attribute) and func.attr in IN_PROCESS_METHODS
    if isinstance(node, ast.FormattedValue):
        spec = node.format_spec
        return node.conversion in (-1, ord("s")) and (
            spec is None
            or isinstance(spec, ast.JoinedStr)
            and all(isinstance(p, ast.Constant) and _SMALL_SPEC.fullmatch(str(p.value)) for p in spec.values)
        )
    return True


def _plain_target(target: ast.expr) -> bool:
    """Names, or tuples of names: a snippet run in the server never writes into a data structure."""
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(_plain_target(t) for t in target.elts)

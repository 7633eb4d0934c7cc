"""What scripts and expressions in diagrams may not use: statement kinds, builtins and attributes.

The sandbox (engine.sandbox) walks every snippet's AST with `node_problems` before compiling it.
"""

from __future__ import annotations

import ast

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

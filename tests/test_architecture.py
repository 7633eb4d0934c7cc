"""The house rules of the layout, checked by parsing imports (ast): no import circles, SpiffWorkflow only
behind the engine and definitions boundary, and no module over 400 lines (migrations aside)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workflows", "handlers", "webui")
MAX_LINES = 400
SPIFF_ALLOWED = ("workflows.engine", "workflows.definitions")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imported_names(path: Path, name: str) -> set[str]:
    """Every module an import statement in `path` names (absolute, or relative resolved against `name`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from workflows.engine import runner` imports the module workflows.engine.runner.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = {target for target in imported_names(path, name) if target in modules and target != name}
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_circles_in_workflows_handlers_and_webui() -> None:
    cycles = import_cycles(import_graph())
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_spiffworkflow_is_imported_only_under_engine_and_definitions() -> None:
    offenders = [
        f"{name} ({path.relative_to(ROOT)})"
        for name, path in source_modules().items()
        if not name.startswith(SPIFF_ALLOWED)
        and any(n.split(".")[0] == "SpiffWorkflow" for n in imported_names(path, name))
    ]
    assert not offenders, (
        "SpiffWorkflow imported outside workflows/engine and workflows/definitions: " + ", ".join(offenders)
    )


def test_no_module_is_over_400_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in source_modules().values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split along a seam): {too_long}"


def test_the_cycle_finder_names_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


# Values that spell like a group or process key but name something else: a config table, a limit-review
# reason and a dunning case status (and its label's msgid).
NOT_ROLES = {
    ("workflows/settings.py", "dunning"),
    ("workflows/credit/limit_review.py", "dunning"),
    ("workflows/credit/models.py", "legal"),
    ("webui/i18n.py", "legal"),  # the msgid of the dunning status's label
    ("handlers/scorecard_factors.py", "logistics"),  # an industry of the outlook table, not the group
    ("webui/customer_labels.py", "logistics"),  # that industry's label (and msgid), not the group
}


def test_groups_and_process_keys_are_spelled_only_in_credit_roles() -> None:
    from workflows.credit import roles

    spelled = {value for name, value in vars(roles).items() if name.isupper() and isinstance(value, str)}
    found = []
    for name, path in source_modules().items():
        relative = str(path.relative_to(ROOT))
        if name in ("workflows.credit.roles", "workflows.users"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and node.value in spelled
                and (relative, node.value) not in NOT_ROLES
            ):
                found.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not found, "use workflows.credit.roles instead of: " + ", ".join(found)

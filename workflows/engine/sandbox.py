"""Restricted Python for script tasks, gateway conditions, DMN cells, timers and service parameters.

Diagrams are uploaded by process owners, so every snippet is checked by `check_code` before it is
compiled (engine.script_code, engine.script_rules), and runs with `SAFE_BUILTINS` instead of the real
builtins: no imports, files, network or interpreter internals.

Each evaluation has a budget of time and memory, whatever the snippet does or catches:
- Snippets whose shape bounds their cost (no loops, definitions or `try`; a few linear builtins and
  methods; at most 120 syntax nodes; script_rules.runs_in_process) run in the server when the task
  data they name is small (IN_PROCESS_MAX_DATA). That covers gateway conditions, DMN cells and one-line
  assignments: the hot path costs microseconds. Guards hand a snippet to the worker as soon as it would
  build more than 10,000 items or 64,000-bit integers.
- Every other snippet runs in a script worker process (engine.script_pool) that caps its own address
  space at MEMORY_LIMIT_MB and is killed after TIME_LIMIT_S, so neither a C-level loop
  (`"x".ljust(10**10)`) nor `except:` around `while True` can hold the server or its write lock.
A snippet only sees (and can only change) the task data it names: names cannot be looked up
dynamically, so the worker gets exactly those values and sends back what a script assigned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from workflows.engine.script_builtins import (
    IN_PROCESS_BUILTINS,
    IN_PROCESS_MAX_DATA,
    SAFE_BUILTINS,
    RunInWorker,
    ScriptLimitExceeded,
    check_result,
    data_size,
)
from workflows.engine.script_code import (
    SCRIPT_FILENAME,
    CodeProblem,
    ForbiddenCode,
    Mode,
    Snippet,
    check_code,
    checked_snippet,
    compile_checked,
    parses,
    prepare_source,
)
from workflows.engine.script_pool import ScriptPool, shared_pool
from workflows.messages import _

__all__ = [
    "SAFE_BUILTINS",
    "CodeProblem",
    "ForbiddenCode",
    "Mode",
    "SafeEnvironment",
    "ScriptLimitExceeded",
    "check_code",
    "compile_checked",
    "parses",
    "prepare_source",
]


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment's evaluate/execute semantics, with checked code, only SAFE_BUILTINS and a
    budget per evaluation. Helpers in `environment_globals` must be picklable (module-level functions)
    when a snippet that uses them runs in the worker."""

    def __init__(self, environment_globals: Mapping[str, Any] | None = None, pool: ScriptPool | None = None):
        super().__init__(dict(environment_globals or {}))
        self._pool = pool

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Evaluate an expression against task data; nothing is written back to `context`."""
        snippet = checked_snippet(expression, "eval")
        scope = self._scope(snippet, context, external_context or {})
        if snippet.in_process and data_size(scope, IN_PROCESS_MAX_DATA) <= IN_PROCESS_MAX_DATA:
            try:
                value = eval(snippet.code, {**scope, "__builtins__": IN_PROCESS_BUILTINS})
            except RunInWorker:
                pass  # it grew past the in-process bounds: the worker evaluates it again, from the start
            else:
                check_result(value)
                return value
        return self._in_worker(("eval", expression, scope))

    def execute(
        self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> bool:
        """Run a script with task data as its globals; new variables stay, globals and callables go."""
        snippet = checked_snippet(script, "exec")
        external = dict(external_context or {})
        self._check_for_overwrite(context, external)
        scope = self._scope(snippet, context, external)
        strip = frozenset(self.globals) | frozenset(external)
        if snippet.in_process and data_size(scope, IN_PROCESS_MAX_DATA) <= IN_PROCESS_MAX_DATA:
            # It runs on a copy and writes back only plain names, so a snippet handed on to the worker
            # half-way has changed nothing.
            scratch = {**scope, "__builtins__": IN_PROCESS_BUILTINS}
            try:
                exec(snippet.code, scratch)
            except RunInWorker:
                pass
            else:
                check_result({name: scratch[name] for name in snippet.assigned if name in scratch})
                self._write_back(context, snippet.assigned, scratch, strip)
                return True
        results = self._in_worker(("exec", script, scope, strip))
        self._write_back(context, snippet.names, results, strip)
        return True

    def _scope(
        self, snippet: Snippet, context: Mapping[str, Any], external: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The values a snippet can see: helpers, then external context, then task data (which wins)."""
        names = snippet.names
        scope = {name: context[name] for name in names if name in context}
        if self.globals or external:
            for source in (external, self.globals):  # each yields to the ones before it
                scope.update((name, source[name]) for name in names if name in source and name not in scope)
        return scope

    def _in_worker(self, request: tuple[Any, ...]) -> Any:
        outcome = (self._pool or shared_pool()).call(request)
        if outcome.error is not None:
            _raise_at_line(outcome.error, outcome.line)
        return outcome.value

    @staticmethod
    def _write_back(
        context: dict[str, Any], names: frozenset[str], results: Mapping[str, Any], strip: frozenset[str]
    ) -> None:
        """Store what a script left under the names it used: helpers, external values and callables
        do not become task data (as TaskDataEnvironment strips them), and a deleted name goes."""
        for name in names:
            value = results.get(name, results)  # `results` itself marks "absent"
            if value is results or name in strip or callable(value):
                context.pop(name, None)
            else:
                context[name] = value

    def _check_for_overwrite(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> None:
        """Fail clearly when task data would shadow a helper, as TaskDataEnvironment does."""
        clashes = (set(self.globals) | set(external_context)) & set(context)
        if clashes:
            raise ValueError(
                _(
                    "You have task data that overwrites a predefined function(s). Please change the "
                    "following variable or field name(s) to something else: %(names)s",
                    names=sorted(clashes),
                )
            )


def _raise_at_line(error: Exception, line: int) -> NoReturn:
    """Raise a worker's exception from a frame named like the snippet, at the line where it failed.

    PythonScriptEngine finds a script's failing line by walking the traceback for frames whose file is
    SCRIPT_FILENAME; the real frames stayed in the worker, so this recreates the innermost one.
    """
    if line <= 0:
        raise error
    exec(compile("\n" * (line - 1) + "raise error", SCRIPT_FILENAME, "exec"), {"error": error})
    raise AssertionError("unreachable")  # pragma: no cover

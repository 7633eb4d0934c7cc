"""Every error sentence a person reads can be said in their language (issue 20): an Invalid,
Conflict, NotFound, Forbidden, BadRequest or Unauthorized raised in the domain (workflows/credit,
workflows/*.py), the handlers and the web UI gets a sentence made with `_` (workflows.messages or
Flask-Babel), directly or through a name bound to one, so `make messages` extracts it and webui/errors.py
translates it. An English-only f-string fails here, naming the file and line."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ERRORS = {"Invalid", "Conflict", "NotFound", "Forbidden", "BadRequest", "Unauthorized"}
# The handlers' refusals: the engine passes them to the API caller as "<operation> failed: <message>" (an
# input EngineError keeps the Text), so they are read by a person too.
ERRORS |= {"HandlerInputError", "MissingApprovals"}
# Errors whose sentence reaches a person through an incident (the instance page) or an API `message`: the
# engine's and the mail's failures, a decision table's, the provision matrix's (issue 20, helper L2).
ERRORS |= {
    "EngineError",
    "LoopLimitExceeded",
    "ScriptLimitExceeded",
    "WorkerFailed",
    "TemplateError",
    "UnknownTemplate",
    "LetterFontMissing",
    "DecisionError",
    "MatrixError",
}
# In the engine and the mail, a ValueError or TypeError becomes an incident's message too.
INCIDENT_ERRORS = ERRORS | {"ValueError", "TypeError", "ConnectionError", "RuntimeError", "_too_big"}
# Engine and mail raises that no person reads, per file: a programmer's mistake at import, the worker's
# own protocol, a re-raise of a sentence made elsewhere. Lower a count when you convert one; never raise it.
INTERNAL = {
    "workflows/engine/script_builtins.py": 1,  # _too_big(reason): reason is said by _oversized's caller
    "workflows/engine/script_pool.py": 1,  # re-raises the worker's message (said by the worker)
    "workflows/engine/script_worker.py": 1,  # unknown request kind: the server's own protocol
    # An operation declared wrongly (2: approvals, read-only money move); a handler returning a wrong type.
    "workflows/engine/row_writes.py": 1,  # insert_loaded on an object missing a column: our own mistake
    "workflows/engine/service_tasks.py": 3,
    "workflows/engine/spiff.py": 2,  # EngineError(message / str(exc)): said where made
    "workflows/engine/failures.py": 1,  # EngineError.placed: the same (said) message at another element
    "workflows/mail/sink.py": 2,  # the test sink's paging arguments (its caller checks them first)
    "workflows/mail/smtp.py": 1,  # no relay configured: the operator's start-up error
}
# Calls that give a translatable sentence: the two `_`, Flask-Babel's names, and workflows.errors' helpers
# (field_listing and one_after_another join Texts; message_of keeps the Text a ValueError carries).
SAYERS = {"_", "gettext", "lazy_gettext", "field_listing", "one_after_another", "message_of"}
# Raises still in English, per file: modules other helpers were changing in the same session (issue 20
# continues there). Lower a count when you convert one; never raise it.
STILL_ENGLISH = {
    "webui/api/admin.py": 1,  # workflows/store/stored_clock.py's NOT_SIMULATED
}


def _modules() -> Iterator[Path]:
    yield from sorted((ROOT / "workflows" / "credit").rglob("*.py"))
    yield from sorted((ROOT / "workflows").glob("*.py"))
    yield from sorted((ROOT / "handlers").rglob("*.py"))
    yield from sorted((ROOT / "webui").rglob("*.py"))


def _says(node: ast.expr, bound: dict[str, list[ast.expr]]) -> bool:
    """Whether `node` is a translatable sentence: a call of a sayer, either branch of a conditional being
    one, or a name every assignment in the module binds to one."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in SAYERS
    if isinstance(node, ast.IfExp):
        return _says(node.body, bound) and _says(node.orelse, bound)
    if isinstance(node, ast.Name):
        values = bound.get(node.id, [])
        return bool(values) and all(_says(value, {}) for value in values)
    return False


def english_raises(path: Path, errors: set[str] = ERRORS) -> list[int]:
    """The lines of `path` where a domain error gets a sentence that cannot be translated."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in errors
        and node.args
        and not _says(node.args[0], bound)
    )


def test_every_domain_error_in_the_domain_handlers_and_web_ui_is_said_with_a_translatable_sentence() -> None:
    found = {}
    for path in _modules():
        lines = english_raises(path)
        if lines:
            found[path.relative_to(ROOT).as_posix()] = lines
    assert {name: len(lines) for name, lines in found.items()} == STILL_ENGLISH, found


def test_every_incident_sentence_of_the_engine_and_the_mail_is_translatable() -> None:
    found = {}
    for folder in ("engine", "mail"):
        for path in sorted((ROOT / "workflows" / folder).glob("*.py")):
            lines = english_raises(path, INCIDENT_ERRORS)
            if lines:
                found[path.relative_to(ROOT).as_posix()] = lines
    # At most the internal ones (another helper may add or convert one in the same session).
    over = {name: lines for name, lines in found.items() if len(lines) > INTERNAL.get(name, 0)}
    assert over == {}, over


def _keyword_sentences(path: Path, keywords: set[str]) -> list[int]:
    """Lines where a call passes one of `keywords` (a report row's summary or rule) an untranslatable str."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
    return sorted(
        keyword.value.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg in keywords
        and isinstance(keyword.value, (ast.JoinedStr, ast.Constant, ast.BinOp))
        and not (isinstance(keyword.value, ast.Constant) and not isinstance(keyword.value.value, str))
    )


def test_the_sod_report_s_summaries_and_rules_are_translatable() -> None:
    # The SoD page says each row's summary and rule again in the reader's language (said()); an f-string
    # or a literal here would stay English.
    for path in sorted((ROOT / "workflows").glob("sod_*.py")):
        assert _keyword_sentences(path, {"summary", "rule"}) == [], path.name


def test_the_scan_sees_an_english_f_string_and_passes_a_sentence_made_with_underscore(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "from workflows.messages import _\n"
        "GONE = _('gone')\n"
        "def f(x):\n"
        "    raise NotFound(f'order {x} does not exist')\n"  # line 4: English only
        "def g(x):\n"
        "    raise NotFound(_('order %(id)s does not exist', id=x))\n"
        "def h():\n"
        "    raise Conflict(GONE)\n"
        "def k(x):\n"
        "    raise Invalid('The order has errors.' if x else _('fine'))\n"  # line 10: one branch English
    )
    assert english_raises(module) == [4, 10]

"""The texts an approver sees on a task: its one-line subject and its instructions.

Instructions are Jinja templates from deployed diagrams, so they render in a SandboxedEnvironment
(no private attributes, no unsafe calls) under the same budget as scripts: simple templates render in
the server, others in the script worker (engine.script_pool), and the text is capped in length.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from functools import lru_cache, partial
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from workflows.credit.dispute_reasons import dispute_lines_filter
from workflows.credit.promise_limits import joined_filter, limits_filter
from workflows.engine.script_builtins import ScriptLimitExceeded
from workflows.engine.script_days import day_in
from workflows.engine.script_money import MONEY_BY_LANGUAGE, money_filter
from workflows.engine.script_pool import ScriptPool, shared_pool
from workflows.messages import _

logger = logging.getLogger(__name__)

_NAME_KEYS = ("subject", "customer_name", "supplier_name", "contract_number")
_AMOUNT_KEYS = ("requested_limit", "recommended_limit", "value_impact", "overdue_amount", "amount")


def render_subject(data: Mapping[str, Any], business_key: str | None) -> str:
    """Name and amount from well-known task data keys, else the business key."""
    if isinstance(data.get("subject"), str):
        return str(data["subject"])[:300]
    parts = [str(data[k]) for k in _NAME_KEYS[1:] if data.get(k) not in (None, "")][:1]
    amount = next((data[k] for k in _AMOUNT_KEYS if data.get(k) not in (None, "")), None)
    if amount is not None:
        # As an English subject expression's money(amount, currency) writes it: "€200,000.00".
        parts.append(MONEY_BY_LANGUAGE["en"](amount, data.get("currency")))
    if not parts and business_key:
        parts.append(business_key)
    return " · ".join(parts)[:300]


# Instructions longer than this are a template that loops or blows up, not text for an approver.
MAX_INSTRUCTIONS_CHARS = 20_000


def _environment(language: str) -> SandboxedEnvironment:
    # `{{ amount | money(currency) }}` writes the amount as the text's language does: "CN¥200,000.00" in
    # `instructions`, "¥200,000.00" in `instructions_zh` (engine.script_money).
    environment = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)
    environment.filters["money"] = money_filter(language)
    # `{{ dispute | dispute_lines }}`: a dispute's invoices, amounts and reasons in the text's language (a
    # template loop would render in the script worker; this is linear in the lines, so in the server).
    environment.filters["dispute_lines"] = dispute_lines_filter(language)
    # `{{ review.oldest_due | day }}`: a day as the text's reader writes it ("2 Mar 2026", "2026年3月2日");
    # task data holds days as ISO text (engine.script_days; a subject's `day(...)` writes the same).
    environment.filters["day"] = partial(day_in, language=language)
    # `{{ promise_record.outside | promise_limits }}`: the promise limits a promise breaks, stored as codes
    # and figures, said in the text's language and joined as it joins them (workflows/credit/promise_limits).
    environment.filters["promise_limits"] = limits_filter(language)
    # `join` says such a stored limit too: a dunning version deployed before the codes joins the list as it
    # joined the English sentences it held then (`promise_record.outside | join('; ')`).
    environment.filters["join"] = joined_filter(language)
    return environment


_ENVIRONMENTS = {language: _environment(language) for language in MONEY_BY_LANGUAGE}
_INSTRUCTIONS = _ENVIRONMENTS["en"]

# Templates built only from these (no loops, calls, macros or arithmetic) cost time linear in the task
# data, so they render in the server; any other template renders in the script worker.
_IN_PROCESS_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.Filter, nodes.Test, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand,
    nodes.And, nodes.Or, nodes.Not, nodes.Concat,
)  # fmt: skip
_IN_PROCESS_FILTERS = frozenset(
    {
        "money", "dispute_lines", "day", "promise_limits", "default", "d", "upper", "lower", "title",
        "capitalize", "trim", "e", "escape", "string", "join", "length", "count", "first", "last",
    }
)  # fmt: skip
# `join` writes its separator between every two items, so only a short one keeps the text linear.
_MAX_SEPARATOR = 10
_IN_PROCESS_TESTS = frozenset({"defined", "undefined", "none", "number", "string", "true", "false"})


@lru_cache(maxsize=512)
def _compiled(template: str, language: str) -> Template:
    # Instructions come from deployed diagrams and repeat on every task: compile each text once.
    return _ENVIRONMENTS.get(language, _INSTRUCTIONS).from_string(template)


@lru_cache(maxsize=512)
def renders_in_process(template: str) -> bool:
    """Whether a template is simple enough to render in the server (else it needs the script worker)."""
    try:
        return all(_in_process_node(node) for node in _walk(_INSTRUCTIONS.parse(template)))
    except TemplateError:
        return True  # fails at once wherever it runs; the error is reported by render_instructions
    except RecursionError:
        return False  # absurdly deep nesting: the worker's limits apply


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def _in_process_node(node: nodes.Node) -> bool:
    if not isinstance(node, _IN_PROCESS_NODES):
        return False
    if isinstance(node, nodes.Filter):
        if node.name == "join":
            return all(isinstance(a, nodes.Const) and len(str(a.value)) <= _MAX_SEPARATOR for a in node.args)
        return node.name in _IN_PROCESS_FILTERS
    if isinstance(node, nodes.Test):
        return node.name in _IN_PROCESS_TESTS
    return True


def render_capped(template: str, data: Mapping[str, Any], max_chars: int, language: str = "en") -> str:
    """Render a template in the sandboxed environment, stopping once the text passes `max_chars`
    (its `money` filter writing amounts as `language` does).

    Raises:
        ScriptLimitExceeded: the text is longer than `max_chars`.  TemplateError: a broken template.
    """
    parts: list[str] = []
    length = 0
    for part in _compiled(template, language).generate(dict(data)):
        length += len(part)
        if length > max_chars:
            raise ScriptLimitExceeded(
                _(
                    "the task's instructions are longer than %(most)s characters; shorten the template or "
                    "show fewer items",
                    most=format(max_chars, ","),
                )
            )
        parts.append(part)
    return "".join(parts)


def render_instructions(
    template: str, data: Mapping[str, Any], pool: ScriptPool | None = None, language: str = "en"
) -> str:
    """Fill `{{ placeholders }}` of a task's instructions from its data (sandboxed; escaped where shown).

    A template with loops or calls renders in the script worker, under the scripts' time and memory
    budget; a broken template, or one failing on odd data, is shown as written (and logged).

    Raises:
        ScriptLimitExceeded: the template ran too long, needed too much memory or wrote too much.
    """
    if "{" not in template:
        return template
    try:
        if renders_in_process(template):
            return _displayable(render_capped(template, data, MAX_INSTRUCTIONS_CHARS, language))
        request = ("render", template, dict(data), MAX_INSTRUCTIONS_CHARS, language)
        outcome = (pool or shared_pool()).call(request)
        if outcome.error is not None:
            raise outcome.error
        return _displayable(str(outcome.value))
    except ScriptLimitExceeded:
        raise
    except Exception:  # noqa: BLE001 - display text only: a template error never fails the step
        logger.warning("instructions could not be rendered: %r", template[:200], exc_info=True)
        return template


def _displayable(text: str) -> str:
    """The text without NUL characters and unpaired surrogates (`{{ "\\x00" }}` writes one), which
    PostgreSQL's text columns and UTF-8 pages cannot hold."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")

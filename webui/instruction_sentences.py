"""A task's Chinese instructions with the stored English sentences inside them said in Chinese.

A diagram's `instructions_zh` may fill in a case-data value that our code stored as an English sentence: an
order hold's `reason` is the credit check's "over the credit limit: exposure €0.00 + order €820,000.00 = ..."
(workflows/credit/credit_checks.py), written when the check ran, long before anyone reads the task. The
instructions are rendered when the task opens, in the engine, which knows no catalogue; so the page says such
a value again (webui/stored_sentences.said_stored, the one mechanism for stored English) where it stands in
the text. Only the keys that hold our sentences are looked at, never what a person typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_babel import gettext

from webui.case_labels import PROCESS_SENTENCE_KEYS, known_label
from webui.i18n import current_language
from webui.process_sentences import is_process_sentence
from webui.stored_sentences import dated, said_stored, stored_msgid
from webui.suppliers import CONTRACT_FIELD_LABELS, contract_field_label
from workflows.credit import roles
from workflows.definitions.display_names import ENGLISH
from workflows.languages import clauses_joined


def said_instructions(text: str, process_key: str, data: Mapping[str, Any] | None) -> str:
    """`text` (the task's instructions in the page's language) with each stored sentence of `data` in it
    said in that language; English pages, and values no msgid matches, as they are."""
    if current_language() == ENGLISH or not text or not data:
        return text
    if process_key == roles.SUPPLIER_CONTRACT_CHANGE:
        text = _change_summary(text, data.get("change_request"))
        # The requester's typed reason often ends in its own full stop: "变更理由：…rebate.。" reads twice.
        reason = data.get("reason")
        if isinstance(reason, str) and reason.endswith((".", "。")) and f"{reason}。" in text:
            text = text.replace(f"{reason}。", f"{reason.rstrip('.。')}。")
    for key in PROCESS_SENTENCE_KEYS.get(process_key, ()):
        value = data.get(key)
        if not isinstance(value, str) or " " not in value or value not in text:
            continue
        if not is_process_sentence(process_key, stored_msgid(value)):
            continue  # typed on the start form, however much it looks like one of our sentences
        said = said_stored(value)
        if said != value:
            text = text.replace(value, said)
    return text


def _change_summary(text: str, request: Any) -> str:
    """A contract change request's `summary` ("payment terms days: 60 -> 90; ...", handlers/contracts.py
    describe_changes: the English line the instructions show) said again from its `changes` and `current`:
    "付款期限（天）：60 → 90"."""
    if not isinstance(request, Mapping):
        return text
    summary, changes, current = request.get("summary"), request.get("changes"), request.get("current")
    if not isinstance(summary, str) or not summary or summary not in text or not isinstance(changes, Mapping):
        return text
    current = current if isinstance(current, Mapping) else {}
    parts = []
    for key, new in changes.items():
        old = current.get(key)
        # The contract's own fields, else a term's key (price, delivery ...) as the case data labels it.
        label = contract_field_label(key) if key in CONTRACT_FIELD_LABELS else known_label(key) or str(key)
        parts.append(
            f"{label}：{'—' if old is None else _shown(old)} → "
            f"{gettext('(removed)') if new is None else _shown(new)}"
        )
    return text.replace(summary, clauses_joined(parts, "；"))


def _shown(value: Any) -> str:
    """A contract value as the page writes it: a day as the page's days, anything else as stored."""
    return str(dated(value))


def change_summary(request: Mapping[str, Any], process: str | None = None) -> str:
    """A contract change request's stored `summary` (English, handlers/contracts.py) as the case-data table
    shows it: in the page's language, rebuilt from the request's `changes` and `current`. Only in a contract
    change (`process`: the case's process key); elsewhere a "summary" beside "changes" is someone's text."""
    summary = request.get("summary")
    if (
        not isinstance(summary, str)
        or current_language() == ENGLISH
        or process != roles.SUPPLIER_CONTRACT_CHANGE
    ):
        return str(summary)
    return _change_summary(summary, request)


def register(app: Flask) -> None:
    app.jinja_env.globals["change_summary"] = change_summary

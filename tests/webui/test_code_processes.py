"""webui/case_keys.CODE_PROCESSES names, per case-data key whose values are our codes, the shipped processes
that write that key; elsewhere the value is what a person typed and is shown as stored. The table is written
by hand, so this reads what each shipped diagram can write — its service operations' results (the dataclass
fields, nested ones too), the outputs of the decision tables its business rule tasks call, its forms'
fields and its scripts' assignments — and fails when a shipped process writes a coded key the table does
not name for it (R21's note Z2: a new code, or a new process writing one, would be shown raw)."""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from handlers import disputes
from handlers.registry import build_operations
from webui.case_keys import CODE_PROCESSES, GROUP_KEYS, VALUE_LABELS
from workflows.definitions.shipped import shipped_bundles
from workflows.settings import BPMN_DIR

# Operations whose result is a plain dict, with the function that builds it (its keys are read from the
# source, '"key": ...'): a new one fails the test below until it is named here.
DICT_RESULTS = {"dispute.open": disputes.dispute_json}


def _fields(kind: Any, seen: set[type]) -> Iterator[str]:
    """The field names of a result type, nested dataclasses and those inside lists, dicts and unions too."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if kind in seen:
            return
        seen.add(kind)
        hints = typing.get_type_hints(kind)
        for field in dataclasses.fields(kind):
            yield field.name
            yield from _fields(hints[field.name], seen)
        return
    for inner in typing.get_args(kind):
        yield from _fields(inner, seen)


def _form_keys(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    for key, field in (schema.get("properties") or {}).items():
        yield key
        yield from _form_keys(field)
    yield from _form_keys(schema.get("items"))


def written_keys(bundle: list[Path]) -> set[str]:
    """Every case-data key a shipped diagram (with its tables and forms) can write."""
    bpmn, *files = bundle
    text = bpmn.read_text(encoding="utf-8")
    operations = build_operations()
    keys: set[str] = set()
    for name in re.findall(r'serviceTaskOperator id="([\w.]+)"', text):
        result = typing.get_type_hints(operations[name].func).get("return")
        if name in DICT_RESULTS:
            keys |= set(re.findall(r'^\s*"(\w+)":', inspect.getsource(DICT_RESULTS[name]), re.M))
        else:
            assert dataclasses.is_dataclass(result), f"{name} returns {result}: name its keys in DICT_RESULTS"
            keys |= set(_fields(result, set()))
    called = set(re.findall(r"calledDecisionId>\s*([\w.-]+)\s*<", text))
    for path in files:
        body = path.read_text(encoding="utf-8")
        if path.suffix == ".dmn" and called & set(re.findall(r'<decision id="([\w.-]+)"', body)):
            keys |= set(re.findall(r'<output [^>]*name="(\w+)"', body))
        elif path.suffix == ".json":
            keys |= set(_form_keys(json.loads(body)))
    scripts = r"<(?:spiffworkflow:postScript|spiffworkflow:preScript|bpmn:script)>(.*?)</"
    for script in re.findall(scripts, text, re.S):
        code = html.unescape(script)
        keys |= set(re.findall(r"(?m)^\s*([a-z_]\w*)\s*=(?!=)", code))  # finance_review = {...}
        keys |= set(re.findall(r"[\"'](\w+)[\"']\s*:", code))  # {"decision": ...}
    return keys


def test_every_shipped_process_that_writes_a_coded_key_is_named_in_code_processes() -> None:
    written = {bundle[0].stem: written_keys(bundle) for bundle in shipped_bundles()}
    assert len(written) >= 9 and all(written.values())
    missing = {
        key: sorted(process for process, keys in written.items() if key in keys and process not in declared)
        for key, declared in CODE_PROCESSES.items()
    }
    assert {key: found for key, found in missing.items() if found} == {}
    # The reading itself reaches what the table was written from (a sample per source kind).
    assert "approval_level" in written["write_off"]  # write_off_authority.dmn's output
    assert "action" in written["dunning"] and "change" in written["credit_limit_review"]
    assert {"owner_group", "scorecard", "change_type"} <= (
        written["dispute_resolution"] | written["credit_application"] | written["supplier_contract_change"]
    )


def test_every_key_whose_values_are_said_as_codes_is_in_code_processes() -> None:
    """A key case_keys.coded_value or case_labels.data_value says by a code table must be in CODE_PROCESSES,
    or a person's typed value under it would read as our code in every process."""
    coded = set(VALUE_LABELS) | set(GROUP_KEYS)
    coded |= {"status", "change_type", "scorecard", "industry", "ownership"}
    assert coded - set(CODE_PROCESSES) == set()


def test_the_table_names_only_shipped_processes() -> None:
    shipped = {path.stem for path in BPMN_DIR.glob("*.bpmn")}
    assert set().union(*CODE_PROCESSES.values()) <= shipped


def test_our_sentence_keys_are_said_in_every_shipped_process_that_writes_them() -> None:
    """case_labels.SENTENCE_PROCESSES, the same rule for the keys holding our handlers' sentences (basis,
    why): said in the reader's language only there, shown as typed elsewhere (A24: never searched for a
    crafted case)."""
    from webui.case_labels import SENTENCE_KEYS, SENTENCE_PROCESSES

    written = {bundle[0].stem: written_keys(bundle) for bundle in shipped_bundles()}
    for key in SENTENCE_KEYS:
        writers = {process for process, keys in written.items() if key in keys}
        assert writers and writers <= SENTENCE_PROCESSES, (key, writers)

"""A decision table's own words in the page's language where a page shows what the table decided (the
instance page's decision log): the table's name, its input columns' labels and the note of the rule that
answered, as the DMN files of the instance's version give them (`name_zh`, `label_zh`, `description_zh`;
workflows/definitions/decision_tables.py). English pages keep the ids and input expressions they showed.

Templates call `decision_words(instance_id, decision_id)` (None in English, or when the version has no
such table); webui/decision_sources.py names a policy's table by `table_name(process_key, version, file)`.
A deployed version never changes, so its tables are read once per request (flask.g).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, g

from webui.case_labels import known_label
from webui.diagrams import deployment_files
from webui.i18n import current_language
from webui.services import services
from workflows.definitions.decision_tables import ENGLISH, read_decision_tables
from workflows.definitions.display_names import instance_versions
from workflows.definitions.versions import get_definition, latest_definition
from workflows.errors import NotFound

_TABLES = "definition_tables"  # flask.g: (definition id, language) -> {decision id: TableWords}


@dataclass(frozen=True)
class TableWords:
    """What a page says of one decision table in a language."""

    name: str
    file: str = ""  # the .dmn file that holds the table
    inputs: dict[str, str] = field(default_factory=dict)  # input expression -> the column's label
    notes: dict[int, str] = field(default_factory=dict)  # rule row (1 = first) -> its note

    def labelled(self, inputs: Any) -> Any:
        """A decision's logged inputs ({expression: value}) keyed by their columns' labels where the page has
        no label of its own for the expression (`scoring["score"]` -> 得分（0–100）); a case-data key the page
        labels (`industry`, `grade`) stays, so its value is still said by its label (制造业). As they are when
        not such a mapping, or when two keys would read the same."""
        if not isinstance(inputs, dict):
            return inputs
        keyed = {
            self.inputs.get(str(key), str(key)) if known_label(key) is None else key: value
            for key, value in inputs.items()
        }
        return keyed if len(keyed) == len(inputs) else inputs


def _tables(definition_id: int, language: str) -> dict[str, TableWords]:
    cache: dict[tuple[int, str], dict[str, TableWords]] = g.setdefault(_TABLES, {})
    key = (definition_id, language)
    if key not in cache:
        rt = services().rt
        with rt.factory() as session:
            files = deployment_files(session, rt.definition(session, definition_id))
        cache[key] = {
            table.decision_id: TableWords(
                name=table.name,
                file=table.file,
                inputs={expression: label for label, expression in table.columns if label},
                notes={row: note for row, (_, _, note) in enumerate(table.rules, start=1) if note},
            )
            for table in read_decision_tables(files, language)
        }
    return cache[key]


def decision_words(instance_id: int, decision_id: str) -> TableWords | None:
    """The words of decision `decision_id` as the instance's version says them in the page's language."""
    language = current_language()
    if language == ENGLISH:
        return None
    with services().rt.factory() as session:
        versions = instance_versions(session, [instance_id])
    if instance_id not in versions:
        return None
    return _tables(versions[instance_id], language).get(decision_id)


def table_name(process_key: str, version: int | None, file: str) -> str | None:
    """The name, in the page's language, of the decision table in `file` as version `version` of
    `process_key` (its newest active version when None) deploys it; None in English, or when that version,
    file or a name in the language is missing (a page then names the file alone)."""
    language = current_language()
    if language == ENGLISH:
        return None
    with services().rt.factory() as session:
        try:
            definition = (
                latest_definition(session, process_key, required=False)
                if version is None
                else get_definition(session, process_key, version)
            )
        except NotFound:
            return None
    if definition is None:
        return None
    english = {key: t.name for key, t in _tables(definition.id, ENGLISH).items() if t.file == file}
    for decision_id, table in _tables(definition.id, language).items():
        if table.file == file and table.name and table.name != english.get(decision_id):
            return table.name
    return None


def register(app: Flask) -> None:
    app.jinja_env.globals.update(decision_words=decision_words)

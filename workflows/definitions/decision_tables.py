"""Read DMN decision tables into plain rows, so process owners can see the policy a version deploys.

A table speaks a language other than English where its author gave the words in it, as a diagram does
(workflows/definitions/display_names.py): the `spiffworkflow:property` named `name_<code>` (the decision's
name), `description_<code>` (the decision's description, a rule's note) or `label_<code>` (a column's label)
in the element's `extensionElements` (`name_zh`, `description_zh`, `label_zh`). Words it does not give in a
language are the English ones; expressions, output names and cells are code and never translated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from workflows.definitions.problems import SPIFF_NS

DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)


@dataclass
class DecisionTable:
    file: str
    decision_id: str
    name: str
    hit_policy: str
    description: str
    inputs: list[str] = field(default_factory=list)  # "label (expression)"
    columns: list[tuple[str, str]] = field(default_factory=list)  # (label, expression) of each input
    outputs: list[str] = field(default_factory=list)  # "label (name)"
    rules: list[tuple[list[str], list[str], str]] = field(default_factory=list)  # inputs, outputs, note


ENGLISH = "en"


def read_decision_tables(files: dict[str, str], language: str = ENGLISH) -> list[DecisionTable]:
    """Every decision table in the `.dmn` files of a deployment, its words in `language` where the table
    gives them (unreadable files are skipped: deploy validation already refused broken ones, so this only
    happens for data edited by hand)."""
    tables = []
    for name, text in sorted(files.items()):
        if not name.endswith(".dmn"):
            continue
        try:
            root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError:
            continue
        ns = next((n for n in DMN_NAMESPACES if root.tag == f"{{{n}}}definitions"), None)
        if ns is None:
            continue
        for decision in root.iterfind(f"{{{ns}}}decision"):
            table = decision.find(f"{{{ns}}}decisionTable")
            if table is not None:
                tables.append(_table(name, ns, decision, table, language))
    return tables


def _text(element: etree._Element | None, path: str, ns: str) -> str:
    found = element.find(path.replace("d:", f"{{{ns}}}")) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _said(element: etree._Element, ns: str, prop: str, language: str, english: str) -> str:
    """The element's `prop`_`language` property (its words in that language); `english` when it gives none."""
    if language == ENGLISH:
        return english
    wanted = f"{prop}_{language}"
    path = f"{{{ns}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
    for found in element.iterfind(path):
        value = (found.get("value") or "").strip()
        if found.get("name") == wanted and value:
            return value
    return english


def _table(
    file: str, ns: str, decision: etree._Element, table: etree._Element, language: str = ENGLISH
) -> DecisionTable:
    result = DecisionTable(
        file=file,
        decision_id=decision.get("id", ""),
        name=_said(decision, ns, "name", language, decision.get("name", "")),
        hit_policy=table.get("hitPolicy", "UNIQUE"),
        description=_said(decision, ns, "description", language, _text(decision, "d:description", ns)),
    )
    for column in table.iterfind(f"{{{ns}}}input"):
        label = _said(column, ns, "label", language, column.get("label") or "")
        expression = _text(column, "d:inputExpression/d:text", ns)
        result.inputs.append(f"{label} ({expression})")
        result.columns.append((label, expression))
    for column in table.iterfind(f"{{{ns}}}output"):
        label = _said(column, ns, "label", language, column.get("label") or "")
        result.outputs.append(f"{label} ({column.get('name') or ''})")
    for rule in table.iterfind(f"{{{ns}}}rule"):
        ins = [_text(e, "d:text", ns) or "-" for e in rule.iterfind(f"{{{ns}}}inputEntry")]
        outs = [_text(e, "d:text", ns) for e in rule.iterfind(f"{{{ns}}}outputEntry")]
        note = _said(rule, ns, "description", language, _text(rule, "d:description", ns))
        result.rules.append((ins, outs, note))
    return result


def output_values(text: str, decision_id: str, output_name: str) -> list[str]:
    """The cells of one output column (by its `name`) of one decision table in a DMN file, rule by rule;
    [] when the file does not parse or has no such decision or output."""
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return []
    ns = next((n for n in DMN_NAMESPACES if root.tag == f"{{{n}}}definitions"), None)
    if ns is None:
        return []
    for decision in root.iterfind(f"{{{ns}}}decision"):
        table = decision.find(f"{{{ns}}}decisionTable")
        if decision.get("id") != decision_id or table is None:
            continue
        names = [column.get("name") for column in table.iterfind(f"{{{ns}}}output")]
        if output_name not in names:
            return []
        index = names.index(output_name)
        values = []
        for rule in table.iterfind(f"{{{ns}}}rule"):
            cells = [_text(e, "d:text", ns) for e in rule.iterfind(f"{{{ns}}}outputEntry")]
            if index < len(cells):
                values.append(cells[index])
        return values
    return []

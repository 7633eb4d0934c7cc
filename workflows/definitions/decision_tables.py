"""Read DMN decision tables into plain rows, so process owners can see the policy a version deploys."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

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
    outputs: list[str] = field(default_factory=list)  # "label (name)"
    rules: list[tuple[list[str], list[str], str]] = field(default_factory=list)  # inputs, outputs, note


def read_decision_tables(files: dict[str, str]) -> list[DecisionTable]:
    """Every decision table in the `.dmn` files of a deployment (unreadable files are skipped: deploy
    validation already refused broken ones, so this only happens for data edited by hand)."""
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
                tables.append(_table(name, ns, decision, table))
    return tables


def _text(element: etree._Element | None, path: str, ns: str) -> str:
    found = element.find(path.replace("d:", f"{{{ns}}}")) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _table(file: str, ns: str, decision: etree._Element, table: etree._Element) -> DecisionTable:
    result = DecisionTable(
        file=file,
        decision_id=decision.get("id", ""),
        name=decision.get("name", ""),
        hit_policy=table.get("hitPolicy", "UNIQUE"),
        description=_text(decision, "d:description", ns),
    )
    for column in table.iterfind(f"{{{ns}}}input"):
        result.inputs.append(f"{column.get('label') or ''} ({_text(column, 'd:inputExpression/d:text', ns)})")
    for column in table.iterfind(f"{{{ns}}}output"):
        result.outputs.append(f"{column.get('label') or ''} ({column.get('name') or ''})")
    for rule in table.iterfind(f"{{{ns}}}rule"):
        ins = [_text(e, "d:text", ns) or "-" for e in rule.iterfind(f"{{{ns}}}inputEntry")]
        outs = [_text(e, "d:text", ns) for e in rule.iterfind(f"{{{ns}}}outputEntry")]
        result.rules.append((ins, outs, _text(rule, "d:description", ns)))
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

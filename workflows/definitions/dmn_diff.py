"""A policy change is a diff (issue 18): what changed between two DMN files, in words.

Decisions are matched by id, and so are the input and output columns and the rules of a decision table;
a column another tool saved under a new id is matched by its expression (inputs) or name (outputs), and a
rule under a new id by its cells. What is left is added or removed. Each change is one sentence a process
owner can read: "rule 2 (above_hundred_thousand): Recommended limit in the base currency > 100000 → > 150000".

Any DMN 1.1 to 1.3 file is read (the namespace is ignored), with the same safe XML parser as deploy; a file
that is not DMN is refused with DmnDiffError rather than compared as empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from workflows.definitions.list_pairs import pair_by_keys
from workflows.errors import Invalid
from workflows.messages import Text, _

ANY = "-"  # how an empty cell (any value) is written
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class DmnDiffError(Invalid):
    """A file compared is not a readable DMN file."""


@dataclass(frozen=True)
class Change:
    """One difference: `kind` says what changed, `rule` and `column` where, `old` and `new` the values."""

    kind: str
    text: str
    rule: str | None = None
    column: str | None = None
    old: str | None = None
    new: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "rule": self.rule,
            "column": self.column,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    key: str  # an input's expression, an output's name: what the column reads or sets

    @property
    def title(self) -> str:
        return self.label or self.key or self.id


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass
class Table:
    decision_id: str
    name: str
    hit_policy: str = ""  # "" for a decision without a decision table
    aggregation: str = ""
    inputs: list[Column] = field(default_factory=list)
    outputs: list[Column] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


@dataclass(frozen=True)
class DecisionDiff:
    decision_id: str
    name: str
    status: str  # "added", "removed", "changed", "unchanged"
    changes: list[Change]

    def as_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "name": self.name,
            "status": self.status,
            "changes": [c.as_json() for c in self.changes],
        }


def read_tables(text: str | bytes, file_name: str = _("the file")) -> dict[str, Table]:
    """Every decision of a DMN file by id.

    Raises:
        DmnDiffError: not well-formed XML, or not a DMN `definitions` document.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DmnDiffError(
            _("%(file)s is not well-formed XML: %(error)s", file=file_name, error=str(exc))
        ) from exc
    if root.getroottree().docinfo.internalDTD is not None:  # as deploy: no DOCTYPE, no entities
        raise DmnDiffError(
            _("%(file)s has a DOCTYPE declaration, which DMN files never need", file=file_name)
        )
    if etree.QName(root).localname != "definitions" or "DMN" not in (etree.QName(root).namespace or ""):
        raise DmnDiffError(
            _("%(file)s is not a DMN file (its root is not a DMN definitions element)", file=file_name)
        )
    tables: dict[str, Table] = {}
    for decision in _children(root, "decision"):
        decision_id = decision.get("id") or ""
        table = Table(decision_id, decision.get("name") or "")
        for element in _children(decision, "decisionTable")[:1]:
            _read_table(table, element)
        tables[decision_id] = table
    return tables


def _children(element: Any, name: str) -> list[Any]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _text_of(element: Any) -> str:
    """The trimmed <text> of a cell or expression; "" when absent."""
    for child in _children(element, "text"):
        return " ".join((child.text or "").split())
    return ""


def _read_table(table: Table, element: Any) -> None:
    table.hit_policy = (element.get("hitPolicy") or "UNIQUE").upper()
    table.aggregation = (element.get("aggregation") or "").upper()
    for column in _children(element, "input"):
        expressions = _children(column, "inputExpression")
        expression = _text_of(expressions[0]) if expressions else ""
        table.inputs.append(Column(column.get("id") or "", column.get("label") or "", expression))
    for column in _children(element, "output"):
        table.outputs.append(
            Column(column.get("id") or "", column.get("label") or "", column.get("name") or "")
        )
    for rule in _children(element, "rule"):
        descriptions = _children(rule, "description")
        table.rules.append(
            Rule(
                rule.get("id") or "",
                " ".join((descriptions[0].text or "").split()) if descriptions else "",
                tuple(_cell(c) for c in _children(rule, "inputEntry")),
                tuple(_cell(c) for c in _children(rule, "outputEntry")),
            )
        )


def _cell(entry: Any) -> str:
    text = _text_of(entry)
    return text if text and text != ANY else ANY


def compare_dmn(old: str | bytes, new: str | bytes, decision_id: str | None = None) -> list[DecisionDiff]:
    """What changed from `old` to `new`, decision by decision (only `decision_id` when given), in the
    order of `old` then the decisions only `new` has.

    Raises:
        DmnDiffError: a file is not DMN.
    """
    before, after = read_tables(old, _("the old file")), read_tables(new, _("the new file"))
    ids = list(before) + [d for d in after if d not in before]
    if decision_id is not None:
        ids = [d for d in ids if d == decision_id]
    return [compare_tables(before.get(d), after.get(d)) for d in ids]


def compare_tables(old: Table | None, new: Table | None) -> DecisionDiff:
    """The changes from one version of a decision to the next (either may be missing)."""
    if old is None and new is not None:
        text = _("decision %(id)s added with %(size)s", id=new.decision_id, size=_size(new))
        return DecisionDiff(new.decision_id, new.name, "added", [Change("decision_added", text)])
    if new is None and old is not None:
        text = _("decision %(id)s removed (it had %(size)s)", id=old.decision_id, size=_size(old))
        return DecisionDiff(old.decision_id, old.name, "removed", [Change("decision_removed", text)])
    assert old is not None and new is not None
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(_change("decision_renamed", _("decision name"), None, None, old.name, new.name))
    if (old.hit_policy, old.aggregation) != (new.hit_policy, new.aggregation):
        changes.append(
            _change(
                "hit_policy",
                _("hit policy"),
                None,
                None,
                _policy(old),
                _policy(new) or _("no decision table"),
            )
        )
    inputs, input_changes = _columns("input", old.inputs, new.inputs)
    outputs, output_changes = _columns("output", old.outputs, new.outputs)
    changes += input_changes + output_changes + _rules(old, new, inputs, outputs)
    return DecisionDiff(new.decision_id, new.name, "changed" if changes else "unchanged", changes)


def _size(table: Table) -> str:
    if not table.hit_policy:
        return _("no decision table")
    if len(table.rules) == 1:
        return _("1 rule, hit policy %(policy)s", policy=_policy(table))
    return _("%(count)s rules, hit policy %(policy)s", count=len(table.rules), policy=_policy(table))


def _policy(table: Table) -> str:
    return f"{table.hit_policy} {table.aggregation}".strip()


def _change(
    kind: str, what: str, rule: str | None, column: str | None, old: str | None, new: str | None
) -> Change:
    text = _("%(what)s: %(old)s → %(new)s", what=what, old=old or _("(none)"), new=new or _("(none)"))
    return Change(kind, text, rule, column, old, new)


def _columns(
    kind: str, old: list[Column], new: list[Column]
) -> tuple[list[tuple[int | None, int | None]], list[Change]]:
    """Pairs of (old index, new index) for every column, and the column changes in words."""
    pairs = pair_by_keys(old, new, [lambda c: c.id, lambda c: c.key, lambda c: c.label])
    changes: list[Change] = []
    for i, j in pairs:
        if j is None:
            assert i is not None
            text = Text(_COLUMN_SAYS[kind]["removed"].msgid, column=_describe(old[i]))
            changes.append(Change(f"{kind}_removed", text, column=old[i].title))
        elif i is None:
            text = Text(_COLUMN_SAYS[kind]["added"].msgid, column=_describe(new[j]))
            changes.append(Change(f"{kind}_added", text, column=new[j].title))
        else:
            before, after = old[i], new[j]
            if before.label != after.label:
                changes.append(
                    Change(
                        f"{kind}_renamed",
                        Text(_COLUMN_SAYS[kind]["renamed"].msgid, old=before.title, new=after.title),
                        column=after.title,
                        old=before.label,
                        new=after.label,
                    )
                )
            if before.key != after.key:
                what = Text(_COLUMN_SAYS[kind]["changed"].msgid, column=after.title)
                changes.append(_change(f"{kind}_changed", what, None, after.title, before.key, after.key))
    moved = [(i, j) for i, j in pairs if i is not None and j is not None]
    if [i for i, _j in moved] != sorted(i for i, _j in moved):
        order = ", ".join(new[j].title for _i, j in sorted(moved, key=lambda p: p[1] or 0))
        changes.append(Change(f"{kind}s_reordered", Text(_COLUMN_SAYS[kind]["reordered"].msgid, order=order)))
    return pairs, changes


# What a column change says, by the column's kind (msgids; Text(msgid, ...) fills them).
_COLUMN_SAYS = {
    "input": {
        "removed": _("input %(column)s removed"),
        "added": _("input %(column)s added"),
        "renamed": _("input '%(old)s' renamed to '%(new)s'"),
        "changed": _("input '%(column)s': expression"),
        "reordered": _("input columns reordered: %(order)s"),
    },
    "output": {
        "removed": _("output %(column)s removed"),
        "added": _("output %(column)s added"),
        "renamed": _("output '%(old)s' renamed to '%(new)s'"),
        "changed": _("output '%(column)s': name"),
        "reordered": _("output columns reordered: %(order)s"),
    },
}


def _describe(column: Column) -> str:
    if column.label and column.key and column.label != column.key:
        return f"{column.label!r} ({column.key})"
    return repr(column.title)


def _rules(
    old: Table,
    new: Table,
    inputs: list[tuple[int | None, int | None]],
    outputs: list[tuple[int | None, int | None]],
) -> list[Change]:
    pairs = pair_by_keys(old.rules, new.rules, [lambda r: r.id, lambda r: (r.inputs, r.outputs) or None])
    changes: list[Change] = []
    kept = [(i, j) for i, j in pairs if i is not None and j is not None]
    order_changed = [i for i, _j in kept] != sorted(i for i, _j in kept)
    for i, j in pairs:
        if j is None:
            assert i is not None
            rule = old.rules[i]
            text = _(
                "rule %(number)s (%(id)s) removed: %(words)s",
                number=i + 1,
                id=rule.id,
                words=_rule_words(old, rule),
            )
            changes.append(Change("rule_removed", text, rule=rule.id))
            continue
        rule = new.rules[j]
        name = (
            _("rule %(number)s (%(id)s)", number=j + 1, id=rule.id)
            if rule.id
            else _("rule %(number)s", number=j + 1)
        )
        if i is None:
            text = _("%(rule)s added: %(words)s", rule=name, words=_rule_words(new, rule))
            changes.append(Change("rule_added", text, rule=rule.id))
            continue
        before = old.rules[i]
        if order_changed and i != j:
            changes.append(
                Change(
                    "rule_moved",
                    _("%(rule)s moved from row %(old)s to row %(new)s", rule=name, old=i + 1, new=j + 1),
                    rule=rule.id,
                )
            )
        for columns, side_old, side_new, all_new, all_old in (
            (inputs, before.inputs, rule.inputs, new.inputs, old.inputs),
            (outputs, before.outputs, rule.outputs, new.outputs, old.outputs),
        ):
            for ci, cj in columns:
                cell_old = _at(side_old, ci)
                cell_new = _at(side_new, cj)
                if (
                    cell_old == cell_new
                    or (ci is None and cell_new == ANY)
                    or (cj is None and cell_old == ANY)
                ):
                    continue
                column = all_new[cj].title if cj is not None else all_old[ci or 0].title
                changes.append(_cell_change(name, rule.id, column, cell_old, cell_new))
        if before.description != rule.description:
            changes.append(
                _change(
                    "rule_changed",
                    _("%(rule)s note", rule=name),
                    rule.id,
                    "note",
                    before.description,
                    rule.description,
                )
            )
    return changes


def _at(cells: tuple[str, ...], index: int | None) -> str | None:
    if index is None:
        return None
    return cells[index] if index < len(cells) else ANY


def _cell_change(name: str, rule_id: str, column: str, old: str | None, new: str | None) -> Change:
    before = old if old is not None else _("(no column)")
    after = new if new is not None else _("(no column)")
    text = _("%(rule)s: %(column)s %(old)s → %(new)s", rule=name, column=column, old=before, new=after)
    return Change("rule_changed", text, rule_id, column, old, new)


def _rule_words(table: Table, rule: Rule) -> str:
    """A rule as "when Grade "A", Key customer True then Limit cap 10" (any-value cells left out)."""
    conditions = [
        f"{column.title} {cell}"
        for column, cell in zip(table.inputs, rule.inputs, strict=False)
        if cell != ANY
    ]
    results = [f"{column.title} {cell}" for column, cell in zip(table.outputs, rule.outputs, strict=False)]
    then = ", ".join(results) or _("nothing")
    if conditions:
        return _("when %(conditions)s then %(results)s", conditions=", ".join(conditions), results=then)
    return _("always then %(results)s", results=then)

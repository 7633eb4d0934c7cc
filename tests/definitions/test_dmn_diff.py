"""A policy change is a diff (issue 18): workflows/definitions/dmn_diff.py says in words what changed between
two DMN files. Checked on the shipped tables with edited copies, and on DMN files made by other tools."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from workflows.definitions.dmn_diff import DmnDiffError, compare_dmn

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dmn"
SHIPPED = sorted(BPMN.glob("*.dmn"))
AUTHORITY = (BPMN / "approval_authority.dmn").read_text(encoding="utf-8")


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def texts(old: str, new: str, decision: str | None = None) -> list[str]:
    return [c.text for d in compare_dmn(old, new, decision) for c in d.changes]


def edited(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) >= count, old
    return text.replace(old, new, count)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_table_compared_with_itself_has_no_change(path: Path) -> None:
    [decision] = compare_dmn(path.read_bytes(), path.read_bytes())
    assert (decision.status, decision.changes) == ("unchanged", [])
    assert decision.decision_id == path.stem or decision.decision_id in path.read_text(encoding="utf-8")


def test_a_raised_threshold_is_one_cell_change_per_rule_in_words() -> None:
    raised = edited(
        AUTHORITY,
        '<inputEntry id="above_hundred_thousand_in2"><text>&gt; 100000</text>',
        '<inputEntry id="above_hundred_thousand_in2"><text>&gt; 150000</text>',
    )
    [decision] = compare_dmn(AUTHORITY, raised)
    assert decision.status == "changed"
    [change] = decision.changes
    assert change.text == (
        "rule 4 (above_hundred_thousand): Recommended limit in the base currency > 100000 → > 150000"
    )
    assert (change.kind, change.rule, change.column, change.old, change.new) == (
        "rule_changed",
        "above_hundred_thousand",
        "Recommended limit in the base currency",
        "> 100000",
        "> 150000",
    )


def test_outputs_notes_added_and_removed_rules() -> None:
    tree = etree.fromstring(AUTHORITY.encode())
    ns = {"d": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
    table = tree.find(".//d:decisionTable", ns)
    assert table is not None
    rules = table.findall("d:rule", ns)
    table.remove(rules[4])  # grade_d_exception
    copy = etree.fromstring(etree.tostring(rules[7]))
    copy.set("id", "tiny_limit")
    copy.find("d:inputEntry[2]/d:text", ns).text = "<= 1000"  # type: ignore[union-attr]
    table.append(copy)
    rules[7].find("d:outputEntry/d:text", ns).text = '"manager"'  # type: ignore[union-attr]
    rules[7].find("d:description", ns).text = "Small limits: now the manager"  # type: ignore[union-attr]
    new = etree.tostring(tree).decode()
    found = texts(AUTHORITY, new)
    assert found[0].startswith(
        "rule 5 (grade_d_exception) removed: when No exchange rate for the limit's currency"
    )
    assert 'rule 7 (small_limit): Approval level "analyst" → "manager"' in found
    assert any(
        t.startswith("rule 7 (small_limit) note: ") and t.endswith("→ Small limits: now the manager")
        for t in found
    )
    added = [t for t in found if "tiny_limit" in t]
    assert added == [
        "rule 8 (tiny_limit) added: when No exchange rate for the limit's currency False, "
        'Recommended limit in the base currency <= 1000 then Approval level "analyst"'
    ]


def test_columns_added_removed_renamed_and_the_hit_policy() -> None:
    new = edited(AUTHORITY, 'label="Grade"', 'label="Customer grade"')
    new = edited(new, 'hitPolicy="FIRST"', 'hitPolicy="UNIQUE"')
    new = edited(new, 'name="approval_level"', 'name="approval_tier"')
    reason = '<output id="reason_output" label="Reason" name="reason" typeRef="string" />'
    new = edited(new, '<output id="level_output"', reason + '\n      <output id="level_output"')
    found = texts(AUTHORITY, new)
    assert "hit policy: FIRST → UNIQUE" in found
    assert "input 'Grade' renamed to 'Customer grade'" in found
    assert "output 'Approval level': name: approval_level → approval_tier" in found
    assert "output 'Reason' (reason) added" in found
    # A column removed with its cells: the rules that tested it say what they no longer test.
    tree = etree.fromstring(AUTHORITY.encode())
    for element in list(tree.iter()):
        if element.get("id", "").startswith("above_policy_input") or element.get("id", "").endswith("_in4"):
            element.getparent().remove(element)
    found = texts(AUTHORITY, etree.tostring(tree).decode())
    assert found[0] == "input 'Above policy (exception)' (recommendation[\"above_policy\"]) removed"
    assert "rule 3 (above_hundred_thousand_exception): Above policy (exception) True → (no column)" in found
    assert not [t for t in found if t.startswith("rule 2 ")]  # its cell was '-' (any value)


def test_a_rule_moved_up_is_named_and_an_id_change_with_the_same_cells_is_no_change() -> None:
    tree = etree.fromstring(AUTHORITY.encode())
    ns = {"d": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
    table = tree.find(".//d:decisionTable", ns)
    assert table is not None
    rules = table.findall("d:rule", ns)
    table.remove(rules[1])
    table.insert(list(table).index(rules[0]), rules[1])  # above_million first: FIRST order matters
    rules[3].set("id", "DecisionRule_0abc")  # a tool that renumbered one rule
    found = texts(AUTHORITY, etree.tostring(tree).decode())
    assert "rule 1 (above_million) moved from row 2 to row 1" in found
    assert "rule 2 (rate_missing) moved from row 1 to row 2" in found
    assert not [t for t in found if "DecisionRule_0abc" in t or "above_hundred_thousand " in t]


def test_added_and_removed_decisions_and_one_decision_asked_for() -> None:
    limit = (BPMN / "limit_policy.dmn").read_text(encoding="utf-8")
    [added] = compare_dmn(b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>', limit)
    assert (added.status, [c.kind for c in added.changes]) == ("added", ["decision_added"])
    assert added.changes[0].text.startswith("decision limit_policy added with ")
    [removed] = compare_dmn(limit, b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"/>')
    assert removed.status == "removed"
    assert compare_dmn(AUTHORITY, AUTHORITY, "no_such_decision") == []


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not xml",
        b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/">&a;</definitions>',
        b"\x00\x01",
    ],
)
def test_a_file_that_is_not_dmn_is_refused_not_compared_as_empty(bad: bytes) -> None:
    with pytest.raises(DmnDiffError):
        compare_dmn(AUTHORITY, bad)


CORPUS_FILES = sorted(CORPUS.glob("**/*.dmn")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="the shared DMN corpus is not checked out")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_files_made_by_other_tools(path: Path) -> None:
    """Any DMN 1.1-1.3 file: unchanged against itself; its first rule removed and its first input relabelled
    are said in words, whatever the namespace and however the tool named its ids."""
    text = path.read_bytes()
    assert all(d.status == "unchanged" for d in compare_dmn(text, text))
    root = etree.fromstring(text)
    # The columns and rules of decision tables (a boxed context or literal expression has none).
    tables = [t for d in children(root, "decision") for t in children(d, "decisionTable")]
    rules = [r for t in tables for r in children(t, "rule")]
    inputs = [i for t in tables for i in children(t, "input")]
    if rules:
        rules[0].getparent().remove(rules[0])
    if inputs:
        inputs[0].set("label", "Relabelled")
    found = texts(text.decode("utf-8"), etree.tostring(root).decode("utf-8"))
    if inputs:
        assert any(t.endswith("renamed to 'Relabelled'") for t in found), found
    if rules:
        rule_id = rules[0].get("id")
        assert any(t.startswith("rule 1 (") and f"({rule_id}) removed: " in t for t in found), found
    if not rules and not inputs:
        assert found == []

"""The compare view's element diff (workflows/definitions/element_diff.py) on real shipped diagram versions:
credit_application before and after the re-scoring step, dunning before and after issue 15, and edits of the
shipped credit_application of each kind a process owner makes in the studio."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.definitions.element_diff import compare_bpmn

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SHIPPED = (ROOT / "bpmn" / "credit_application.bpmn").read_text("utf-8")
RESCORE_STEP = {
    "ratings_changed",
    "rescore_customer",
    "regrade_customer",
    "reapply_limit_policy",
    "record_rescore",
    "repropose_limit",
    "to_ratings_changed",
    "rescore_needed",
    "ratings_unchanged",
    "to_regrade_customer",
    "to_reapply_limit_policy",
    "to_record_rescore",
    "to_repropose_limit",
    "rescored",
}


def _by_id(old: str | bytes, new: str | bytes) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {c.element_id: (c.status, c.aspects) for c in compare_bpmn(old, new).changes}


def test_a_version_against_itself_has_no_changes() -> None:
    for path in (ROOT / "bpmn").glob("*.bpmn"):
        assert compare_bpmn(path.read_bytes(), path.read_bytes()).changes == [], path.name


def test_credit_application_gained_the_rescoring_step() -> None:
    old = (FIXTURES / "credit_application_before_rescore" / "credit_application.bpmn").read_bytes()
    diff = compare_bpmn(old, SHIPPED)
    assert set(diff.ids("added")) == RESCORE_STEP
    assert diff.ids("removed") == ["to_analyst_decision"]  # the flow the new step replaced
    changes = _by_id(old, SHIPPED)
    assert changes["record_ratings"] == ("changed", ("name", "documentation"))  # its zh name, its note
    assert changes["review_application"][1] == ("name", "extensions")
    # Only the translated names were added to the rest: a name change, never an "extensions" one.
    assert changes["load_credit_file"] == ("changed", ("name",))
    old_markers, new_markers = diff.markers()
    assert old_markers["cf-removed"] == ["to_analyst_decision"] and not set(old_markers) & {"cf-added"}
    assert set(new_markers["cf-added"]) == RESCORE_STEP
    assert new_markers["cf-changed"] == old_markers["cf-changed"] == diff.ids("changed")


def test_dunning_after_issue_15_moved_disputes_out_and_added_promise_approval() -> None:
    old = (FIXTURES / "dunning_before_issue_15" / "dunning.bpmn").read_bytes()
    changes = _by_id(old, (ROOT / "bpmn" / "dunning.bpmn").read_bytes())
    assert changes["resolve_dispute"][0] == changes["approve_dispute_credit"][0] == "removed"
    assert changes["approve_promise"] == ("added", ())
    assert changes["to_escalate"] == ("changed", ("name", "flow", "condition"))
    assert changes["payment_arrived"] == ("changed", ("flow",))  # its target moved


@pytest.mark.parametrize(
    ("edit", "element", "aspects"),
    [
        (
            ('name="Review credit application"', 'name="Review the application"'),
            "review_application",
            ("name",),
        ),
        (("P5D", "P7D"), "information_reminder", ("timer",)),
        (
            ('value="credit_review.json"', 'value="credit_review_v2.json"'),
            "review_application",
            ("extensions",),
        ),
        (('<bpmn:userTask id="review_application"', '<bpmn:manualTask id="review_application"'), None, None),
    ],
    ids=["renamed", "timer", "form", "type"],
)
def test_each_kind_of_edit_marks_its_element_changed(
    edit: tuple[str, str], element: str | None, aspects: tuple[str, ...] | None
) -> None:
    before, after = edit
    assert before in SHIPPED, before
    edited = SHIPPED.replace(before, after, 1)
    if "manualTask" in after:  # its closing tag too
        start = edited.index('<bpmn:manualTask id="review_application"')
        end = edited.index("</bpmn:userTask>", start)
        edited = edited[:end] + "</bpmn:manualTask>" + edited[end + len("</bpmn:userTask>") :]
    changes = _by_id(SHIPPED, edited)
    assert len(changes) == 1, changes
    ((element_id, (status, found)),) = changes.items()
    assert status == "changed"
    if element is not None:
        assert element_id == element
    if aspects is not None:
        assert found == aspects
    else:
        assert found[0] == "type"


def test_a_condition_and_a_script_are_changes_and_the_layout_is_not() -> None:
    # A gateway's condition (the same words also stand in notify_decision's context since 5856f9f).
    condition = '>decision == "reject"<'
    assert condition in SHIPPED
    changes = _by_id(SHIPPED, SHIPPED.replace(condition, '>decision == "decline"<', 1))
    assert [aspects for _status, aspects in changes.values()] == [("condition",)]
    script_start = SHIPPED.index("<bpmn:script>") + len("<bpmn:script>")
    scripted = SHIPPED[:script_start] + "note = 1\n" + SHIPPED[script_start:]
    assert [a for _s, a in _by_id(SHIPPED, scripted).values()] == [("script",)]
    moved = SHIPPED.replace('<dc:Bounds x="', '<dc:Bounds x="1', 3)
    assert moved != SHIPPED and compare_bpmn(SHIPPED, moved).changes == []


def test_hostile_xml_is_refused_unexpanded() -> None:
    laughs = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><d n="&b;"/>'
    assert compare_bpmn(laughs, laughs).changes == []  # entities are not expanded: nothing is drawn
    with pytest.raises(ValueError):
        compare_bpmn("<not xml", SHIPPED)

"""A user task's candidateGroups and a message's senderGroups must name groups of the catalogue: a typo
("credit_analyts") deployed before, and the task then waited for a group nobody is in. Deploy refuses it as
FILE:LINE: ELEMENT_ID: message, so the studio's panel shows it on the task (issue 18)."""

from __future__ import annotations

import pytest

from tests.definitions.test_validation import approval_bundle, edited_approval, line_of, problems_of
from workflows.definitions.validation import ValidatedBundle, validate_bundle

FORM = '<spiffworkflow:property name="formJsonSchemaFilename" value="approval_form.json" />'
OPERATIONS = {"notify.email", "credit.score"}


def with_property(name: str, value: str) -> bytes:
    return edited_approval(
        FORM, f'{FORM}\n          <spiffworkflow:property name="{name}" value="{value}" />'
    )


@pytest.mark.parametrize("name", ["candidateGroups", "senderGroups"])
def test_an_unknown_group_is_refused_at_its_line_on_its_element(name: str) -> None:
    bpmn = with_property(name, "credit_manager, credit_analyts")
    (problem,) = problems_of(approval_bundle(**{"approval.bpmn": bpmn}))
    assert problem.file == "approval.bpmn"
    assert problem.line == line_of(bpmn, "credit_analyts")
    assert problem.element_id == "review_application"
    assert problem.message.startswith(f"{name} names credit_analyts, not a known group")
    assert "credit_manager" not in problem.message.split(";")[0]  # only the unknown one is named
    assert "credit_analyst" in problem.message  # the known groups are listed to choose from


def test_several_known_groups_deploy() -> None:
    bpmn = with_property("candidateGroups", "credit_analyst, credit_manager")
    assert isinstance(
        validate_bundle(approval_bundle(**{"approval.bpmn": bpmn}), OPERATIONS), ValidatedBundle
    )


def test_a_very_long_unknown_group_is_named_shortened() -> None:
    bpmn = with_property("candidateGroups", "g" * 5000)
    problems = problems_of(approval_bundle(**{"approval.bpmn": bpmn}))
    unknown = [p for p in problems if "not a known group" in p.message]
    assert len(unknown) == 1 and "g" * 41 not in unknown[0].message

"""Bundle validation: every problem as FILE:LINE: ELEMENT_ID: message; only InvalidBundle escapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from workflows.definitions.validation import InvalidBundle, Problem, ValidatedBundle, validate_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VALID = FIXTURES / "valid"
BROKEN = FIXTURES / "broken"
OPERATIONS = {"notify.email", "credit.score"}


def approval_bundle(**replacements: bytes) -> dict[str, bytes]:
    """The valid approval diagram and its form, with some files replaced or added."""
    files = {
        "approval.bpmn": (VALID / "approval.bpmn").read_bytes(),
        "approval_form.json": (VALID / "approval_form.json").read_bytes(),
    }
    files.update(replacements)
    return files


def edited_approval(old: str, new: str) -> bytes:
    text = (VALID / "approval.bpmn").read_text()
    assert text.count(old) == 1, f"fixture edit {old!r} must match exactly once"
    return text.replace(old, new).encode()


def problems_of(files: dict[str, bytes], operations: set[str] = OPERATIONS) -> list[Problem]:
    with pytest.raises(InvalidBundle) as info:
        validate_bundle(files, operations)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return info.value.problems


def line_of(source: Path | bytes, marker: str) -> int:
    """1-based line of the first occurrence of a marker, so fixtures can change without editing tests."""
    text = source.read_text() if isinstance(source, Path) else source.decode()
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


def test_valid_approval_bundle_is_ready_for_get_spec() -> None:
    bundle = validate_bundle(approval_bundle(), OPERATIONS)
    assert isinstance(bundle, ValidatedBundle)
    assert bundle.process_ids == ["approval"]
    assert bundle.forms["approval_form.json"]["required"] == ["decision"]
    spec = bundle.parser.get_spec("approval")
    assert spec.task_specs["review_application"].lane == "Approver"


def test_bpmn_with_its_decision_table_validates() -> None:
    files = {name: (VALID / name).read_bytes() for name in ("limit_review.bpmn", "approval_authority.dmn")}
    assert validate_bundle(files, set()).process_ids == ["limit_review"]


# (broken file, a marker on the offending line, expected element id, a fragment of the message)
BROKEN_CASES = [
    ("broken_xml.bpmn", "</bpmn:scriptTsk>", "-", "not well-formed XML"),
    ("script_import.bpmn", "import os", "classify_application", "import is not allowed"),
    ("script_open.bpmn", 'open("/etc/passwd")', "classify_application", "'open' is not allowed"),
    ("script_syntax.bpmn", "<bpmn:script>", "classify_application", "was never closed"),
    ("dangling_flow.bpmn", 'targetRef="review_aplication"', "to_review_application", "names no element"),
    ("missing_form.bpmn", "credit_review_form.json", "review_application", "not in the bundle"),
    ("bad_condition.bpmn", "===", "approved_flow", "syntax error"),
    ("unknown_handler.bpmn", 'id="notify.sms"', "notify_applicant", "unknown service operation 'notify.sms'"),
    ("bad_timer.bpmn", '"P7X"', "review_overdue", "not a valid ISO 8601 timeDuration"),
    ("no_executable.bpmn", "<bpmn:definitions", "-", 'isExecutable="true"'),
]


@pytest.mark.parametrize(("name", "marker", "element_id", "fragment"), BROKEN_CASES)
def test_broken_diagram_reports_file_line_and_element(
    name: str, marker: str, element_id: str, fragment: str
) -> None:
    path = BROKEN / name
    problems = problems_of(
        {name: path.read_bytes(), "approval_form.json": (VALID / "approval_form.json").read_bytes()}
    )
    assert len(problems) == 1, problems  # each fixture breaks exactly one thing
    text = str(problems[0])
    assert text.startswith(f"{name}:{line_of(path, marker)}: {element_id}: "), text
    assert fragment in text


def test_feel_cell_in_decision_table_is_reported_at_its_line() -> None:
    path = BROKEN / "approval_authority_feel.dmn"
    files = {"limit_review.bpmn": (VALID / "limit_review.bpmn").read_bytes(), path.name: path.read_bytes()}
    (problem,) = problems_of(files, set())
    assert str(problem).startswith(f"{path.name}:{line_of(path, '[500..700)')}: manager_score: input entry: ")


def test_all_problems_of_all_files_are_collected() -> None:
    files = {name: (BROKEN / name).read_bytes() for name in ("script_import.bpmn", "bad_condition.bpmn")}
    files["approval_form.json"] = (VALID / "approval_form.json").read_bytes()
    problems = problems_of(files)
    found = {(p.file, p.element_id) for p in problems}
    assert {("script_import.bpmn", "classify_application"), ("bad_condition.bpmn", "approved_flow")} <= found
    # Both files define the process "approval", which SpiffWorkflow refuses when loading the second.
    assert any("Duplicate process ID" in p.message for p in problems)


# (text to replace, replacement, marker on the line to report, element id, message fragment)
SINGLE_DEFECTS = [
    (
        '<spiffworkflow:serviceTaskOperator id="notify.email" resultVariable="notification">',
        '<spiffworkflow:serviceTaskOperator resultVariable="notification">',
        "<spiffworkflow:serviceTaskOperator",
        "notify_applicant",
        "operator has no id",
    ),
    (
        'value="applicant_email"',
        'value="applicant_email("',
        'value="applicant_email("',
        "notify_applicant",
        "service parameter 'to'",
    ),
    (
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">decision == "reject"'
        "</bpmn:conditionExpression>",
        "",
        'id="rejected_flow"',
        "rejected_flow",
        "Non-default exclusive outgoing sequence flow without condition",
    ),
    (
        "<spiffworkflow:properties>",
        "<spiffworkflow:preScript>limit = 1\nimport os</spiffworkflow:preScript><spiffworkflow:properties>",
        "import os",
        "review_application",
        "pre-script: import is not allowed",
    ),
    (
        "<bpmn:incoming>to_classify_application</bpmn:incoming>",
        "<bpmn:unknownThing /><bpmn:incoming>to_classify_application</bpmn:incoming>",
        "<bpmn:unknownThing",
        "classify_application",
        "not valid BPMN 2.0: Element 'bpmn:unknownThing'",
    ),
    (
        '<bpmn:script>risk_band = "high" if requested_amount &gt; 50000 else "standard"</bpmn:script>',
        "<bpmn:script />",
        "<bpmn:script />",
        "classify_application",
        "has no script",
    ),
    (
        'id="to_application_approved" sourceRef="notify_applicant"',
        'id="to_application_approved" sourceRef="notify_applicant_typo"',
        "notify_applicant_typo",
        "to_application_approved",
        "sourceRef 'notify_applicant_typo'",
    ),
]


@pytest.mark.parametrize(("old", "new", "marker", "element_id", "fragment"), SINGLE_DEFECTS)
def test_single_defects_are_located(old: str, new: str, marker: str, element_id: str, fragment: str) -> None:
    bpmn = edited_approval(old, new)
    (problem,) = problems_of(approval_bundle(**{"approval.bpmn": bpmn}))
    assert (problem.line, problem.element_id) == (line_of(bpmn, marker), element_id), problem
    assert fragment in problem.message


def test_missing_call_activity_target_is_reported_at_the_call_activity() -> None:
    text = edited_approval(
        '<bpmn:scriptTask id="classify_application" name="Classify application">',
        '<bpmn:callActivity id="classify_application" name="Classify application" '
        'calledElement="classification">',
    ).decode()
    text = text.replace("</bpmn:scriptTask>", "</bpmn:callActivity>")
    text = text.replace(
        '<bpmn:script>risk_band = "high" if requested_amount &gt; 50000 else "standard"</bpmn:script>', ""
    )
    (problem,) = problems_of(approval_bundle(**{"approval.bpmn": text.encode()}))
    assert (problem.element_id, problem.line) == (
        "classify_application",
        line_of(text.encode(), "calledElement"),
    )
    assert "The process 'classification' was not found" in problem.message


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("PT1H", 'quote the literal: "PT1H"'),
        ("R3/PT1H", 'quote the literal: "R3/PT1H"'),
        ("7", "must be a string"),
        ("", "the timer is empty"),
        ("${duration}", "syntax error"),
    ],
)
def test_timer_expressions_must_be_quoted_iso_8601(expression: str, fragment: str) -> None:
    path = BROKEN / "bad_timer.bpmn"
    files = approval_bundle(**{"approval.bpmn": path.read_text().replace('"P7X"', expression).encode()})
    (problem,) = problems_of(files)
    assert (problem.element_id, problem.line) == ("review_overdue", line_of(path, "<bpmn:timeDuration"))
    assert fragment in problem.message


@pytest.mark.parametrize(
    "expression", ['"P7D"', '"PT36H"', "escalation_period", '"P1D" if urgent else "P7D"']
)
def test_valid_timer_expressions_pass(expression: str) -> None:
    text = (BROKEN / "bad_timer.bpmn").read_text().replace('"P7X"', expression)
    bundle = validate_bundle(approval_bundle(**{"approval.bpmn": text.encode()}), OPERATIONS)
    assert bundle.process_ids == ["approval"]
    # The timer really carries the expression: the parsed boundary event evaluates it, not a default.
    timer = bundle.parser.get_spec("approval").task_specs["review_overdue"]
    assert timer.event_definition.expression == expression


def test_time_date_needs_a_date_not_a_duration() -> None:
    text = (
        (BROKEN / "bad_timer.bpmn").read_text().replace('"P7X"', '"P7D"').replace("timeDuration", "timeDate")
    )
    (problem,) = problems_of(approval_bundle(**{"approval.bpmn": text.encode()}))
    assert "not a valid ISO 8601 timeDate" in problem.message


@pytest.mark.parametrize(
    ("form", "line", "fragment"),
    [
        (b'{"type": "object",\n "properties": \n}', 3, "not valid JSON"),
        (b'{"type": "object",\n "properties": {"limit": {"type": "money"}}}', 2, "properties/limit/type"),
        (b'{"$schema": "https://example.com/my-schema", "type": "object"}', 1, "unknown $schema"),
        (b'["decision"]', 1, "one JSON Schema object"),
    ],
)
def test_broken_form_is_reported_in_the_form_file(form: bytes, line: int, fragment: str) -> None:
    (problem,) = problems_of(approval_bundle(**{"approval_form.json": form}))
    assert (problem.file, problem.line, problem.element_id) == ("approval_form.json", line, "-")
    assert fragment in problem.message


def test_process_without_is_executable_true_is_not_deployed() -> None:
    (problem,) = problems_of(
        approval_bundle(**{"approval.bpmn": edited_approval(' isExecutable="true"', "")})
    )
    assert (problem.line, problem.element_id) == (2, "-")
    assert "no process in the bundle is executable" in problem.message


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "-:0: -: the bundle has no BPMN diagram"),
        ({"notes.txt": b"hello"}, "notes.txt:0: -: unsupported file type"),
    ],
)
def test_bundle_level_problems(files: dict[str, bytes], expected: str) -> None:
    assert str(problems_of(files)[0]).startswith(expected)


def test_multi_decision_drd_is_a_file_level_problem() -> None:
    dmn = (VALID / "approval_authority.dmn").read_text()
    second = dmn[dmn.index("  <decision ") : dmn.index("  <dmndi:DMNDI>")].replace('id="', 'id="second_')
    drd = dmn.replace("  <dmndi:DMNDI>", second + "  <dmndi:DMNDI>")
    files = {"limit_review.bpmn": (VALID / "limit_review.bpmn").read_bytes(), "authority.dmn": drd.encode()}
    problems = problems_of(files, set())
    assert any(p.file == "authority.dmn" and "holds 2 decisions" in p.message for p in problems)


def test_unparsable_input_never_escapes_as_another_exception() -> None:
    """Drop each line of the valid diagram in turn: the result is a bundle or InvalidBundle, nothing else."""
    lines = (VALID / "approval.bpmn").read_text().splitlines(keepends=True)
    outcomes = set()
    for index in range(len(lines)):
        damaged = "".join(lines[:index] + lines[index + 1 :]).encode()
        try:
            validate_bundle(approval_bundle(**{"approval.bpmn": damaged}), OPERATIONS)
            outcomes.add("valid")
        except InvalidBundle as exc:
            assert exc.problems and all(
                p.message and p.file in ("approval.bpmn", "approval_form.json") for p in exc.problems
            )
            outcomes.add("invalid")
    assert outcomes == {"valid", "invalid"}


def test_doctype_is_refused_before_any_entity_is_expanded() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>'
    (problem,) = problems_of(approval_bundle(**{"approval.bpmn": bomb}))
    assert str(problem).startswith("approval.bpmn:1: -: DOCTYPE declarations are not allowed")


def test_files_passed_with_paths_match_form_references_by_base_name() -> None:
    files = {f"uploads/{name}": data for name, data in approval_bundle().items()}
    bundle = validate_bundle(files, OPERATIONS)
    assert list(bundle.forms) == ["approval_form.json"]


@pytest.mark.parametrize("name", ["approval.bpmn", "limit_review.bpmn"])
def test_valid_fixtures_have_diagram_interchange_for_every_element(name: str) -> None:
    """bpmn-js only draws what has a BPMNShape/BPMNEdge, so each flow element, lane and pool needs one."""
    root = etree.parse(str(VALID / name)).getroot()
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    }
    drawable = root.xpath(
        "//bpmn:process/*[@id and not(self::bpmn:laneSet)] | //bpmn:lane | //bpmn:participant", namespaces=ns
    )
    drawn = set(root.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=ns))
    assert drawable and {e.get("id") for e in drawable} <= drawn

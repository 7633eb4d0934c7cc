"""Real BPMN/DMN files from public modelers: validation returns or raises InvalidBundle, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.definitions.validation import InvalidBundle, ValidatedBundle, validate_bundle

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not CORPUS.is_dir():
    pytest.skip(f"the shared BPMN/DMN corpus is not checked out at {CORPUS}", allow_module_level=True)

BPMN_FILES = sorted(CORPUS.glob("bpmn/**/*.bpmn"))
DMN_FILES = sorted(CORPUS.glob("dmn/**/*.dmn"))
# A diagram every check accepts on its own, used as the companion of each DMN file.
COMPANION = CORPUS / "bpmn" / "spiffworkflow" / "lanes.bpmn"

# Files known to pass alone (also listed as OK in corpus/README.md), so the sweep is not vacuous.
KNOWN_GOOD = {
    "spiffworkflow/lanes.bpmn": ["lanes"],
    "spiffworkflow/transaction.bpmn": ["Main_Process"],
    "spiffworkflow/timer-non-interrupt-boundary.bpmn": ["NonInterruptTimer"],
    "spiffworkflow/correlation.bpmn": ["proc_1", "proc_2"],
    "camunda-bpm-examples/invoicePayment.bpmn": ["embeddedFormsBpmnEvents"],
}
KNOWN_GOOD_DMN = [
    "camunda-modeler/camunda7.dmn",
    "spiffworkflow/level2c.dmn",
    "spiffworkflow/spiff__business_rules.dmn",
]


def validate_or_problems(files: dict[str, bytes]) -> ValidatedBundle | InvalidBundle:
    try:
        return validate_bundle(files, operations=set())
    except InvalidBundle as exc:
        return exc


def corpus_id(path: Path) -> str:
    """The path below bpmn/ or dmn/, e.g. "spiffworkflow/lanes.bpmn"."""
    return path.relative_to(path.parents[1]).as_posix()


@pytest.mark.parametrize("path", BPMN_FILES, ids=corpus_id)
def test_bpmn_file_alone_validates_or_lists_its_problems(path: Path) -> None:
    outcome = validate_or_problems({path.name: path.read_bytes()})
    if isinstance(outcome, InvalidBundle):
        assert outcome.problems
        for problem in outcome.problems:
            assert problem.file == path.name and problem.message.strip() and "\n" not in problem.message
            assert problem.line >= 0 and problem.element_id


@pytest.mark.parametrize(("name", "process_ids"), KNOWN_GOOD.items())
def test_known_good_corpus_files_are_accepted(name: str, process_ids: list[str]) -> None:
    path = CORPUS / "bpmn" / name
    assert validate_bundle({path.name: path.read_bytes()}, operations=set()).process_ids == process_ids


def test_corpus_broken_xml_is_located() -> None:
    path = CORPUS / "bpmn" / "camunda-modeler" / "broken.bpmn"
    outcome = validate_or_problems({path.name: path.read_bytes()})
    assert isinstance(outcome, InvalidBundle)
    (problem,) = outcome.problems
    assert str(problem).startswith("broken.bpmn:5: -: the file is not well-formed XML")


@pytest.mark.parametrize("path", DMN_FILES, ids=corpus_id)
def test_dmn_file_with_a_valid_diagram_validates_or_blames_the_dmn(path: Path) -> None:
    outcome = validate_or_problems({COMPANION.name: COMPANION.read_bytes(), path.name: path.read_bytes()})
    if isinstance(outcome, InvalidBundle):
        assert outcome.problems
        assert all(p.file == path.name and p.message.strip() for p in outcome.problems)
    else:
        assert outcome.process_ids == ["lanes"]


@pytest.mark.parametrize("name", KNOWN_GOOD_DMN)
def test_known_good_dmn_files_are_accepted(name: str) -> None:
    path = CORPUS / "dmn" / name
    files = {COMPANION.name: COMPANION.read_bytes(), path.name: path.read_bytes()}
    assert validate_bundle(files, operations=set()).process_ids == ["lanes"]


def test_business_rule_task_with_its_companion_dmn_is_accepted() -> None:
    bpmn = CORPUS / "bpmn" / "spiffworkflow" / "spiff__business_rule_task.bpmn"
    dmn = CORPUS / "dmn" / "spiffworkflow" / "spiff__business_rules.dmn"
    alone = validate_or_problems({bpmn.name: bpmn.read_bytes()})
    assert isinstance(alone, InvalidBundle) and "No DMN Diagram available" in alone.problems[0].message
    bundle = validate_bundle({bpmn.name: bpmn.read_bytes(), dmn.name: dmn.read_bytes()}, operations=set())
    assert bundle.process_ids == ["Process_bd2e724"]


def test_multi_decision_drd_is_reported_not_crashed() -> None:
    path = CORPUS / "dmn" / "camunda-bpm-examples" / "dinnerDecisions.dmn"
    outcome = validate_or_problems({COMPANION.name: COMPANION.read_bytes(), path.name: path.read_bytes()})
    assert isinstance(outcome, InvalidBundle)
    assert "holds 2 decisions" in outcome.problems[0].message

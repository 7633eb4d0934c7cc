"""The diagrams, decision tables and forms shipped in bpmn/, grouped into deployable bundles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from workflows.credit import roles
from workflows.settings import BPMN_DIR

# Decision tables the code reads from a process's newest deployed version, outside any instance of it,
# shipped in that process's bundle: the provision matrix goes with dunning, a money-moving process, so a
# new matrix deployed by a process owner waits for a second one (definition_approval).
# credit.score reads the scorecard's weights and collateral haircuts from the version of its instance.
SCORECARD_TABLES = ("scorecard_weights", "collateral_haircut")
READ_FROM_DEPLOYMENT: dict[str, tuple[str, ...]] = {
    roles.DUNNING: ("provision_matrix", "collection_priority"),
    roles.CREDIT_APPLICATION: SCORECARD_TABLES,
    # The early-warning indicators (the daily watchlist run reads them), the concentration cap (the KPIs
    # and the watchlist read it) and the top exposures' review frequency (the review sweep) go with the
    # limit review.
    roles.CREDIT_LIMIT_REVIEW: (
        *SCORECARD_TABLES,
        "early_warning",
        "concentration_cap",
        "exposure_review_policy",
    ),
}


def shipped_bundles(directory: Path = BPMN_DIR) -> Iterator[list[Path]]:
    """Each shipped .bpmn file with the decision tables and forms it references (and its start form).

    Bundling only what a diagram uses means changing one process's table does not version the others.
    """
    tables = {p: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.dmn"))}
    for bpmn in sorted(directory.glob("*.bpmn")):
        text = bpmn.read_text(encoding="utf-8")
        decisions = set(re.findall(r"calledDecisionId>\s*([\w.-]+)\s*<", text))
        decisions |= set(READ_FROM_DEPLOYMENT.get(bpmn.stem, ()))
        forms = set(re.findall(r'value="([\w.-]+\.json)"', text)) | {f"{bpmn.stem}_start.json"}
        dmn = [
            p for p, body in tables.items() if decisions & set(re.findall(r'<decision id="([\w.-]+)"', body))
        ]
        json_files = [directory / name for name in sorted(forms) if (directory / name).is_file()]
        yield [bpmn, *dmn, *json_files]

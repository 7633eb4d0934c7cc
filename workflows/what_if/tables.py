"""The edited decision tables of a what-if upload: DMN files only, each passing the deploy's DMN checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from lxml import etree

from workflows.definitions.dmn_checks import DMN_NAMESPACES, check_and_load_dmn
from workflows.definitions.problems import Problem
from workflows.definitions.validation import InvalidBundle, _parse_xml, make_parser
from workflows.messages import _


def _text(root: etree._Element) -> str:
    return str(etree.tostring(root, encoding="unicode"))


@dataclass(frozen=True)
class EditedTable:
    file: str
    decision_id: str
    name: str
    text: str  # the DMN file, as the engine parses it


def edited_tables(files: Mapping[str, bytes]) -> list[EditedTable]:
    """Every decision of the uploaded DMN files, checked as deploy checks them.

    Raises:
        InvalidBundle: a file is not a DMN file, or fails the checks (FILE:LINE problems).
    """
    problems: list[Problem] = []
    tables: list[EditedTable] = []
    for name, data in files.items():
        if PurePosixPath(name).suffix.lower() != ".dmn":
            problems.append(
                Problem(
                    name,
                    0,
                    "-",
                    _(
                        "a what-if replays decision tables: upload .dmn files (and at most one .bpmn that "
                        "changes only which decisions its tasks call)"
                    ),
                )
            )
            continue
        doc = _parse_xml(name, data, problems)
        if doc is None:
            continue
        namespace = doc.root.tag.partition("}")[0].lstrip("{")
        if namespace not in DMN_NAMESPACES:
            problems.append(Problem(name, 1, "-", _("not a DMN file: the root must be a DMN <definitions>")))
            continue
        found = check_and_load_dmn(make_parser(), doc)
        if found:
            problems += found
            continue
        for decision in doc.root.iter(f"{{{namespace}}}decision"):
            tables.append(
                EditedTable(name, decision.get("id", ""), decision.get("name") or "", _text(doc.root))
            )
    if problems:
        raise InvalidBundle(problems)
    return tables

"""Checks of a DMN decision table: the shape SpiffWorkflow 3.2 reads, and every Python cell."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from workflows.definitions.problems import Document, Problem, code_problems, exception_problem
from workflows.engine.sandbox import check_code, parses
from workflows.messages import _

DMN_NAMESPACES = frozenset(DMN_SCHEMAS)


def check_and_load_dmn(parser: SpiffBpmnParser, doc: Document) -> list[Problem]:
    """Check the DMN shape SpiffWorkflow 3.2 can read, the Python cells, then load the decision."""
    structure = _dmn_structure_problems(parser, doc)
    if structure:
        return structure
    problems = list(_dmn_cell_problems(doc))
    try:
        parser.add_dmn_xml(doc.root, filename=doc.name)
        decision_id = next(doc.root.iter(f"{{{_dmn_namespace(doc.root)}}}decision")).get("id")
        parser.dmn_parsers[decision_id].parse()
    except Exception as exc:  # untrusted input: any parser failure is a problem in this file
        problems.append(exception_problem(exc, [doc], doc))
    return problems


def _dmn_namespace(root: etree._Element) -> str | None:
    """The namespace SpiffWorkflow binds to its 'dmn' prefix: the default one, else 'dmn:'."""
    namespace: str | None = root.nsmap.get(None, root.nsmap.get("dmn"))
    return namespace


def _dmn_structure_problems(parser: SpiffBpmnParser, doc: Document) -> list[Problem]:
    namespace = etree.QName(doc.root).namespace
    if etree.QName(doc.root).localname != "definitions" or namespace not in DMN_NAMESPACES:
        message = _("not a DMN 1.1-1.3 document; export the decision table as DMN")
        return [doc.problem(doc.root, message, "-")]
    if _dmn_namespace(doc.root) != namespace:
        message = _(
            "the DMN elements use a namespace prefix SpiffWorkflow 3.2 cannot read; "
            "make the DMN namespace the default one (xmlns=...) and export again"
        )
        return [doc.problem(doc.root, message, "-")]
    decisions = list(doc.root.iter(f"{{{namespace}}}decision"))
    if len(decisions) != 1:
        message = _(
            "the file holds %(count)s decisions; SpiffWorkflow 3.2 reads exactly one decision "
            "per DMN file, so split it into one file per decision",
            count=len(decisions),
        )
        return [doc.problem(decisions[1] if len(decisions) > 1 else doc.root, message)]
    decision = decisions[0]
    if decision.find(f"{{{namespace}}}decisionTable") is None:
        message = _(
            "the decision has no decision table; SpiffWorkflow only runs decision tables, "
            "not literal expressions or boxed FEEL"
        )
        return [doc.problem(decision, message)]
    if decision.get("id") in parser.dmn_parsers:
        message = _(
            "decision id '%(id)s' is already defined by another DMN file; make ids unique",
            id=decision.get("id"),
        )
        return [doc.problem(decision, message)]
    return []


def _dmn_cell_problems(doc: Document) -> Iterator[Problem]:
    """Input expressions, input entries and output entries are Python, built as DMNEngine builds them."""
    ns = etree.QName(doc.root).namespace
    for table in doc.root.iter(f"{{{ns}}}decisionTable"):
        inputs: list[str] = []
        for column in table.iterfind(f"{{{ns}}}input"):
            text = column.find(f"{{{ns}}}inputExpression/{{{ns}}}text")
            source = text.text if text is not None else None
            clean = source is not None and not check_code(source, "eval")
            if text is not None and source is not None:
                yield from code_problems(doc, text, source, "eval", _("input expression"))
            inputs.append(source if clean and source else "dmninput")
        for rule in table.iterfind(f"{{{ns}}}rule"):
            # Cells pair with columns by position, as in DMNParser.
            for index, entry in enumerate(rule.iterfind(f"{{{ns}}}inputEntry")):
                text = entry.find(f"{{{ns}}}text")
                if text is not None and text.text and text.text != "-":
                    column = inputs[index] if index < len(inputs) else "dmninput"
                    expression = _input_entry_expression(column, text.text)
                    yield from code_problems(doc, text, expression, "eval", _("input entry"))
            for text in rule.iterfind(f"{{{ns}}}outputEntry/{{{ns}}}text"):
                if text.text:
                    yield from code_problems(doc, text, text.text, "eval", _("output entry"))


def _input_entry_expression(column: str, cell: str) -> str:
    """The expression DMNEngine.evaluate runs for a cell: '?' tests, equality, or 'input' + operator."""
    replaced = re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", cell)
    if "dmninputexpr" in replaced:
        return replaced
    if parses(cell, "exec"):
        return f"({column}) == ({cell})"
    return column + cell  # e.g. "> 500"; DMNEngine concatenates without a space

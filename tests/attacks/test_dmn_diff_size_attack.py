"""Attacks on the policy diff (issue 18, 10978ad: workflows/definitions/dmn_diff.py, GET
/api/process-definitions/KEY/diff and the definition page's "Policy changes").

Broke: matching rules paired each new rule by scanning every free old rule, so a table of thousands of rules
whose ids all changed (a tool that renumbers rules on save) took seconds per request (4,000 rules: 12 s,
8,000: about 50 s, on every view of the definition page). Held: a billion-laughs DOCTYPE and an external
entity are refused, not expanded; a malformed or non-DMN file is a DmnDiffError; markup in a rule's note is
shown as text on the page and returned as the plain string by the API.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.dmn_diff import DmnDiffError, compare_dmn, read_tables
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def table(rules: int, prefix: str, shift: int = 0) -> str:
    """A FIRST table of `rules` rules with ids prefix0, prefix1, ...; each rule reads a > i + shift."""
    body = "".join(
        f'<rule id="{prefix}{i}"><inputEntry id="{prefix}i{i}"><text>&gt; {i + shift}</text></inputEntry>'
        f'<outputEntry id="{prefix}o{i}"><text>"{i}"</text></outputEntry></rule>'
        for i in range(rules)
    )
    return (
        f'<?xml version="1.0"?><definitions xmlns="{NS}" id="d" name="d" namespace="x">'
        '<decision id="t" name="T"><decisionTable id="dt" hitPolicy="FIRST">'
        '<input id="in1" label="A"><inputExpression id="ie" typeRef="number"><text>a</text></inputExpression>'
        f'</input><output id="out1" name="r" typeRef="string"/>{body}'
        "</decisionTable></decision></definitions>"
    )


def test_thousands_of_renumbered_rules_are_compared_in_linear_time() -> None:
    rules = 8000
    started = time.monotonic()
    [decision] = compare_dmn(table(rules, "a"), table(rules, "b", shift=1))
    elapsed = time.monotonic() - started
    kinds = [c.kind for c in decision.changes]
    # every rule's id and cell changed: nothing pairs, so each old rule is removed (listed first: no kept
    # rule stood before them) and each new one added
    assert kinds == ["rule_removed"] * rules + ["rule_added"] * rules
    assert decision.changes[0].text == 'rule 1 (a0) removed: when A > 0 then r "0"'
    assert decision.changes[rules].text == 'rule 1 (b0) added: when A > 1 then r "0"'
    assert elapsed < 15, f"{rules} renumbered rules took {elapsed:.1f} s"  # before: about 50 s


def test_thousands_of_rules_with_cells_changed_pair_by_id() -> None:
    [decision] = compare_dmn(table(5000, "a"), table(5000, "a", shift=1))
    assert len(decision.changes) == 5000
    assert decision.changes[4999].text == "rule 5000 (a4999): A > 4999 → > 5000"


@pytest.mark.parametrize(
    "text",
    [
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        f'<definitions xmlns="{NS}"><decision id="&d;" name="&d;"/></definitions>',
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<definitions xmlns="{NS}">'
        '<decision id="x" name="&x;"/></definitions>',
        f'<definitions xmlns="{NS}"><decision id="x">',
        "<definitions><decision id='x'/></definitions>",
        "",
        "\x00",
    ],
    ids=["billion-laughs", "external-entity", "truncated", "no-namespace", "empty", "nul"],
)
def test_entities_and_broken_files_are_refused(text: str) -> None:
    with pytest.raises(DmnDiffError):
        read_tables(text)


NOTE = "<description>Above 100,000: analyst and credit manager</description>"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.mark.usefixtures("shipped")
def test_markup_in_a_rule_note_is_shown_as_text(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    bundle = next(b for b in shipped_bundles() if any(p.name == "credit_application.bpmn" for p in b))
    files = read_files(bundle)
    text = files["approval_authority.dmn"].decode("utf-8")
    assert NOTE in text
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    files["approval_authority.dmn"] = text.replace(NOTE, f"<description>{escaped}</description>").encode()
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, files, build_operations(), deployed_by="owner1", now=clock + timedelta(hours=1))
    answer = client.get(
        "/api/process-definitions/credit_application/diff", headers=auth(demo_tokens["owner1"])
    )
    assert answer.status_code == 200, answer.json
    notes = [c for d in answer.json["decisions"] for c in d["changes"] if c["column"] == "note"]
    assert [c["new"] for c in notes] == [HOSTILE]
    page = logged_in(app, "auditor1").get("/definitions/credit_application/2").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page

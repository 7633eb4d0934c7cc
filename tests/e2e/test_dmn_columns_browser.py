"""Issue 18: "A process owner can ... edit cells, inputs and outputs" in the dmn-js decision table editor, the
column half, in Debian chromium, on approval_authority.dmn: owner1 renames the Grade input in dmn-js's input
editor, and (second test) adds an output column through the table's context menu and names it; each time the
policy diff says so in words and the deploy's version 2 holds the edited column, every other file unchanged.
A single click on a header only selects it: dmn-js opens its column editor on a double-click."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    deploy_shipped,
    live_url,
    log_in,
    page,
)
from webui.diagrams import deployment_files
from workflows.definitions.versions import get_definition

pytestmark = pytest.mark.browser

DMN = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "studio" / "dmn.js"
TABLE = "approval_authority.dmn"


def _files(app: Flask, version: int) -> dict[str, str]:
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        return deployment_files(session, get_definition(session, "credit_application", version))


def _open_table(app: Flask, page: Any) -> None:  # noqa: F811 (the fixture's page)
    """owner1 on credit_application v1's edit page, the authority table open in dmn-js."""
    deploy_shipped(app, "credit_application", "definition_approval")
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_function("() => document.querySelector('[data-bpmn-modeler]').dataset.state === 'ready'")
    page.locator(f'[data-dmn-file="{TABLE}"]').click()


def _deploy_version_2(page: Any) -> None:  # noqa: F811
    page.locator('[data-action="deploy"]').click()
    page.wait_for_function(
        "() => !document.querySelector('.modeler-status').textContent.includes('deploying')"
    )
    status = page.locator(".modeler-status").inner_text()
    assert status.startswith("Deployed credit_application version 2"), (
        status,
        page.locator(".problems li").all_inner_texts(),
        page.locator(".dmn-problems li").all_inner_texts(),
    )


def _diff_says(page: Any, words: str) -> None:  # noqa: F811
    """Wait for the policy diff to say `words`. Not dataset.checked alone: the answer about an earlier edit
    (the added column) can set it while the check of a later one (its label) waits on its 400 ms timer."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # optional, as in test_browser

    try:
        page.wait_for_function(
            "w => [...document.querySelectorAll('.dmn-diff li')].some(li => li.innerText.includes(w))",
            arg=words,
        )
    except PlaywrightTimeout:  # the assertion below names what the diff said instead
        pass
    diff = page.locator(".dmn-diff li").all_inner_texts()
    assert any(words in line for line in diff), diff


def test_owner_renames_an_input_column_reads_the_diff_and_deploys(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],  # the demo users, owner1 among them
) -> None:
    if not DMN.exists():
        pytest.skip("the decision table editor is not built; run `make setup` (it needs npm)")
    _open_table(app, page)
    header = page.locator('th.input-cell[data-col-id="grade_input"]')
    header.wait_for()
    # dmn-js opens its input editor on a double-click of the header (a single click only selects it).
    header.dblclick()
    label = page.locator(".context-menu .dms-input-label[contenteditable]")
    label.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Risk grade")
    # dmn-js applies the typed label after a short debounce: the header shows it once it is in the table.
    page.wait_for_function(
        "() => document.querySelector('th[data-col-id=grade_input] .input-label').innerText === 'Risk grade'"
    )
    page.locator(".dmn-editor h2").click()  # leave the editor, as a user does
    page.locator(".context-menu .ref-input-editor").wait_for(state="detached")
    _diff_says(page, "input 'Grade' renamed to 'Risk grade'")
    _deploy_version_2(page)
    old, new = _files(app, 1), _files(app, 2)
    assert '<input id="grade_input" label="Grade">' in old[TABLE]
    assert '<input id="grade_input" label="Risk grade">' in new[TABLE]
    assert "<text>grade</text>" in new[TABLE]  # the expression the engine reads is unchanged
    assert new[TABLE].count("<rule ") == old[TABLE].count("<rule ") == 8
    # dmn-js keeps the table's Chinese words (extensionElements properties, R21 F-12) through the edit.
    for words in ('name="name_zh"', 'name="label_zh"', 'name="description_zh"', 'value="建议额度（本位币）"'):
        assert new[TABLE].count(words) == old[TABLE].count(words) > 0, words
    assert {n: t for n, t in new.items() if n != TABLE} == {n: t for n, t in old.items() if n != TABLE}


def test_owner_adds_an_output_column_reads_the_diff_and_deploys(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],  # the demo users, owner1 among them
) -> None:
    """The table's context menu (right-click on the output header) adds a column; its editor (double-click)
    takes the label and the output name; the diff says so and version 2's table has both outputs."""
    if not DMN.exists():
        pytest.skip("the decision table editor is not built; run `make setup` (it needs npm)")
    _open_table(app, page)
    level = page.locator('th.output-cell[data-col-id="level_output"]')
    level.wait_for()
    level.click(button="right")
    page.locator(".context-menu-entry-add-output-right").click()
    added = page.locator('th.output-cell[data-col-id]:not([data-col-id="level_output"])')
    assert added.count() == 1
    added.dblclick()
    page.locator(".context-menu .dms-output-label[contenteditable]").click()
    page.keyboard.type("Reason")
    page.locator(".context-menu input.ref-output-name").fill("reason")
    page.wait_for_function(  # dmn-js applies the typed label after a short debounce
        "() => [...document.querySelectorAll('.output-label')].some(e => e.innerText === 'Reason')"
    )
    page.locator(".dmn-editor h2").click()  # leave the editor, as a user does
    page.locator(".context-menu .ref-output-editor").wait_for(state="detached")
    _diff_says(page, "output 'Reason' (reason) added")
    _deploy_version_2(page)
    old, new = _files(app, 1), _files(app, 2)
    assert 'name="reason"' not in old[TABLE] and old[TABLE].count("<output ") == 1
    assert re.search(r'<output id="[^"]+" label="Reason" name="reason"', new[TABLE]), new[TABLE]
    assert new[TABLE].count("<output ") == 2 and 'id="level_output"' in new[TABLE]
    assert new[TABLE].count("<outputEntry") == 2 * new[TABLE].count("<rule ") == 16
    assert {n: t for n, t in new.items() if n != TABLE} == {n: t for n, t in old.items() if n != TABLE}

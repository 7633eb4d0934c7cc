"""Issue 18: "A process owner can ... edit cells, inputs and outputs" in the dmn-js decision table editor, the
column half, in Debian chromium: owner1 opens approval_authority.dmn, double-clicks the Grade input's header
and renames it in dmn-js's input editor, reads the rename in the policy diff, and deploys; version 2's table
holds the new label, the same expression, and every other file unchanged. (A single click on a header only
selects it: dmn-js opens its column editor on a double-click.)"""

from __future__ import annotations

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


def test_owner_renames_an_input_column_reads_the_diff_and_deploys(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],  # the demo users, owner1 among them
) -> None:
    if not DMN.exists():
        pytest.skip("the decision table editor is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_function("() => document.querySelector('[data-bpmn-modeler]').dataset.state === 'ready'")
    page.locator(f'[data-dmn-file="{TABLE}"]').click()
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
    page.wait_for_function("() => !!document.querySelector('[data-dmn-editor]').dataset.checked")
    diff = page.locator(".dmn-diff li").all_inner_texts()
    assert any("input 'Grade' renamed to 'Risk grade'" in line for line in diff), diff
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
    old, new = _files(app, 1), _files(app, 2)
    assert '<input id="grade_input" label="Grade">' in old[TABLE]
    assert '<input id="grade_input" label="Risk grade">' in new[TABLE]
    assert "<text>grade</text>" in new[TABLE]  # the expression the engine reads is unchanged
    assert new[TABLE].count("<rule ") == old[TABLE].count("<rule ") == 8
    assert {n: t for n, t in new.items() if n != TABLE} == {n: t for n, t in old.items() if n != TABLE}

"""Issue 18's "also", in Debian chromium: two versions of a process compared side by side, the added, removed
and changed elements coloured by bpmn-js markers (canvas.addMarker) in each viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    live_url,
    log_in,
    page,
)
from tests.webui.test_definition_compare import _deploy_two_versions

pytestmark = pytest.mark.browser

GREEN, RED, AMBER = "rgb(47, 143, 70)", "rgb(168, 7, 26)", "rgb(199, 119, 0)"


def _marked(page: Any, side: str, marker: str, element_id: str) -> Any:  # noqa: F811
    return page.locator(f'[data-compare-side="{side}"] .djs-element.{marker}[data-element-id="{element_id}"]')


def _strokes(locator: Any) -> list[str]:
    """The strokes of the element's drawing (a shape's outline first; a flow's line among its paths)."""
    return list(
        locator.evaluate(
            "el => [...el.querySelectorAll('.djs-visual > *')].map(part => getComputedStyle(part).stroke)"
        )
    )


def test_two_versions_side_by_side_with_added_removed_and_changed_coloured(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    _deploy_two_versions(app, app.extensions["creditflow"].clock())
    log_in(page, "auditor1")  # auditors read the definitions too
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/2")
    page.locator("a[data-compare-link]").click()
    page.wait_for_selector('[data-compare-side="old"] [data-bpmn-viewer][data-state=ready]')
    page.wait_for_selector('[data-compare-side="new"] [data-bpmn-viewer][data-state=ready]')

    added = _marked(page, "new", "cf-added", "rescore_customer")
    removed = _marked(page, "old", "cf-removed", "to_analyst_decision")
    changed_old, changed_new = (
        _marked(page, side, "cf-changed", "record_ratings") for side in ("old", "new")
    )
    for locator in (added, removed, changed_old, changed_new):
        assert locator.count() == 1
    assert _strokes(added)[0] == GREEN and _strokes(changed_new)[0] == AMBER
    assert RED in _strokes(removed), _strokes(removed)
    # Each side carries only its own colours: nothing is "added" in the old one or "removed" in the new one.
    assert page.locator('[data-compare-side="old"] .djs-element.cf-added').count() == 0
    assert page.locator('[data-compare-side="new"] .djs-element.cf-removed').count() == 0
    assert page.locator('[data-compare-side="new"] .djs-element.cf-added').count() == 14
    assert _marked(page, "old", "cf-changed", "to_analyst_decision").count() == 0
    row = page.locator('tr[data-element="record_ratings"]')
    assert "changed" in row.inner_text() and "documentation" in row.inner_text()
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)

    # Picking the versions the other way round swaps the colours.
    page.select_option('select[name="from"]', "2")
    page.select_option('select[name="to"]', "1")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_selector('[data-compare-side="new"] [data-bpmn-viewer][data-state=ready]')
    assert _marked(page, "old", "cf-removed", "rescore_customer").count() == 1
    assert _marked(page, "new", "cf-added", "to_analyst_decision").count() == 1

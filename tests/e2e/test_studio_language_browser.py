"""Issue 20, the studio in the user's language, in Debian chromium: owner1 with language zh opens
credit_application's edit page and reads the editor's status, the palette, the properties panel (the library's
groups and creditflow's service-task entries) and the decision table editor (hit policy, When/Then, the rule
menu) in Chinese; after switching to English the same page reads in English. The labels reach bpmn-js and
dmn-js through their translate service (webui/static/studio/i18n.js, library_labels.js)."""

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
from tests.e2e.test_studio_browser import select
from workflows.store.db import transaction
from workflows.users import set_language

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "studio"


def _open_editor(page: Any) -> None:  # noqa: F811
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")


def _panel_groups(page: Any) -> list[str]:  # noqa: F811
    return page.locator(".bio-properties-panel-group-header-title").all_inner_texts()


def _open_table(page: Any) -> str:  # noqa: F811
    page.locator('[data-dmn-file="approval_authority.dmn"]').click()
    page.locator(".dmn-table .hit-policy").wait_for()
    return page.locator(".dmn-table").inner_text()


def test_a_zh_process_owner_reads_the_panel_and_the_decision_table_editor_in_chinese(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],  # the demo users, owner1 among them
) -> None:
    if not (VENDOR / "studio.js").exists() or not (VENDOR / "dmn.js").exists():
        pytest.skip("the studio is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        set_language(session, "owner1", "zh", svc.clock())
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    _open_editor(page)

    # modeler.js's status line and the palette (bpmn-js's own tooltips).
    assert page.locator(".modeler-status").inner_text() == "已加载。修改后可校验或部署。"
    palette = page.locator(".djs-palette .entry").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert "启用抓手工具" in palette and "创建任务" in palette and "创建开始事件" in palette, palette
    assert not [title for title in palette if "Create" in title or "Activate" in title], palette

    # A service task: the library's groups and creditflow's entries.
    select(page, "load_credit_file")
    groups = _panel_groups(page)
    assert "常规" in groups and "说明" in groups and "服务操作" in groups, groups
    assert not {"General", "Documentation", "Service operation"} & set(groups), groups
    panel = page.locator(".properties-panel").inner_text()
    assert "操作" in panel and "结果变量" in panel and "基于案件数据的 Python 表达式。" in panel, panel
    header = page.locator(".bio-properties-panel-header-type").inner_text()
    assert header.upper() == "服务任务", header  # the panel's header names the element's type

    # The decision table editor: hit policy, the columns' headings, a rule's context menu.
    table = _open_table(page)
    assert "命中策略：" in table and "Hit policy" not in table, table
    assert "条件" in table and "结果" in table and "When" not in table and "Then" not in table, table
    page.locator(".dmn-table tbody td.rule-index").first.click(button="right")
    menu = page.locator(".context-menu").inner_text()
    assert "在上方添加规则" in menu and "删除规则" in menu and "Add rule" not in menu, menu

    # The header's switch: the same page in English.
    page.locator('form.language button[value="en"]').click()
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")
    assert page.locator(".modeler-status").inner_text() == "Loaded. Edit, then validate or deploy."
    select(page, "load_credit_file")
    assert {"General", "Service operation"} <= set(_panel_groups(page))
    table = _open_table(page)
    assert "Hit policy:" in table and "命中策略" not in table, table

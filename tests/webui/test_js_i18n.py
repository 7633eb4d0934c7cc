"""Our scripts' sentences in the page's language (issue 20, webui/js_i18n.py): the JavaScript under
webui/static marks them with _("..."), babel.cfg extracts them into the catalogues, and every page embeds
the zh_Hans translations of exactly those msgids (a JSON data block static/i18n.js reads); English pages embed
none."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask

from tests.webui.test_language import as_user
from tests.webui.test_translations import catalogue, marked_in_code
from webui.js_i18n import embedded as page_block
from webui.js_i18n import js_translations, message_key

pytestmark = pytest.mark.usefixtures("shipped")

BLOCK = re.compile(r'<script type="application/json" id="creditflow-i18n">(.*?)</script>', re.S)


def scripts_msgids() -> set[str]:
    """The translated msgids the catalogue locates in our scripts, a library's label as "context\x04msgid"."""
    return {
        f"{m.context}\x04{m.id}" if m.context else m.id
        for m in catalogue("zh_Hans")
        if m.id
        and isinstance(m.id, str)
        and m.string
        and any(f.startswith("webui/static/") for f, _l in m.locations)
    }


def test_the_scripts_sentences_are_extracted_and_only_they_are_embedded() -> None:
    in_scripts = scripts_msgids()
    # the editors' status lines, from modeler.js, dmn_editor.js and diagram.js
    assert {"Validating…", "Valid: the diagram passes every check.", "(v%(version)s)"} <= in_scripts
    assert "Validating…" in marked_in_code()
    embedded = js_translations("zh_Hans")
    assert set(embedded) == in_scripts
    assert embedded["Validating…"] == "正在校验…"
    assert "Log out" not in embedded  # a template's msgid stays on the server
    assert js_translations("en") == {}
    # No two msgids share a key (embedded raises if they do), with the libraries' labels too.
    assert len(page_block("zh_Hans", libraries=True)) == len(embedded_all := js_translations("zh_Hans"))
    assert message_key("Validating…") == "396ffe68"  # the value static/i18n.js computes (node, same bytes)
    assert embedded_all


def test_the_libraries_labels_have_their_own_context_and_keep_their_placeholders() -> None:
    embedded = js_translations("zh_Hans")
    # dmn-js's "When" (a rule's conditions) is not the "When" of our pages' history tables (时间).
    assert embedded["dmn-js\x04When"] == "条件" and embedded["dmn-js\x04Then"] == "结果"
    assert embedded["bpmn-js\x04General"] == "常规" and embedded["bpmn-js\x04User task"] == "用户任务"
    assert embedded["bpmn-js\x04Open {element}"] == "打开 {element}"
    for key, text in embedded.items():
        if "\x04" in key:  # the libraries fill {name} placeholders themselves
            assert set(re.findall(r"{[^}]+}", text)) == set(re.findall(r"{[^}]+}", key)), key


def test_a_zh_page_embeds_the_translations_and_an_english_page_none(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    zh = as_user(app, "analyst1", "zh").get("/inbox").get_data(as_text=True)
    block = BLOCK.search(zh)
    assert block, "base.html embeds the scripts' translations"
    messages = json.loads(block.group(1))
    # Keyed by a hash of the msgid (message_key), so the page carries no English sentence; the editors'
    # library labels only on the editors' pages.
    assert messages == page_block("zh_Hans", libraries=False)
    assert message_key("dmn-js\x04When") not in messages and message_key("Validating…") in messages
    fix = "%(count)s problem(s): fix them before deploying."
    assert messages[message_key(fix)] == "存在 %(count)s 个问题，请修正后再部署。"
    assert "problem(s)" not in block.group(1) and "Validating" not in block.group(1)
    # static/i18n.js reads the block before the page's other scripts run (not deferred; before htmx, app.js)
    assert zh.index('id="creditflow-i18n"') < zh.index("static/i18n.js") < zh.index("static/app.js")
    en = as_user(app, "sales1", "en").get("/inbox").get_data(as_text=True)
    assert json.loads(BLOCK.search(en).group(1)) == {}  # type: ignore[union-attr]


def test_a_translation_holding_a_closing_script_tag_cannot_end_the_block(app: Flask) -> None:
    # The page writes the block with Jinja's tojson, which escapes <, > and &.
    with app.app_context():
        written = app.jinja_env.from_string("{{ m | tojson }}").render(m={"x": "</script><b>"})
    assert "</script>" not in written and json.loads(written) == {"x": "</script><b>"}

"""Where a figure's policy came from, in the page's language: a deployed decision table
("provision_matrix.dmn of dunning v1", as workflows/credit stores it) and the provision run a dashboard row
was read from.

The stored source is English text made of data (the file name) and code (the process key): a Chinese page
names the process as its diagram does (催收流程, not "dunning") and the table by the name its DMN gives it
in Chinese before the file name kept as it is (webui/definition_tables.table_name), marked as data
(`data-value`) where the page is HTML.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext
from markupsafe import Markup, escape

from webui.definition_tables import table_name
from webui.diagram_names import key_label
from webui.group_labels import actor_label
from webui.i18n import current_language
from webui.page_dates import format_day
from workflows.definitions.display_names import ENGLISH
from workflows.messages import Text

# "<file> of <process key> v<version>" (workflows/credit/provision_matrix.py and its siblings).
_SOURCE = re.compile(r"(?P<file>\S+) of (?P<process>[\w.-]+) v(?P<version>\d+)")


def _said(source: str, file: str) -> str:
    found = _SOURCE.fullmatch(source)
    if found is None:
        if " of " not in source:
            return source
        table, process = source.split(" of ", 1)
        return str(gettext("%(table)s of %(process)s", table=file, process=key_label(process)))
    return str(
        gettext(
            "%(file)s of %(process)s v%(version)s",
            file=file,
            process=key_label(found["process"]),
            version=found["version"],
        )
    )


def _file(source: str) -> str:
    """The source's file, after the table's name where its DMN gives one in the page's language (name_zh):
    “集中度上限”（concentration_cap.dmn）. Called on non-English pages only."""
    found = _SOURCE.fullmatch(source)
    if found is not None:
        file, process, version = found["file"], found["process"], int(found["version"])
    else:
        file, process = source.split(" of ", 1)
        version = None
    name = table_name(process, version, file)
    return f"“{name}”（{file}）" if name else file


def source_text(source: str | None) -> str | None:
    """A deployed decision table's name as plain text (a tooltip): 催收流程 第 1 版的
    “坏账准备计提矩阵（IFRS 9 简化方法）”（provision_matrix.dmn）; English pages show it as stored."""
    if source is None or current_language() == ENGLISH:
        return source
    if _SOURCE.fullmatch(source) is None and " of " not in source:
        return source
    return _said(source, _file(source))


def source_html(source: str | None) -> Markup | None:
    """The same in a page's text, the file name marked as stored data."""
    if source is None:
        return None
    if current_language() == ENGLISH:
        return escape(source)
    found = _SOURCE.fullmatch(source)
    if found is None and " of " not in source:
        return Markup('<span data-value="">%s</span>') % source
    file = _file(source)
    # The catalogue's sentence is filled with a placeholder token, escaped, then the marked file put in.
    token = "\x00file\x00"
    said = escape(_said(source, token))
    return Markup(str(said).replace(token, str(Markup('<span data-value="">%s</span>') % file)))


def snapshot_title(snapshot: Any) -> str:
    """A dashboard aging row's "read from" note ("provision run of 30 Nov 2026 (...), posted by system") in
    the page's language: the day as the page writes days (English too), the table by source_text,
    creditflow itself as 系统. workflows/credit/aging_snapshots.py makes it a Text with those parameters."""
    if not isinstance(snapshot, Text):
        return "" if snapshot is None else str(snapshot)
    params = snapshot.params
    return str(
        gettext(
            snapshot.msgid,
            day=format_day(params["day"]),
            matrix=source_text(str(params["matrix"])) or "",
            name=actor_label(str(params["name"])),
        )
    )

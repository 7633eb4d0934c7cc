"""Every audit action our code records by keyword (`action="..."`) has a label (webui.i18n.ACTION_LABELS):
the audit page, histories and timelines otherwise show the code with spaces ("provision booked") on a zh
page (R22-4)."""

from __future__ import annotations

import re
from pathlib import Path

from webui.i18n import ACTION_LABELS

ROOT = Path(__file__).resolve().parents[2]
# action="x", and the other branch of action="x" if ... else "y" (record_event's keyword)
_ACTION = re.compile(r'\baction="([a-z_]+)"(?:\s+if\s[^\n]*?\selse\s+"([a-z_]+)")?')


def recorded_actions() -> set[str]:
    found: set[str] = set()
    for package in ("workflows", "handlers", "webui"):
        for path in (ROOT / package).rglob("*.py"):
            for match in _ACTION.finditer(path.read_text(encoding="utf-8")):
                found.update(a for a in match.groups() if a)
    return found


def test_every_action_our_code_records_has_a_label() -> None:
    actions = recorded_actions()
    assert {"provision_booked", "definition_rejected", "provision_released"} <= actions  # the scan finds them
    assert sorted(actions - ACTION_LABELS.keys()) == []

"""Days in task instructions as their reader writes them (issue 20, R21's F-7): the `day` filter beside
`money`, used by the shipped dunning call and promise approval texts, which printed ISO days to zh readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workflows.engine.task_texts import render_instructions, renders_in_process

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"


def _texts(task_id: str) -> dict[str, str]:
    """A shipped dunning task's English and Chinese instructions templates."""
    root = ET.parse(Path("bpmn/dunning.bpmn")).getroot()
    [task] = [t for t in root.iter(f"{BPMN}userTask") if t.get("id") == task_id]
    english = task.find(f".//{SPIFF}instructionsForEndUser")
    assert english is not None and english.text
    [chinese] = [
        p.get("value") or "" for p in task.iter(f"{SPIFF}property") if p.get("name") == "instructions_zh"
    ]
    return {"en": english.text, "zh": chinese}


@pytest.mark.parametrize(
    ("task_id", "data", "days"),
    [
        (
            "call_customer",
            {
                "case": {"customer_name": "上海精密零件有限公司", "currency": "CNY"},
                "review": {"overdue": "120000.00", "oldest_due": "2026-03-02"},
            },
            {"en": "(oldest due 2 Mar 2026)", "zh": "（最早到期日 2026年3月2日）"},
        ),
        (
            "approve_promise",
            {
                "case": {"customer_name": "Slowpay", "currency": "EUR"},
                "promise_record": {
                    "recorded_by": "collector1",
                    "promised_date": "2026-05-01",
                    "amount": "100.00",
                    "outside": [],
                },
            },
            {"en": "by 1 May 2026", "zh": "于 2026年5月1日 前支付"},
        ),
    ],
)
def test_the_dunning_texts_write_days_as_their_reader_does(
    task_id: str, data: dict[str, object], days: dict[str, str]
) -> None:
    for language, template in _texts(task_id).items():
        assert renders_in_process(template), template  # no loop: rendered in the server
        text = render_instructions(template, data, language=language)
        assert days[language] in text, text
        assert "2026-0" not in text, text


def test_the_day_filter_leaves_what_is_not_a_day() -> None:
    template = "{{ a | day }}|{{ b | day }}|{{ c | day }}|{{ d | day }}"
    data = {"a": "not a day", "b": 7, "c": None, "d": "2026-02-30"}
    assert render_instructions(template, data, language="zh") == "not a day|7||2026-02-30"

"""Which sentences still write a value as Python's repr (%(name)r), and how they read in Chinese (issue 20,
R21 follow-up of the quote change c01c5ed): only a value that may be any JSON or Python value (a number a
DMN cell gave, a decision's inputs, a form's typed value, None) keeps the repr, which tells its type; a
value that is always text (a file, lane, decision id, column label, timer text, enum key, pattern match,
completed step) is quoted as text, '%(name)s' in English and “%(name)s” in Chinese
(tests/webui/test_quoted_values.py)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations

from workflows.definitions.dmn_diff import _COLUMN_SAYS
from workflows.messages import Text, translated

CATALOGUE = Path("webui/translations/zh_Hans/LC_MESSAGES/messages.po")

# msgid -> why the value may be of any type
ANY_VALUE = {
    "credit.score: %(file)s scorecard %(scorecard)s for %(segment)s gives %(factor)s weight %(weight)r; "
    "each weight is a whole number 0-100": "a DMN cell",
    "credit.score: %(file)s decision %(decision)s gives %(pct)r for collateral kind '%(kind)s'; "
    "it must give counted_pct 0-100": "a DMN cell",
    "dunning.escalate: the fee %(fee)r is not an amount": "a DMN cell",
    "dunning.escalate: the fee %(fee)r is not an amount from 0.00 to 1,000,000.00": "a DMN cell",
    '%(source)s gives cap_percent %(value)r; a number such as Decimal("10")': "a DMN cell",
    "%(file)s gives no level_1_days for grade '%(grade)s': %(days)r": "a DMN cell",
    "%(source)s gives bucket %(bucket)r for %(days)s days past due; each row names one bucket (%(buckets)s): "
    "fix the table and deploy it with dunning": "a DMN cell, None when no row matches",
    "%(source)s gives rate %(rate)r for %(days)s days past due; a rate is a decimal fraction from 0 to 1 "
    'such as Decimal("0.02")': "a DMN cell",
    "%(source)s: decision '%(rules_decision)s' failed on %(inputs)r: %(problem)s": "a decision's inputs",
    "decision '%(decision)s' failed on %(inputs)r: %(problem)s": "a decision's inputs",
    "service parameter %(id)r (a Python expression)": "None when the modeler set no id",
    "%(key)s %(value)r at %(where)s: %(problem)s": "any keyword's value of a form",
    "%(value)r was expected": "a form's const, any JSON value",
    "%(where)s: %(value)r is not a valid %(type)s": "a service task's input, any JSON value",
    "%(where)s: %(value)r is not a number": "a service task's input, any JSON value",
    "%(where)s: %(value)r is not a finite number": "a service task's input, any JSON value",
    "%(where)s: %(value)r is too large; amounts go up to %(limit)s": "a service task's input",
}


def _catalogue() -> dict[str, str]:
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="zh_Hans")
    return {str(m.id): str(m.string) for m in catalogue if m.id and isinstance(m.id, str)}


def test_only_values_of_any_type_are_written_as_reprs_and_read_well_in_chinese() -> None:
    zh = _catalogue()
    reprs = {msgid for msgid in zh if re.search(r"%\(\w+\)r", msgid)}
    assert reprs == set(ANY_VALUE), sorted(reprs ^ set(ANY_VALUE))
    for msgid in reprs:
        said = zh[msgid]
        # The repr brings its own quotes for text: none around it, and the sentence is Chinese.
        assert not re.search(r"[“'\"]%\(\w+\)r|%\(\w+\)r[”'\"]", said), said
        assert re.search(r"[\u4e00-\u9fff]", said), said


def test_a_text_value_reads_in_chinese_quotes() -> None:
    gettext = Translations.load("webui/translations", ["zh_Hans"]).gettext
    renamed = Text(_COLUMN_SAYS["input"]["renamed"].msgid, old="Grade", new="Risk grade")
    assert renamed == "input 'Grade' renamed to 'Risk grade'"  # English as before
    assert translated(renamed, gettext) == "输入列“Grade”更名为“Risk grade”"
    four_eyes = Text(
        "Four-eyes rule: %(user)s already completed '%(done)s' on this case and may not also complete "
        "'%(task)s'.",
        user="manager1",
        done="Approve the write-off",
        task="CFO approval",
    )
    assert translated(four_eyes, gettext) == (
        "双人复核规则：manager1 已在本案件中办理了“Approve the write-off”，不能再办理“CFO approval”。"
    )

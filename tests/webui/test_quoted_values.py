"""A value a sentence quotes reads in the reader's quotes (issue 20 leftover): the English msgid writes
'%(name)s' (so English is unchanged from the %(name)r it replaced: 'nope'), and its zh msgstr “%(name)s” —
not the ASCII quotes of a repr inside Chinese text. Left as %(name)r on purpose: a parameter that is any
JSON value (a form's typed value, a decision's inputs, a DMN column), where the repr tells its type."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = Path("webui/translations/zh_Hans/LC_MESSAGES/messages.po")


def test_every_quoted_value_reads_in_chinese_quotes_in_zh() -> None:
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="zh_Hans")
    quoted = 0
    for message in catalogue:
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        said = message.string if isinstance(message.string, str) else message.string[0]
        for name in re.findall(r"'%\((\w+)\)s'", msgid or ""):
            quoted += 1
            assert f"“%({name})s”" in said and f"'%({name})s'" not in said, (msgid, said)
        # No zh sentence puts a value in ASCII quotes of its own either.
        assert not re.search(r"'%\(\w+\)[sr]'", said or ""), (msgid, said)
    assert quoted >= 80  # the msgids that used %(name)r for a text value

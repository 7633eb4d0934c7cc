"""A diagram's names are said on one line (display_names.one_line): a line break, a tab or a Unicode line
separator is one space, other control characters are left out, and a name of blanks is no name (the
process key stands for it). And a handler's exception is said as its sentences (errors.message_of), never
as a Python tuple."""

from __future__ import annotations

import pytest

from workflows.definitions.display_names import ENGLISH, one_line, read_names
from workflows.engine.service_tasks import HandlerInputError
from workflows.errors import message_of
from workflows.messages import _


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("P\nERROR forged line", "P ERROR forged line"),
        ("  Credit\r\n\tapplication \u2028 ", "Credit application"),
        ("Re\x85view\x1b[31m", "Re view[31m"),  # NEL is white space; ESC is left out
        ("\u202eevil\u202c", "\u202eevil\u202c"),  # format characters are the author's: said as typed
        ("信用 申请", "信用 申请"),
        ("   ", ""),
        (None, ""),
    ],
)
def test_one_line(name: str | None, said: str) -> None:
    assert one_line(name) == said


def test_a_process_named_by_blanks_has_no_name_in_any_language() -> None:
    bpmn = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">'
        '<bpmn:process id="p" name="  &#10; " isExecutable="true"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="name_zh" value="信用&#10;申请" />'
        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:process></bpmn:definitions>"
    )
    names = read_names(bpmn, "p")
    assert names.process == {"zh": "信用 申请"}
    assert names.process_name(ENGLISH, "p") == "p" and names.process_name("zh", "p") == "信用 申请"
    assert str(names.process_words("p")) == "p"  # said by its key in English, by its name in Chinese


def test_an_exception_is_said_as_its_sentences() -> None:
    assert message_of(HandlerInputError()) == ""
    assert message_of(HandlerInputError(" ")) == " "  # one sentence: as raised (refusals says a blank one)
    assert message_of(HandlerInputError("first", "second")) == "first; second"
    assert message_of(HandlerInputError("first", "")) == "first"
    refused = _("The value '%(value)s' is refused.", value="x")
    assert message_of(HandlerInputError(refused)) is refused  # a Text stays one (said in the reader's words)
    assert message_of(OSError(2, "No such file")) == "[Errno 2] No such file"  # its own way of saying it
    assert message_of(KeyError("k")) == "k"
